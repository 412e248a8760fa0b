"""Delivering notifications, in parts: the schedule, one delivery against a real merchant receiver (uvicorn on
127.0.0.1), the worker over the ledger in memory, the merchants' sample verifier of the docs, the settings."""

from __future__ import annotations

import asyncio
import dataclasses
import random
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import ConfigError, MemoryLedger
from tradepay._config import NotificationSettings
from tradepay._ledger.merchants import Merchant
from tradepay._ledger.notifications import Notification, NotificationKind, NotificationStatus
from tradepay.server import public_pem, sign_request
from tradepay.server.metrics import Metrics
from tradepay.server.notify_delivery import DeliveryOutcome, Failure, deliver, make_client
from tradepay.server.notify_schedule import JITTER, nominal_waits, retry_delay
from tradepay.server.notify_worker import NotifyWorker, worker_name

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kits by their plain names
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.notify_kit import DOCS, Receiver, docs_sample, fast_settings, serving_merchant
    from tests.notify_world import paid_orders
    from tests.server_kit import CASHIER, free_port, rsa_key
else:
    from notify_kit import DOCS, Receiver, docs_sample, fast_settings, serving_merchant
    from notify_world import paid_orders
    from server_kit import CASHIER, free_port, rsa_key

FAST = fast_settings(attempts=6)
SAMPLE = docs_sample()


class Endpoint:
    """A receiver served on 127.0.0.1, its URL and a merchant registered at it."""

    def __init__(self, receiver: Receiver, url: str) -> None:
        self.receiver = receiver
        self.url = url
        self.merchant = Merchant("shop-1", public_pem(rsa_key("shop-1")), 0.0, self.url)


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    with serving_merchant(public_pem(rsa_key("host"))) as (receiver, url):
        yield Endpoint(receiver, url)


#: One event, as a ledger wrote it (what delivery is handed; the outbox's own part is tested below).
EVENT = Notification(
    "evt_0123456789abcdef01234567",
    NotificationKind.PAYMENT,
    "shop-1",
    "T1",
    "pay_1",
    1,
    '{"merchantId":"shop-1","notificationId":"evt_0123456789abcdef01234567","notifyType":"notifyPayment",'
    '"paymentId":"pay_1","sequence":1,"status":"succeeded","tradeNo":"T1"}',
    NotificationStatus.PENDING,
    0,
    1.8e9,
    1.8e9,
    1.8e9,
)


def deliver_one(merchant: Merchant | None, settings: NotificationSettings = FAST) -> tuple[DeliveryOutcome, Any]:
    event = EVENT

    async def run() -> DeliveryOutcome:
        async with make_client(settings) as client:
            return await deliver(client, rsa_key("host"), event, merchant, settings)

    return asyncio.run(run()), event


# --- the schedule ------------------------------------------------------------------------------------------------


def test_the_default_schedule_doubles_from_a_minute_to_a_day_and_spans_about_two_and_a_half_days() -> None:
    waits = nominal_waits(NotificationSettings())
    assert waits[:3] == [60.0, 120.0, 240.0]
    assert waits[-1] == 86_400.0
    assert max(waits) == 86_400.0
    assert len(waits) == NotificationSettings().attempts - 1
    assert 2 * 86_400 <= sum(waits) <= 3 * 86_400


def test_the_docs_publish_the_default_schedule() -> None:
    page = (DOCS / "notifications.md").read_text(encoding="utf-8")
    rows = re.findall(r"^\| (\d+) \| ([^|]+) \| ([^|]+) \|$", page, re.M)
    assert [int(number) for number, _, _ in rows] == list(range(1, NotificationSettings().attempts + 1))

    def minutes(cell: str) -> float:
        hours = re.search(r"(\d+) h", cell)
        mins = re.search(r"(\d+) min", cell)
        return (int(hours.group(1)) * 60 if hours else 0) + (int(mins.group(1)) if mins else 0)

    documented = [minutes(wait) for _, wait, _ in rows[1:]]
    assert documented == [wait / 60 for wait in nominal_waits(NotificationSettings())]


def test_each_wait_is_jittered_within_a_fifth_and_never_past_the_cap() -> None:
    settings = NotificationSettings()
    rng = random.Random(7)
    for failed in range(1, settings.attempts):
        nominal = nominal_waits(settings)[failed - 1]
        waits = [retry_delay(failed, settings, rng) for _ in range(200)]
        assert all(w is not None and nominal * (1 - JITTER) <= w <= min(nominal * (1 + JITTER), 86_400) for w in waits)
        assert len(set(waits)) > 100  # jittered, not one value
    assert retry_delay(settings.attempts, settings, rng) is None  # the last attempt failed: dead


