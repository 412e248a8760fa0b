"""The delivery worker: lease due notifications, deliver them a few at a time, record each outcome.

One loop per process (in each ``tradepay serve`` worker, or ``tradepay notify --follow``): it leases up to
``concurrency`` due events for ``lease_s``, delivers them concurrently, records each outcome against the
lease it was delivered under (acknowledged; or failed, with the next attempt's time from the schedule, or
dead), and sleeps ``idle_s`` when fewer events were due than it could take. Any number of workers, in any
number of processes, share one ledger: the lease keeps two of them off one event, and an event held by a
worker that died is leased again once its lease has run out.

A batch's deliveries run at once and each is bounded by ``delivery_deadline_s`` (the sum of the timeouts);
``lease_s`` is at least twice that, so a lease outlives its batch. A delivery the merchant acknowledged after
the lease ran out still counts (the merchant has the event); a failure recorded after another worker took
the event over changes nothing. Delivery is at least once: a worker that dies between the merchant's
acknowledgement and its record delivers the event again.

The ledger is blocking, so its calls run in threads (``asyncio.to_thread``); deliveries run on the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import secrets
import socket
import time
from collections.abc import Callable
from typing import Any, Protocol

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from .._config import NotificationSettings
from .._ledger.merchants import merchant_book
from .._ledger.notifications import Notification
from .._logging import get_logger
from .notify_delivery import DeliveryOutcome, Failure, deliver, make_client
from .notify_schedule import retry_delay

__all__ = ["DeliveryObserver", "NotifyWorker", "worker_name"]

_log = get_logger("tradepay.notify")


class DeliveryObserver(Protocol):
    """Told of every recorded delivery (the server's metrics)."""

    def delivery_recorded(self, outcome: str, failure: Failure | None, latency_s: float | None) -> None:
        """``outcome``: ``delivered``, ``retry`` (failed, due again later), ``dead`` (failed, the schedule
        spent) or ``superseded`` (failed, but the lease was no longer this worker's); ``failure``: why it
        failed; ``latency_s``: from the event's creation to its acknowledgement, for a delivered one."""


def worker_name() -> str:
    """A worker's name in the leases it holds: the host name, the process id and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class NotifyWorker:
    """Delivers the notifications of ``ledger`` (an :class:`~tradepay._ledger.notifications.Outbox`), signed
    with the host's ``key``, as ``settings`` say. ``observer`` hears each recorded outcome; ``rng`` jitters
    the retry schedule; ``clock`` is the clock next attempts are set by (the ledger's)."""

    def __init__(
        self,
        ledger: Any,
        key: rsa.RSAPrivateKey,
        settings: NotificationSettings,
        *,
        observer: DeliveryObserver | None = None,
        name: str | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        client: Callable[[NotificationSettings], httpx.AsyncClient] = make_client,
    ) -> None:
        self.ledger = ledger
        self.merchants = merchant_book(ledger)
        self.key = key
        self.settings = settings
        self.observer = observer
        self.name = name or worker_name()
        self.rng = rng or random.Random()  # jitter, not a secret
        self.clock = clock
        self._client = client

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; the batch in flight is finished first. A ledger that fails is
        logged (``notify.worker_failed``) and asked again after ``idle_s``."""
        _log.info("notify.worker_started", worker=self.name)
        async with self._client(self.settings) as client:
            while not stop.is_set():
                try:
                    taken = await self._batch(client)
                except Exception as exc:  # the ledger: a worker outlives a database that blinks
                    _log.error("notify.worker_failed", worker=self.name, error=type(exc).__name__)
                    taken = 0
                if taken < self.settings.concurrency:  # nothing more is due now
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self.settings.idle_s)
        _log.info("notify.worker_stopped", worker=self.name)

    async def run_once(self) -> int:
        """Deliver what is due, batch after batch, until nothing is; how many deliveries were made."""
        made = 0
        async with self._client(self.settings) as client:
            while taken := await self._batch(client):
                made += taken
        return made

    async def _batch(self, client: httpx.AsyncClient) -> int:
        leased: list[Notification] = await asyncio.to_thread(
            self.ledger.lease_notifications, self.name, limit=self.settings.concurrency, lease_s=self.settings.lease_s
        )
        results = await asyncio.gather(*(self._one(client, event) for event in leased), return_exceptions=True)
        for event, result in zip(leased, results, strict=True):
            if isinstance(result, BaseException):
                # Not recorded: the lease runs out and the event is delivered again.
                _log.error("notify.record_failed", event_id=event.event_id, error=type(result).__name__)
        return len(leased)

    async def _one(self, client: httpx.AsyncClient, event: Notification) -> None:
        merchant = await asyncio.to_thread(self.merchants.get_merchant, event.merchant_id)
        try:
            outcome = await deliver(client, self.key, event, merchant, self.settings)
        except Exception as exc:  # the host's own failure: the attempt counts, the event is tried again later
            outcome = DeliveryOutcome(Failure.CONNECTION, f"the host failed to deliver: {type(exc).__name__}")
        await asyncio.to_thread(self._record, event, outcome)

    def _record(self, event: Notification, outcome: DeliveryOutcome) -> None:
        lease = event.lease_until if event.lease_until is not None else 0.0
        attempt = event.attempts + 1
        if outcome.acknowledged:
            done = self.ledger.notification_delivered(event.event_id, lease)
            latency = max((done.delivered_at or self.clock()) - event.created_at, 0.0)
            _log.info("notify.delivered", event_id=event.event_id, merchant=event.merchant_id, attempt=attempt)
            self._tell("delivered", None, latency)
            return
        delay = retry_delay(attempt, self.settings, self.rng)
        next_at = None if delay is None else self.clock() + delay
        recorded = self.ledger.notification_failed(event.event_id, lease, error=outcome.reason, next_attempt_at=next_at)
        state = "superseded" if recorded is None else ("dead" if next_at is None else "retry")
        _log.warning(
            "notify.failed",
            event_id=event.event_id,
            merchant=event.merchant_id,
            attempt=attempt,
            reason=outcome.reason,
            outcome=state,
            next_attempt_at=next_at,
        )
        self._tell(state, outcome.failure, None)

    def _tell(self, outcome: str, failure: Failure | None, latency_s: float | None) -> None:
        if self.observer is not None:
            self.observer.delivery_recorded(outcome, failure, latency_s)
