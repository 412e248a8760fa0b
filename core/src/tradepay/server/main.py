"""The app ``tradepay serve`` runs in each uvicorn worker: built from the configuration the command found.

The command passes what it was given through the environment, so that every worker process builds the same
app: ``TRADEPAY_CONFIG``, ``TRADEPAY_SERVER_SETTINGS`` (JSON of :class:`ServerSettings`) and
``TRADEPAY_SERVER_LOGGING`` (the logging options).

Each worker process also runs one notification delivery worker on its event loop while it serves, unless
``[notifications] enabled = false``: it starts with the app's lifespan and stops (its batch in flight
finished) before the host is closed.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from .._config import CONFIG_ENV, load_config
from .._host import Host
from .._logging import configure_logging
from .app import create_app
from .notify_worker import NotifyWorker
from .settings import ServerSettings

__all__ = ["LOGGING_ENV", "SETTINGS_ENV", "app_from_environment"]

SETTINGS_ENV = "TRADEPAY_SERVER_SETTINGS"
#: ``{"fmt", "level"}`` of :func:`tradepay.configure_logging`, from the command line's global options.
LOGGING_ENV = "TRADEPAY_SERVER_LOGGING"


def app_from_environment() -> FastAPI:
    """The server of the host ``$TRADEPAY_CONFIG`` describes (unsettled payments reconciled first, as
    ``ledger.reconcile_on_start`` says), with the settings of ``$TRADEPAY_SERVER_SETTINGS``; the host is
    closed when the worker stops."""
    logging = os.environ.get(LOGGING_ENV)
    if logging:
        configure_logging(**json.loads(logging))
    settings = ServerSettings(**json.loads(os.environ.get(SETTINGS_ENV) or "{}"))
    config = load_config(os.environ.get(CONFIG_ENV))
    host = Host.from_config(config)
    app = create_app(host, settings)
    serve = app.router.lifespan_context
    notify = config.notifications

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        worker = None
        if notify.enabled:
            deliverer = NotifyWorker(host.ledger, app.state.tradepay.key, notify, observer=app.state.metrics)
            worker = asyncio.create_task(deliverer.run(stop), name="tradepay-notify")
        try:
            async with serve(application):
                yield
        finally:
            stop.set()
            if worker is not None:
                await worker
        app.state.tradepay.service.close()
        host.close()

    app.router.lifespan_context = lifespan
    return app
