"""``tradepay tokens issue USER``: a bearer token the server's built-in authenticator accepts for USER."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from .render import echo_json, echo_text

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
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def issue(state: _State, user: str, ttl_s: int, as_json: bool) -> None:
        """Print a token for USER, signed by the host's key (server-key.pem in host.data_dir)."""
        import time

        from .._config import ensure_data_dir
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
        key = load_host_key(ensure_data_dir(state.load_config()))
        now = time.time()
        token = issue_token(key, user, ttl_s, now=now)
        if as_json:
            echo_json({"user": user, "token": token, "expiresAt": int(now + ttl_s)})
        else:
            echo_text(token)