# --- one delivery ------------------------------------------------------------------------------------------------


def test_an_acknowledged_delivery_is_signed_by_the_host_and_verified_by_the_sample(endpoint: Endpoint) -> None:
    outcome, event = deliver_one(endpoint.merchant)
    assert outcome == DeliveryOutcome()
    assert endpoint.receiver.outcomes["new"] == 1
    assert endpoint.receiver.inbox.seen == {event.event_id}


@pytest.mark.parametrize(
    ("step", "failure", "said"),
    [
        ("fail", Failure.STATUS, "HTTP 500"),
        ("garbage", Failure.BAD_ANSWER, "HTTP 200 but not JSON: '\\x1b]0;owned\\x07 not json'"),
        ("nack", Failure.BAD_ANSWER, "not acknowledged: resultStatus 'F', resultCode 'BUSY\\nnext line'"),
        ("huge", Failure.TOO_LARGE, "HTTP 200: the answer is larger than 65536 bytes"),
        ("slow", Failure.TIMEOUT, "timed out (ReadTimeout, 1.8 s at most)"),
    ],
)
def test_an_answer_that_does_not_acknowledge_is_a_failure_in_one_escaped_line(
    endpoint: Endpoint, step: str, failure: Failure, said: str
) -> None:
    endpoint.receiver.script = [step]
    outcome, _ = deliver_one(endpoint.merchant)
    assert (outcome.failure, outcome.reason) == (failure, said)
    assert outcome.reason.isprintable()  # no control character of the merchant's reaches a log or last_error
    assert endpoint.receiver.outcomes["new"] == 0


def test_a_redirect_is_not_followed(endpoint: Endpoint) -> None:
    endpoint.receiver.script = ["redirect"]
    outcome, _ = deliver_one(endpoint.merchant)
    assert outcome.failure is Failure.REDIRECT
    assert outcome.reason == "HTTP 302 redirect to 'https://elsewhere.example/notify', not followed"
    assert sum(endpoint.receiver.outcomes.values()) == 1  # one request: the redirect was not followed


def test_the_answer_is_read_no_further_than_the_cap(endpoint: Endpoint) -> None:
    endpoint.receiver.script = ["huge"]
    settings = dataclasses.replace(FAST, max_response_bytes=300 * 1024)
    outcome, _ = deliver_one(endpoint.merchant, settings)
    assert outcome.failure is Failure.BAD_ANSWER  # under a larger cap the same body is read, and is not JSON


@pytest.mark.parametrize(
    ("merchant", "said"),
    [
        (None, "merchant 'shop-1' is not registered"),
        (Merchant("shop-1", "pem", 0.0, None), "merchant 'shop-1' has no notification URL"),
        (
            Merchant("shop-1", "pem", 0.0, "http://shop.example/notify"),
            "the notification URL is refused: must be https (plain http only to 127.0.0.1 or localhost)",
        ),
    ],
)
def test_a_merchant_without_a_valid_url_at_delivery_time_is_not_posted_to(merchant: Merchant | None, said: str) -> None:
    outcome, _ = deliver_one(merchant)
    assert (outcome.failure, outcome.reason) == (Failure.NO_URL, said)


def test_a_connection_that_fails_is_a_failure() -> None:
    url = f"http://127.0.0.1:{free_port()}/notify"  # nothing listens there
    outcome, _ = deliver_one(Merchant("shop-1", "pem", 0.0, url))
    assert outcome.failure is Failure.CONNECTION
    assert outcome.reason.startswith("ConnectError: ")


# --- the merchants' sample verifier ------------------------------------------------------------------------------


def signed(body: bytes, *, key: str = "host", time: str | None = None) -> dict[str, str]:
    return sign_request(rsa_key(key), "POST", "/notify", "shop-1", body, time=time)


def inbox() -> Any:
    return SAMPLE.NotificationInbox(public_pem(rsa_key("host")).encode(), "shop-1", "/notify")


BODY = (
    b'{"notifyType":"notifyPayment","notificationId":"evt_1","sequence":1,"tradeNo":"T1","paymentId":"p",'
    b'"status":"succeeded"}'
)


def test_the_sample_refuses_a_forged_notification() -> None:
    merchant = inbox()
    assert merchant.receive(signed(BODY, key="shop-2"), BODY)[2] == "refused"  # signed by another key
    assert merchant.receive(signed(BODY), BODY.replace(b"succeeded", b"failed"))[2] == "refused"  # altered
    headers = {**signed(BODY), "Client-Id": "shop-2"}
    assert merchant.receive(headers, BODY)[2] == "refused"  # addressed to another merchant
    assert merchant.receive({"Client-Id": "shop-1"}, BODY)[2] == "refused"  # not signed
    assert merchant.states == {}
    assert merchant.seen == set()


