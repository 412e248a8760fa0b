"""The ASGI application: one FastAPI app that assembles the routers, each in a module of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tradepay import Host, PaymentService

from . import _cashier, _client_api, _merchant_api, _operations
from ._state import ServerState

__all__ = ["create_app"]


def create_app(host: Host) -> FastAPI:
    """The server for ``host``: the merchant API, the client API, the cashier page and the operations
    endpoints. The application owns a :class:`~tradepay.PaymentService` over ``host`` and closes it on
    shutdown; the caller keeps owning ``host``."""
    state = ServerState(host, PaymentService(host))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            state.service.close()

    app = FastAPI(title="tradepay", lifespan=lifespan)
    app.state.tradepay = state
    for module in (_merchant_api, _client_api, _cashier, _operations):
        app.include_router(module.router)
    return app
