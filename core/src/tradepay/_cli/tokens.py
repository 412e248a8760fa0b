"""``tradepay tokens issue USER``: a bearer token the server's built-in authenticator accepts for USER."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from .render import echo_text

if TYPE_CHECKING:
    from .main import _State

__all__ = ["register"]

#: The longest --ttl: a year. A token cannot be revoked before it expires; keep them short.
MAX_TTL_S = 365 * 24 * 3600


def register(cli: click.Group) -> None:
    """Add ``tokens`` to ``cli``."""

    @cli.group()
    def tokens() -> None:
        """Bearer tokens of the server's built-in authenticator."""

    @tokens.command("issue")
    @click.argument("user")
    @click.option(
        "--ttl",
        "ttl_s",
        default=3600,
        show_default=True,
        type=click.IntRange(1, MAX_TTL_S),
        metavar="SECONDS",
        help="How long the token is valid.",
    )
    @click.pass_obj
    def issue(state: _State, user: str, ttl_s: int) -> None:
        """Print a token for USER, signed by the host's key (server-key.pem in host.data_dir)."""
        import time

        from .._ledger.orders import check_trade_no
        from .._spi.errors import InvalidInput

        try:
            check_trade_no(user, "USER")
        except InvalidInput as exc:
            raise click.BadParameter(exc.reason, param_hint="'USER'") from None
        try:
            from ..server.signing import load_host_key
            from ..server.tokens import issue_token
        except ImportError:
            raise click.ClickException("tokens need the server extra: pip install 'tradepay[server]'") from None
        host = state.host()  # the host the server runs: a broken configuration, data directory or ledger says so
        key = load_host_key(Path(host.settings.data_dir))
        echo_text(issue_token(key, user, ttl_s, now=time.time()))