def test_the_sample_refuses_a_replay_and_applies_a_repeated_notification_once() -> None:
    merchant = inbox()
    old = signed(BODY, time="2020-01-01T00:00:00Z")
    status, answer, what = merchant.receive(old, BODY)
    assert (status, what) == (401, "refused")
    assert answer["result"]["resultMessage"] == "Request-Time is outside the window: a replay, or a clock that is off"
    assert merchant.receive(signed(BODY), BODY)[2] == "new"
    later = BODY.replace(b'"succeeded"', b'"failed"')  # a forged "later state" under the same id is refused
    assert merchant.receive(signed(later, key="shop-1"), later)[2] == "refused"
    assert merchant.receive(signed(BODY), BODY) == (200, SAMPLE.ACK, "duplicate")
    assert merchant.states == {"p": "succeeded"}


def test_the_sample_ignores_an_older_event_of_the_order_that_arrives_late() -> None:
    merchant = inbox()
    second = BODY.replace(b"evt_1", b"evt_2").replace(b'"sequence":1', b'"sequence":2')
    assert merchant.receive(signed(second), second)[2] == "new"
    assert merchant.receive(signed(BODY), BODY)[2] == "new"
    assert merchant.orders["T1"]["notificationId"] == "evt_2"


# --- the worker --------------------------------------------------------------------------------------------------


def worker(ledger: Any, settings: NotificationSettings = FAST, **kw: Any) -> NotifyWorker:
    return NotifyWorker(ledger, rsa_key("host"), settings, rng=random.Random(1), **kw)


def run_until_settled(deliverer: NotifyWorker, ledger: Any) -> None:
    for _ in range(500):
        asyncio.run(deliverer.run_once())
        if not ledger.notifications(status=NotificationStatus.PENDING):
            return
    raise AssertionError("events still pending")


def notified(tmp_path: Path, endpoint: Endpoint, count: int, ledger: Any = None) -> tuple[Any, list[Notification]]:
    """A ledger in memory (or ``ledger``) with ``count`` events for ``endpoint``'s merchant."""
    book = ledger if ledger is not None else MemoryLedger(cashier_url=CASHIER)
    return book, paid_orders(tmp_path, book, endpoint.url, count)


