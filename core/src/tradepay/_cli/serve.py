"""``tradepay serve``: the HTTP server (uvicorn) of the configured host."""

from __future__ import annotations

import json
import math
import os
import socket
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from .main import _State

__all__ = ["register", "shared_ledger_problem"]


def shared_ledger_problem(url: str | None, workers: int) -> str | None:
    """Why ``workers`` processes cannot share the ledger at ``url`` (``None`` when they can): only PostgreSQL
    is shared by several processes serving at once."""
    if workers <= 1 or (url or "").startswith("postgresql://"):
        return None
    kind = "an in-memory ledger" if url == "memory" else "the SQLite ledger"
    return (
        f'--workers {workers} needs a PostgreSQL ledger ([ledger] url = "postgresql://..."): {kind} serves one worker'
    )


def check_listening(host: str, port: int) -> None:
    """Refuse, as one ``Error:`` line (exit 1), an address the server cannot listen on (taken, not this
    machine's, not allowed), before uvicorn starts: uvicorn would log its own line and exit 3."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, address = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
            probe.bind(address)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason.lower()}") from None


def _finite(param: click.Parameter, value: float) -> float:
    if not math.isfinite(value):
        raise click.BadParameter(f"{value} is not a number of seconds", param=param)
    return value


def register(cli: click.Group) -> None:
    """Add ``serve`` to ``cli``."""

    @cli.command()
    @click.option("--host", "bind", default="127.0.0.1", show_default=True, help="The address to listen on.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="The port.")
    @click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 256), help="Worker processes.")
    @click.option(
        "--clock-skew",
        "clock_skew_s",
        default=300.0,
        show_default=True,
        type=click.FloatRange(min=0, min_open=True, max=86400),
        callback=lambda _ctx, param, value: _finite(param, value),
        help="Seconds a signed request's Request-Time may be off the host's clock (at most a day).",
    )
    @click.option(
        "--max-body-bytes",
        default=64 * 1024,
        show_default=True,
        type=click.IntRange(1, 64 * 1024 * 1024),
        help="The largest request body read; larger ones get 413.",
    )
    @click.pass_context
    def serve(ctx: click.Context, bind: str, port: int, workers: int, clock_skew_s: float, max_body_bytes: int) -> None:
        """Serve the merchant API, the client API and the cashier page over HTTP (uvicorn)."""
        state: _State = ctx.obj
        config = state.load_config()
        problem = shared_ledger_problem(config.ledger.url, workers)
        if problem is not None:
            raise click.UsageError(problem)
        # The host is built once here, and closed, so that a broken configuration, data directory, ledger or
        # provider is one error line now rather than a failure inside every worker.
        state.host(reconcile=False)
        state.close()
        check_listening(bind, port)
        try:
            import uvicorn

            from ..server.main import LOGGING_ENV, SETTINGS_ENV
        except ImportError:
            raise click.ClickException("the server needs its extra: pip install 'tradepay[server]'") from None
        from .._config import CONFIG_ENV
        from ..server.settings import ServerSettings

        settings = ServerSettings(clock_skew_s=clock_skew_s, max_body_bytes=max_body_bytes)
        if config.path is not None:
            os.environ[CONFIG_ENV] = str(config.path.resolve())
        os.environ[SETTINGS_ENV] = json.dumps(
            {"clock_skew_s": settings.clock_skew_s, "max_body_bytes": settings.max_body_bytes}
        )
        # Worker processes start afresh: they configure logging as the command line's options say.
        group = ctx.find_root().params
        os.environ[LOGGING_ENV] = json.dumps({"fmt": group["log_format"], "level": group["log_level"]})
        uvicorn.run(
            "tradepay.server.main:app_from_environment",
            factory=True,
            host=bind,
            port=port,
            workers=workers,
            access_log=False,
            log_config=None,
        )
