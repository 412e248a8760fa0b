"""Every request logged, with its request id, as ASGI middleware.

The request id is the request's ``X-Request-Id`` when it is an identifier (1 to 64 of ``A-Za-z0-9-_.:``), else
a new one; it is returned in the answer's ``X-Request-Id`` and bound in structlog's context variables for the
whole request, so every event logged while the request pays (``attempt.finished``, ``payment.finished``)
carries it when logging is configured with ``configure_logging``. One ``http.request`` event per request:
method, route (the path template), status, duration, and the merchant or user when one was established.
"""

from __future__ import annotations

import re
import time

import structlog

from .._ledger.ids import random_hex
from .._logging import get_logger
from .asgi import ASGIApp, HttpMiddleware, Message, Receive, Scope, Send
from .metrics import Metrics

__all__ = ["REQUEST_ID_HEADER", "RequestLog"]

REQUEST_ID_HEADER = "X-Request-Id"
_ID = re.compile(rb"[A-Za-z0-9\-_.:]{1,64}")
_log = get_logger("tradepay.server")


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id" and _ID.fullmatch(value):
            return str(value.decode())
    # 32 random hex digits, as ``uuid.uuid4().hex`` gave, from the ids' pool: 0.5 µs against 2.0 (docs/performance.md).
    return random_hex(16)


class RequestLog(HttpMiddleware):
    """Log each HTTP request once (``http.request``) and count it in ``metrics``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        super().__init__(app)
        self.metrics = metrics

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        request_id = _request_id(scope)
        state = scope.setdefault("state", {})
        status = 500  # unless an answer starts: the connection failed before any

        async def answered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message["headers"] = [*message.get("headers", ()), (b"x-request-id", request_id.encode())]
            await send(message)

        started = time.perf_counter()
        # Bound, then reset to what it was, by the variable's token: what ``bound_contextvars`` does, without its
        # generator and the copy of every bound value (1.0 µs against 4.3 per request; docs/performance.md).
        tokens = structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, answered)
        finally:
            try:
                route = getattr(scope.get("route"), "path", "unmatched")
                method = str(scope.get("method", ""))
                self.metrics.labelled(self.metrics.http_requests, route, method, str(status)).inc()
                _log.info(
                    "http.request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round((time.perf_counter() - started) * 1000, 3),
                    merchant=state.get("merchant"),
                    user=state.get("user"),
                )
            finally:
                structlog.contextvars.reset_contextvars(**tokens)