def test_the_worker_delivers_every_event_through_failures_and_records_each_attempt(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    ledger, events = notified(tmp_path, endpoint, 10)
    endpoint.receiver.script = ["fail", "garbage", "redirect", "nack", "huge", "slow", "fail", "fail"]
    metrics = Metrics()
    run_until_settled(worker(ledger, observer=metrics), ledger)
    assert {e.event_id for e in ledger.notifications(status=NotificationStatus.DELIVERED)} == {
        e.event_id for e in events
    }
    assert endpoint.receiver.inbox.seen == {e.event_id for e in events}
    recorded = ledger.notifications()
    assert sum(e.attempts for e in recorded) == 10 + 8  # every failure was one more attempt, and none was lost
    assert all(e.last_error for e in recorded if e.attempts > 1)
    assert metrics.registry.get_sample_value("tradepay_notification_deliveries_total", {"outcome": "delivered"}) == 10
    assert metrics.registry.get_sample_value("tradepay_notification_deliveries_total", {"outcome": "retry"}) == 8
    assert metrics.registry.get_sample_value("tradepay_notification_latency_seconds_count") == 10


def test_an_event_is_dead_after_the_last_attempt_and_an_operator_retry_gives_it_one_more(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    ledger, (event,) = notified(tmp_path, endpoint, 1)
    endpoint.receiver.script = ["fail"] * FAST.attempts
    run_until_settled(worker(ledger), ledger)
    dead = ledger.get_notification(event.event_id)
    assert dead is not None
    assert dead.status is NotificationStatus.DEAD
    assert (dead.attempts, dead.last_error) == (FAST.attempts, "HTTP 500")
    ledger.retry_notification(event.event_id)
    run_until_settled(worker(ledger), ledger)
    delivered = ledger.get_notification(event.event_id)
    assert delivered is not None
    assert delivered.status is NotificationStatus.DELIVERED


async def follow_until_delivered(deliverer: NotifyWorker, ledger: Any) -> None:
    """Run ``deliverer`` as ``tradepay notify --follow`` does until nothing is pending, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(deliverer.run(stop))
    while ledger.notifications(status=NotificationStatus.PENDING):
        await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, 10)


def test_the_worker_stops_when_told(tmp_path: Path, endpoint: Endpoint) -> None:
    ledger, _ = notified(tmp_path, endpoint, 1)
    asyncio.run(follow_until_delivered(worker(ledger), ledger))
    assert endpoint.receiver.outcomes["new"] == 1


def test_a_worker_is_named_by_host_process_and_a_random_part() -> None:
    import os
    import socket

    first, second = worker_name(), worker_name()
    assert first.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert first != second


# --- the settings ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "key", "reason"),
    [
        ({"lease_s": 30.0}, "notifications.lease_s", "must be at least twice the sum of the four timeouts (32 s)"),
        ({"attempts": 0}, "notifications.attempts", "must be between 1 and 100, got 0"),
        ({"enabled": "yes"}, "notifications.enabled", "must be true or false, got str"),
        ({"max_retry_s": 10.0}, "notifications.max_retry_s", "must be at least first_retry_s (60)"),
        ({"read_timeout_s": -1}, "notifications.read_timeout_s", "must be more than 0"),
        ({"max_response_bytes": 10}, "notifications.max_response_bytes", "must be between 1024 and 16777216"),
    ],
)
def test_the_settings_refuse_what_cannot_work(fields: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as refused:
        NotificationSettings(**fields)
    assert str(refused.value).startswith(f"configuration {key}: {reason}")


def test_the_settings_are_read_from_the_notifications_table() -> None:
    from tradepay import Config

    config = Config.from_mapping({"chain": {"providers": ["card"]}, "notifications": {"attempts": 3, "enabled": False}})
    assert (config.notifications.attempts, config.notifications.enabled) == (3, False)
    with pytest.raises(ConfigError, match=r"notifications\.retries: unknown key"):
        Config.from_mapping({"chain": {"providers": ["card"]}, "notifications": {"retries": 3}})


# --- logging -----------------------------------------------------------------------------------------------------


@contextmanager
def broken_logging() -> Iterator[list[str]]:
    """Logging that raises at every event (a full disk), and the events it was asked to log."""
    import structlog

    logged: list[str] = []

    def broken(logger: Any, method: str, event: Any) -> Any:
        logged.append(event["event"])
        raise OSError(28, "No space left on device")

    saved = structlog.get_config()
    structlog.configure(processors=[broken], cache_logger_on_first_use=False)
    try:
        yield logged
    finally:
        structlog.configure(**saved)


def test_a_log_that_breaks_at_every_event_changes_no_delivery(tmp_path: Path, endpoint: Endpoint) -> None:
    ledger, events = notified(tmp_path, endpoint, 3)
    endpoint.receiver.script = ["fail", "nack"]
    with broken_logging() as logged:
        asyncio.run(follow_until_delivered(worker(ledger), ledger))
    assert {"notify.worker_started", "notify.failed", "notify.delivered", "notify.worker_stopped"} <= set(logged)
    assert endpoint.receiver.inbox.seen == {e.event_id for e in events}
    assert sum(e.attempts for e in ledger.notifications()) == 3 + 2


class BlinkingLedger(MemoryLedger):
    """A ledger whose first lease and first acknowledgement fail, as a database that blinks."""

    def __init__(self) -> None:
        super().__init__(cashier_url=CASHIER)
        self.failures = {"lease": 0, "delivered": 0}

    def _blink(self, what: str) -> None:
        if self.failures[what]:
            self.failures[what] -= 1
            raise OSError(5, "Input/output error")

    def lease_notifications(self, worker: str, *, limit: int, lease_s: float) -> list[Notification]:
        self._blink("lease")
        return super().lease_notifications(worker, limit=limit, lease_s=lease_s)

    def notification_delivered(self, event_id: str, lease_until: float) -> Notification:
        self._blink("delivered")
        return super().notification_delivered(event_id, lease_until)


def test_a_ledger_that_fails_is_logged_and_the_event_delivered_again_once_its_lease_runs_out(
    tmp_path: Path, endpoint: Endpoint
) -> None:
    ledger, (event,) = notified(tmp_path, endpoint, 1, BlinkingLedger())
    ledger.failures = {"lease": 1, "delivered": 1}
    quick = fast_settings(
        connect_timeout_s=0.2, write_timeout_s=0.2, read_timeout_s=0.2, pool_timeout_s=0.2, lease_s=1.6
    )
    with broken_logging() as logged:
        asyncio.run(follow_until_delivered(worker(ledger, quick), ledger))
    assert {"notify.worker_failed", "notify.record_failed"} <= set(logged)
    assert endpoint.receiver.deliveries[event.event_id] == 2  # the unrecorded acknowledgement: posted again
    assert endpoint.receiver.outcomes["duplicate"] == 1
