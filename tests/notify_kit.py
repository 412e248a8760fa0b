"""What the notification tests share: the merchants' sample verifier from the docs, a merchant's receiver
served by uvicorn on 127.0.0.1, fast settings, and a patient wait."""

from __future__ import annotations

import asyncio
import functools
import re
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tradepay._config import NotificationSettings

sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.server_kit import LiveServer, free_port
else:
    from server_kit import LiveServer, free_port

DOCS = Path(__file__).resolve().parent.parent / "docs"
_BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


#: A schedule of milliseconds and timeouts well under a second: a test's whole schedule runs at once.
_FAST: dict[str, Any] = {
    "first_retry_s": 0.001,
    "max_retry_s": 0.004,
    "connect_timeout_s": 0.5,
    "write_timeout_s": 0.5,
    "read_timeout_s": 0.3,
    "pool_timeout_s": 0.5,
    "lease_s": 5.0,
    "idle_s": 0.01,
}


def fast_settings(**changes: Any) -> NotificationSettings:
    """Notification settings for tests: the schedule in milliseconds, timeouts under a second."""
    return NotificationSettings(**{**_FAST, **changes})


@functools.cache
def docs_sample() -> types.ModuleType:
    """The merchants' verifier of ``docs/notifications.md`` (the Python block defining ``NotificationInbox``),
    run as a module of its own: the tests use the very code the docs show."""
    text = (DOCS / "notifications.md").read_text(encoding="utf-8")
    (code,) = [block for block in _BLOCK.findall(text) if "class NotificationInbox" in block]
    module = types.ModuleType("notification_sample")
    exec(compile(code, "docs/notifications.md", "exec"), module.__dict__)  # noqa: S102 - the docs' own sample
    return module


class Receiver:
    """A merchant's notification endpoint at ``/notify`` that verifies with the docs' sample.

    ``script`` says how the first requests are answered, one word each (``fail`` a 500, ``slow`` sleeping
    ``slow_s`` before answering, ``garbage`` a body that is not JSON, ``redirect`` a 302, ``huge`` a body
    larger than the cap, ``nack`` a JSON refusal); once spent, every verified request is acknowledged.
    ``inflight_overlaps`` counts requests for a notification id that arrived while another for the same id
    was being answered."""

    def __init__(self, inbox: Any, script: list[str] | None = None, *, slow_s: float = 1.0) -> None:
        self.inbox = inbox
        self.script = list(script or [])
        self.slow_s = slow_s
        self.outcomes: Counter[str] = Counter()
        self.deliveries: Counter[str] = Counter()  # notification id -> verified requests
        self.inflight: Counter[str] = Counter()
        self.inflight_overlaps = 0
        self.bodies: dict[str, set[bytes]] = {}  # notification id -> the distinct bodies it came with
        self.delay_s = 0.0  # every request waits this long first: overlapping deliveries get the time to overlap
        self.lock = threading.Lock()
        self.app = Starlette(routes=[Route("/notify", self.notify, methods=["POST"])])

    async def notify(self, request: Request) -> Response:
        body = await request.body()
        with self.lock:
            step = self.script.pop(0) if self.script else "ok"
        self.outcomes[step] += 1
        event_id = _event_id(body)
        self.inflight[event_id] += 1
        if self.inflight[event_id] > 1:
            self.inflight_overlaps += 1
        try:
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            return await self._answer(step, request, body, event_id)
        finally:
            self.inflight[event_id] -= 1

    async def _answer(self, step: str, request: Request, body: bytes, event_id: str) -> Response:
        if step == "fail":
            return Response("boom", 500)
        if step == "slow":
            await asyncio.sleep(self.slow_s)
        if step == "garbage":
            return Response(b"\x1b]0;owned\x07 not json", 200)
        if step == "redirect":
            return Response(status_code=302, headers={"Location": "https://elsewhere.example/notify"})
        if step == "huge":
            return Response(b"x" * (200 * 1024), 200)
        if step == "nack":
            return JSONResponse({"result": {"resultStatus": "F", "resultCode": "BUSY\nnext line"}})
        status, answer, what = self.inbox.receive(request.headers, body)
        self.outcomes[what] += 1
        if what != "refused":
            self.deliveries[event_id] += 1
            self.bodies.setdefault(event_id, set()).add(body)
        return JSONResponse(answer, status)


@contextmanager
def serving_merchant(host_public_pem: str) -> Iterator[tuple[Receiver, str]]:
    """A :class:`Receiver` of merchant ``shop-1`` that trusts the host key ``host_public_pem``, served by
    uvicorn on 127.0.0.1, and its notification URL."""
    inbox = docs_sample().NotificationInbox(host_public_pem.encode(), "shop-1", "/notify")
    receiver = Receiver(inbox)
    with LiveServer(receiver.app, free_port()) as server:  # type: ignore[arg-type]
        yield receiver, f"{server.url}/notify"


def _event_id(body: bytes) -> str:
    import json

    try:
        return str(json.loads(body).get("notificationId", "?"))
    except ValueError:
        return "?"


def wait_for(condition: Callable[[], bool], timeout_s: float = 30.0, what: str = "the condition") -> None:
    """Poll ``condition`` until it holds (a test's bound, not a timed assertion)."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen within {timeout_s} s")
        time.sleep(0.01)
