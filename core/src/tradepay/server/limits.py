"""The body size limit, as ASGI middleware: a body over ``max_bytes`` is answered 413 before it is parsed.

A declared ``Content-Length`` over the limit is refused at once; a body without one (chunked) is counted as it
arrives and refused as soon as it passes the limit, so a huge body is never held in memory.
"""

from __future__ import annotations

import json

from .asgi import ASGIApp, HttpMiddleware, Message, Receive, Scope, Send
from .errors import ApiError

__all__ = ["BodyLimit", "BodyTooLarge"]


class BodyTooLarge(ApiError):
    """Raised while a body is read past the limit: the app's handler answers it 413 like any refusal."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, "PARAM_ILLEGAL", f"the request body is larger than {max_bytes} bytes")


class BodyLimit(HttpMiddleware):
    """Refuse request bodies larger than ``max_bytes`` with ``413`` and a ``result`` naming the limit."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        for name, value in scope.get("headers", ()):
            if name == b"content-length" and (not value.isdigit() or int(value) > self.max_bytes):
                await self._refuse(send)
                return
        seen = 0
        started = False

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, watched)
        except BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(BodyTooLarge(self.max_bytes).body()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
