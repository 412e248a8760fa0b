"""The notification outbox in every ledger (memory, SQLite, PostgreSQL): an event for each final state of a
notified merchant's payment or refund, written in the same transaction; payloads; leases; the delivery
outcomes and their state machine."""

from __future__ import annotations

import itertools
import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    InvalidInput,
    Ledger,
    MemoryLedger,
    Notification,
    NotificationKind,
    NotificationStatus,
    PaymentAmount,
    PaymentResult,
    PaymentStatus,
    ProviderStatus,
    RefundAnswer,
    RefundOutcome,
    RefundStatus,
    ResultCode,
)
from tradepay._ledger import notifications
from tradepay._ledger.merchants import merchant_book
from tradepay._ledger.notifications import MAX_ERROR, error_line, iso_utc
from tradepay._ledger.sql import PostgresLedger, SQLiteLedger, SQLLedger
from tradepay._ledger.states import IllegalTransition, check_notification

from .test_ledger_contract import BACKENDS, NO, OK, POSTGRES_URL, SECRETS, SQL_BACKENDS, order, record
from .test_refund_ledger import ask, paid_order

URL = "https://m1.example/tradepay/notify"
T0 = 1_800_000_000.0  # 2027-01-15T08:00:00Z
INF = float("inf")
NUMBER: Any = 42  # where a string belongs
CANCELLED = PaymentResult(ResultCode.USER_CANCEL, "the payer cancelled")


class Clock:
    """The ledger's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> float:
        return self.now


def make_ledger(kind: str, tmp_path: Path, clock: Clock) -> Ledger:
    if kind == "memory":
        return MemoryLedger(merchant_secrets=SECRETS, clock=clock)
    if kind == "sqlite":
        return SQLiteLedger(tmp_path / "ledger.sqlite3", merchant_secrets=SECRETS, clock=clock)
    assert POSTGRES_URL is not None
    separator = "&" if "?" in POSTGRES_URL else "?"
    schema = f"tp_test_{secrets.token_hex(6)}"
    return PostgresLedger(f"{POSTGRES_URL}{separator}schema={schema}", merchant_secrets=SECRETS, clock=clock)


def drop(ledger: Ledger) -> None:
    if isinstance(ledger, PostgresLedger):
        ledger.postgres.drop_schema()
    ledger.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[Ledger]:
    made = make_ledger(request.param, tmp_path, clock)
    yield made
    drop(made)


@pytest.fixture(params=SQL_BACKENDS)
def sql_ledger(request: pytest.FixtureRequest, tmp_path: Path, clock: Clock) -> Iterator[SQLLedger]:
    made = make_ledger(request.param, tmp_path, clock)
    assert isinstance(made, SQLLedger)
    yield made
    drop(made)


def notified(ledger: Ledger, client_id: str = "m1", url: str | None = URL) -> None:
    merchant_book(ledger).add_merchant(client_id, "-----BEGIN PUBLIC KEY-----", url)


def ended_payment(ledger: Ledger, status: PaymentStatus, result: PaymentResult, value: str = "500") -> Any:
    payment, _ = ledger.begin_payment(order(ledger, value), None)
    return ledger.finish_payment(payment.payment_id, status, result)


def events(ledger: Ledger) -> list[Notification]:
    """Every event, oldest first."""
    return list(reversed(ledger.notifications(limit=1000)))


def only_event(ledger: Ledger) -> Notification:
    (event,) = ledger.notifications()
    return event


# --- writing events ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "result", "result_status"),
    [(PaymentStatus.SUCCEEDED, OK, "S"), (PaymentStatus.FAILED, NO, "F"), (PaymentStatus.CANCELLED, CANCELLED, "F")],
)
def test_a_final_payment_of_a_notified_merchant_writes_one_event(
    ledger: Ledger, clock: Clock, status: PaymentStatus, result: PaymentResult, result_status: str
) -> None:
    notified(ledger)
    payment, _ = ledger.begin_payment(order(ledger, "1234"), None)
    clock.now += 61
    ended = ledger.finish_payment(payment.payment_id, status, result)
    event = only_event(ledger)
    assert (event.kind, event.merchant_id, event.trade_no, event.subject_id, event.sequence) == (
        NotificationKind.PAYMENT,
        "m1",
        payment.trade_no,
        payment.payment_id,
        1,
    )
    assert (event.status, event.attempts, event.next_attempt_at, event.created_at) == (
        NotificationStatus.PENDING,
        0,
        T0 + 61,  # delivered at once
        T0 + 61,
    )
    assert (event.lease_until, event.leased_by, event.last_error, event.delivered_at) == (None, None, None, None)
    assert event.event_id.startswith("evt_")
    assert len(event.event_id) == 28
    int(event.event_id[4:], 16)
    assert json.loads(event.payload) == {
        "notifyType": "notifyPayment",
        "notificationId": event.event_id,
        "sequence": 1,
        "tradeNo": payment.trade_no,
        "merchantId": "m1",
        "paymentId": payment.payment_id,
        "status": status.value,
        "paymentResult": {
            "resultStatus": result_status,
            "resultCode": result.result_code.value,
            "resultMessage": result.result_message,
        },
        "paymentAmount": {"currency": "USD", "value": "1234"},
        "paymentCreateTime": "2027-01-15T08:00:00Z",
        "updatedAt": "2027-01-15T08:01:01Z",
    }
    assert ended.updated_at == T0 + 61
    assert ledger.get_notification(event.event_id) == event


def test_the_payload_is_compact_key_sorted_json_without_extended_info(ledger: Ledger) -> None:
    notified(ledger)
    secret_info = PaymentResult(ResultCode.SUCCESS, "paid", extended_info={"provider": "card", "token": "tok_9"})
    ended_payment(ledger, PaymentStatus.SUCCEEDED, secret_info)
    payload = only_event(ledger).payload
    assert payload == json.dumps(json.loads(payload), sort_keys=True, separators=(",", ":"))
    assert "tok_9" not in payload
    assert "extendedInfo" not in payload
    assert "card" not in payload


def test_no_event_for_a_merchant_without_a_url_or_not_registered(ledger: Ledger) -> None:
    notified(ledger, "m1", None)
    ended_payment(ledger, PaymentStatus.FAILED, NO)
    other = ledger.create_order(PaymentAmount("USD", "5"), merchant_id="m-unknown", payer_id="bob")
    payment, _ = ledger.begin_payment(other, None)
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert ledger.notifications() == []
    # The URL is read when the state changes: set now, it counts for what ends from now on.
    merchant_book(ledger).set_notify_url("m1", URL)
    made, _ = paid_order(ledger)
    assert [(e.trade_no, e.sequence) for e in events(ledger)] == [(made.trade_no, 1)]
    merchant_book(ledger).set_notify_url("m1", None)
    refund, _ = ledger.begin_refund(ask(made.trade_no, "10", "r-1"))
    ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED))
    assert len(events(ledger)) == 1


def test_an_unsettled_payment_has_no_event_until_reconciliation_settles_it(ledger: Ledger, clock: Clock) -> None:
    notified(ledger)
    processing, _ = ledger.begin_payment(order(ledger), None)
    ledger.start_attempt(processing.payment_id, "wallet")
    unsettled, _ = ledger.begin_payment(order(ledger), None)
    ledger.finish_payment(unsettled.payment_id, PaymentStatus.NEEDS_RECONCILIATION, PaymentResult(ResultCode.UNKNOWN))
    assert ledger.notifications() == []
    clock.now += 1
    ledger.settle_payment(unsettled.payment_id, PaymentStatus.SUCCEEDED, OK)
    event = only_event(ledger)
    assert (event.subject_id, json.loads(event.payload)["status"]) == (unsettled.payment_id, "succeeded")
    clock.now += 1
    ledger.settle_payment(processing.payment_id, PaymentStatus.FAILED, NO)  # a stale processing one
    assert [e.subject_id for e in events(ledger)] == [unsettled.payment_id, processing.payment_id]


def test_an_orders_events_are_numbered_over_its_payments_and_refunds(ledger: Ledger, clock: Clock) -> None:
    notified(ledger)
    made = order(ledger, "1000")
    first, _ = ledger.begin_payment(made, None)
    ledger.finish_payment(first.payment_id, PaymentStatus.FAILED, NO)  # the order may be paid again
    second, _ = ledger.begin_payment(made, None)
    ledger.finish_attempt(record(ledger.start_attempt(second.payment_id, "card"), ProviderStatus.PAID))
    ledger.finish_payment(second.payment_id, PaymentStatus.SUCCEEDED, OK)
    declined = RefundAnswer(RefundOutcome.FAILED, "REFUND_WINDOW_EXCEEDED", "too late")
    a, _ = ledger.begin_refund(ask(made.trade_no, "300", "r-1", "damaged"))
    b, _ = ledger.begin_refund(ask(made.trade_no, "200", "r-2"))
    clock.now += 5
    ledger.finish_refund(b.refund_id, RefundStatus.FAILED, declined)
    ledger.finish_refund(a.refund_id, RefundStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED))
    ended = [(e.kind, e.subject_id, e.sequence) for e in events(ledger)]
    assert ended == [
        (NotificationKind.PAYMENT, first.payment_id, 1),
        (NotificationKind.PAYMENT, second.payment_id, 2),
        (NotificationKind.REFUND, b.refund_id, 3),
        (NotificationKind.REFUND, a.refund_id, 4),
    ]
    assert [e.sequence for e in ledger.notifications(trade_no=made.trade_no)] == [4, 3, 2, 1]  # newest first
    failed, succeeded = ledger.notifications(trade_no=made.trade_no)[1::-1]
    assert json.loads(failed.payload) == {
        "notifyType": "notifyRefund",
        "notificationId": failed.event_id,
        "sequence": 3,
        "tradeNo": made.trade_no,
        "merchantId": "m1",
        "paymentId": second.payment_id,
        "refundId": b.refund_id,
        "refundRequestId": "r-2",
        "status": "failed",
        "refundResult": {
            "resultStatus": "F",
            "resultCode": "REFUND_WINDOW_EXCEEDED",
            "resultMessage": "too late; nothing was refunded",
        },
        "refundAmount": {"currency": "USD", "value": "200"},
        "refundCreateTime": "2027-01-15T08:00:00Z",
        "updatedAt": "2027-01-15T08:00:05Z",
    }
    assert json.loads(succeeded.payload)["refundResult"] == {
        "resultStatus": "S",
        "resultCode": "SUCCESS",
        "resultMessage": "refunded USD 3.00",
    }
    assert json.loads(succeeded.payload)["refundAmount"] == {"currency": "USD", "value": "300"}


def test_a_refund_left_for_reconciliation_is_notified_when_settled(ledger: Ledger) -> None:
    notified(ledger)
    made, _ = paid_order(ledger)
    refund, _ = ledger.begin_refund(ask(made.trade_no, "100", "r-1"))
    ledger.finish_refund(refund.refund_id, RefundStatus.NEEDS_RECONCILIATION, None)
    assert [e.kind for e in events(ledger)] == [NotificationKind.PAYMENT]
    ledger.settle_refund(refund.refund_id, RefundStatus.FAILED, None)  # no answer: the default reason
    event = events(ledger)[-1]
    assert (event.kind, event.sequence) == (NotificationKind.REFUND, 2)
    assert json.loads(event.payload)["refundResult"] == {
        "resultStatus": "F",
        "resultCode": "REFUND_FAILED",
        "resultMessage": "the provider refunded nothing; nothing was refunded",
    }


# --- atomicity -----------------------------------------------------------------------------------------------


def refuse_inserts(ledger: SQLLedger, table: str, when: str = "INSERT") -> None:
    """Make the database itself refuse every ``when`` on ``table``, inside whatever transaction does it."""
    with ledger.database.write() as db:
        if ledger.database.kind == "sqlite":
            db.execute(f"CREATE TRIGGER refuse_{table} BEFORE {when} ON {table} BEGIN SELECT RAISE(ABORT, 'no'); END")
        else:
            db.execute(
                "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RAISE EXCEPTION ''no''; END'"
            )
            db.execute(f"CREATE TRIGGER refuse_{table} BEFORE {when} ON {table} FOR EACH ROW EXECUTE FUNCTION refuse()")


def database_errors(ledger: SQLLedger) -> tuple[type[Exception], ...]:
    if ledger.database.kind == "sqlite":
        return (sqlite3.Error,)
    import psycopg

    return (psycopg.Error,)


def test_a_payment_does_not_end_when_its_event_cannot_be_written(sql_ledger: SQLLedger) -> None:
    notified(sql_ledger)
    made, _ = paid_order(sql_ledger)
    refund, _ = sql_ledger.begin_refund(ask(made.trade_no, "100", "r-1"))
    payment, _ = sql_ledger.begin_payment(order(sql_ledger), None)
    refuse_inserts(sql_ledger, "notifications")
    with pytest.raises(database_errors(sql_ledger)):
        sql_ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    with pytest.raises(database_errors(sql_ledger)):
        sql_ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED))
    assert sql_ledger.get_payment(payment.payment_id).status is PaymentStatus.PROCESSING  # type: ignore[union-attr]
    assert sql_ledger.get_order(payment.trade_no).status.value == "open"  # type: ignore[union-attr]
    assert sql_ledger.get_refund(refund.refund_id).status is RefundStatus.PROCESSING  # type: ignore[union-attr]
    assert len(sql_ledger.notifications()) == 1  # the first payment's only


def test_an_event_is_not_kept_when_its_state_change_fails_after_it(sql_ledger: SQLLedger) -> None:
    notified(sql_ledger)
    payment, _ = sql_ledger.begin_payment(order(sql_ledger), None)
    # A success marks the ledger's own order paid after the event is written, in the same transaction.
    refuse_inserts(sql_ledger, "orders", "UPDATE")
    with pytest.raises(database_errors(sql_ledger)):
        sql_ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert sql_ledger.get_payment(payment.payment_id).status is PaymentStatus.PROCESSING  # type: ignore[union-attr]
    assert sql_ledger.notifications() == []
    assert sql_ledger.notification_counts()[NotificationStatus.PENDING] == 0


def test_the_memory_ledger_changes_nothing_when_the_event_cannot_be_made(monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = MemoryLedger()
    notified(ledger)
    payment, _ = ledger.begin_payment(order(ledger), None)
    made, _ = paid_order(ledger)
    refund, _ = ledger.begin_refund(ask(made.trade_no, "100", "r-1"))

    def broken(*args: object) -> str:
        raise RuntimeError("no payload")

    monkeypatch.setattr(notifications, "payment_payload", broken)
    monkeypatch.setattr(notifications, "refund_payload", broken)
    with pytest.raises(RuntimeError):
        ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    with pytest.raises(RuntimeError):
        ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED))
    assert ledger.get_payment(payment.payment_id).status is PaymentStatus.PROCESSING  # type: ignore[union-attr]
    assert ledger.get_refund(refund.refund_id).status is RefundStatus.PROCESSING  # type: ignore[union-attr]
    assert len(ledger.notifications()) == 1
    monkeypatch.undo()
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)  # the payment is still whole
    assert [e.sequence for e in ledger.notifications(trade_no=payment.trade_no)] == [1]


# --- leases and delivery outcomes ---------------------------------------------------------------------------


def three_events(ledger: Ledger, clock: Clock) -> list[Notification]:
    notified(ledger)
    for _ in range(3):
        ended_payment(ledger, PaymentStatus.SUCCEEDED, OK)
        clock.now += 1
    return events(ledger)


def test_a_lease_takes_due_events_oldest_first_and_no_second_lease_gets_them(ledger: Ledger, clock: Clock) -> None:
    written = three_events(ledger, clock)
    first = ledger.lease_notifications("w1", limit=2, lease_s=30)
    assert [e.event_id for e in first] == [e.event_id for e in written[:2]]
    assert {(e.leased_by, e.lease_until) for e in first} == {("w1", clock.now + 30)}
    second = ledger.lease_notifications("w2", limit=10, lease_s=30)
    assert [e.event_id for e in second] == [written[2].event_id]
    clock.now += 29
    assert ledger.lease_notifications("w3", limit=10, lease_s=30) == []
    assert ledger.get_notification(written[0].event_id) == first[0]


def test_an_expired_lease_is_taken_over_and_the_stale_failure_changes_nothing(ledger: Ledger, clock: Clock) -> None:
    three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    clock.now += 30
    (taken,) = ledger.lease_notifications("w2", limit=1, lease_s=30)
    assert (taken.event_id, taken.leased_by, taken.lease_until) == (held.event_id, "w2", clock.now + 30)
    assert held.lease_until is not None
    assert taken.lease_until is not None
    assert ledger.notification_failed(held.event_id, held.lease_until, error="late", next_attempt_at=0.0) is None
    assert ledger.get_notification(held.event_id) == taken
    failed = ledger.notification_failed(taken.event_id, taken.lease_until, error="503", next_attempt_at=clock.now + 60)
    assert failed is not None
    assert (failed.status, failed.attempts, failed.last_error, failed.next_attempt_at) == (
        NotificationStatus.PENDING,
        1,
        "503",
        clock.now + 60,
    )
    assert (failed.lease_until, failed.leased_by) == (None, None)
    # Not due before its next attempt: the other two events are leased, not this one.
    assert held.event_id not in {e.event_id for e in ledger.lease_notifications("w3", limit=10, lease_s=600)}
    clock.now += 60
    (again,) = ledger.lease_notifications("w4", limit=10, lease_s=30)
    assert again.event_id == held.event_id


def taken_over(ledger: Ledger, clock: Clock) -> tuple[Notification, Notification]:
    """The oldest event as leased by ``w1``, and as ``w2`` took it over when that lease ran out."""
    three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    clock.now += 30
    (taken,) = ledger.lease_notifications("w2", limit=1, lease_s=30)
    assert taken.event_id == held.event_id
    return held, taken


def test_an_acknowledgement_always_counts(ledger: Ledger, clock: Clock) -> None:
    held, taken = taken_over(ledger, clock)
    assert held.lease_until is not None
    assert taken.lease_until is not None
    delivered = ledger.notification_delivered(held.event_id, held.lease_until)  # its lease ran out: still counts
    assert (delivered.status, delivered.attempts) == (NotificationStatus.DELIVERED, 1)
    assert delivered.delivered_at == clock.now
    assert (delivered.lease_until, delivered.leased_by) == (None, None)
    # The second worker's outcome comes too late to change anything; delivered again, it stays delivered.
    assert ledger.notification_failed(taken.event_id, taken.lease_until, error="x", next_attempt_at=None) is None
    clock.now += 5
    assert ledger.notification_delivered(taken.event_id, taken.lease_until) == delivered
    assert ledger.get_notification(held.event_id) == delivered
    with pytest.raises(IllegalTransition, match="a notification cannot go from delivered to pending"):
        ledger.retry_notification(held.event_id)


def test_a_dead_event_waits_for_a_retry(ledger: Ledger, clock: Clock) -> None:
    three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    assert held.lease_until is not None
    dead = ledger.notification_failed(held.event_id, held.lease_until, error="gone", next_attempt_at=None)
    assert dead is not None
    assert (dead.status, dead.attempts, dead.last_error) == (NotificationStatus.DEAD, 1, "gone")
    clock.now += 3600
    assert held.event_id not in {e.event_id for e in ledger.lease_notifications("w2", limit=10, lease_s=30)}
    assert ledger.notification_counts() == {
        NotificationStatus.PENDING: 2,
        NotificationStatus.DELIVERED: 0,
        NotificationStatus.DEAD: 1,
    }
    assert ledger.notifications(status=NotificationStatus.DEAD) == [dead]
    retried = ledger.retry_notification(held.event_id)
    assert (retried.status, retried.attempts, retried.next_attempt_at, retried.last_error) == (
        NotificationStatus.PENDING,
        1,  # kept
        clock.now,
        "gone",
    )
    (again,) = ledger.lease_notifications("w3", limit=10, lease_s=30)
    assert again.event_id == held.event_id
    assert again.lease_until is not None
    done = ledger.notification_delivered(again.event_id, again.lease_until)
    assert done.attempts == 2
    assert ledger.notification_counts() == {
        NotificationStatus.PENDING: 2,
        NotificationStatus.DELIVERED: 1,
        NotificationStatus.DEAD: 0,
    }


def test_a_retry_of_a_held_pending_event_keeps_its_lease(ledger: Ledger, clock: Clock) -> None:
    three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    retried = ledger.retry_notification(held.event_id)
    assert (retried.leased_by, retried.lease_until, retried.next_attempt_at) == ("w1", held.lease_until, clock.now)
    assert held.event_id not in {e.event_id for e in ledger.lease_notifications("w2", limit=10, lease_s=30)}


def test_a_late_acknowledgement_of_a_dead_event_counts(ledger: Ledger, clock: Clock) -> None:
    held, taken = taken_over(ledger, clock)
    assert held.lease_until is not None
    assert taken.lease_until is not None
    ledger.notification_failed(taken.event_id, taken.lease_until, error="no", next_attempt_at=None)
    assert ledger.notification_delivered(held.event_id, held.lease_until).status is NotificationStatus.DELIVERED


def test_an_error_is_kept_as_one_short_line(ledger: Ledger, clock: Clock) -> None:
    three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    assert held.lease_until is not None
    answer = "HTTP 500:\r\n<html>\x1b[31m" + "x" * 900 + "\u2028end"
    failed = ledger.notification_failed(held.event_id, held.lease_until, error=answer, next_attempt_at=clock.now)
    assert failed is not None
    assert failed.last_error is not None
    assert len(failed.last_error) <= MAX_ERROR
    assert failed.last_error.startswith("HTTP 500:  <html> [31mxxx")
    assert all(c.isprintable() for c in failed.last_error)
    assert error_line("short\tline\n") == "short line"


BAD_LEASES = [
    ({"worker": "", "limit": 1, "lease_s": 30}, "worker"),
    ({"worker": "w 1", "limit": 1, "lease_s": 30}, "worker"),
    ({"worker": "w1", "limit": 0, "lease_s": 30}, "limit"),
    ({"worker": "w1", "limit": 1001, "lease_s": 30}, "limit"),
    ({"worker": "w1", "limit": True, "lease_s": 30}, "limit"),
    ({"worker": "w1", "limit": 1.0, "lease_s": 30}, "limit"),
    ({"worker": "w1", "limit": 1, "lease_s": 0}, "lease_s"),
    ({"worker": "w1", "limit": 1, "lease_s": -1}, "lease_s"),
    ({"worker": "w1", "limit": 1, "lease_s": float("nan")}, "lease_s"),
    ({"worker": "w1", "limit": 1, "lease_s": float("inf")}, "lease_s"),
    ({"worker": "w1", "limit": 1, "lease_s": "30"}, "lease_s"),
    ({"worker": "w1", "limit": 1, "lease_s": 86_401}, "lease_s"),
]


@pytest.mark.parametrize(("arguments", "field"), BAD_LEASES)
def test_a_lease_with_bad_arguments_is_refused_naming_the_field(
    ledger: Ledger, clock: Clock, arguments: dict[str, Any], field: str
) -> None:
    three_events(ledger, clock)
    rest = dict(arguments)
    worker = rest.pop("worker")
    with pytest.raises(InvalidInput) as refused:
        ledger.lease_notifications(worker, **rest)
    assert refused.value.field == field
    assert all(e.lease_until is None for e in ledger.notifications())  # nothing leased


def test_outcomes_with_bad_arguments_are_refused_naming_the_field(ledger: Ledger, clock: Clock) -> None:
    (event, *_) = three_events(ledger, clock)
    (held,) = ledger.lease_notifications("w1", limit=1, lease_s=30)
    assert held.lease_until is not None
    unknown = "evt_" + "0" * 24
    refusals: list[tuple[Any, str]] = [
        (lambda: ledger.notification_delivered("evt_123", 1.0), "event_id"),
        (lambda: ledger.notification_delivered(unknown, 1.0), "event_id"),
        (lambda: ledger.notification_delivered(event.event_id, float("nan")), "lease_until"),
        (lambda: ledger.notification_failed(unknown, 1.0, error="x", next_attempt_at=None), "event_id"),
        (lambda: ledger.notification_failed(held.event_id, 1.0, error=NUMBER, next_attempt_at=None), "error"),
        (lambda: ledger.notification_failed(held.event_id, 1.0, error="x", next_attempt_at=INF), "next_attempt_at"),
        (lambda: ledger.retry_notification(unknown.upper()), "event_id"),
        (lambda: ledger.get_notification(NUMBER), "event_id"),
        (lambda: ledger.notifications(limit=0), "limit"),
    ]
    for call, field in refusals:
        with pytest.raises(InvalidInput) as refused:
            call()
        assert refused.value.field == field
    assert ledger.get_notification(unknown) is None
    assert ledger.get_notification(held.event_id) == held  # nothing changed


ALLOWED = {
    (NotificationStatus.PENDING, NotificationStatus.PENDING),
    (NotificationStatus.PENDING, NotificationStatus.DELIVERED),
    (NotificationStatus.PENDING, NotificationStatus.DEAD),
    (NotificationStatus.DEAD, NotificationStatus.PENDING),
    (NotificationStatus.DEAD, NotificationStatus.DELIVERED),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(NotificationStatus, NotificationStatus)))
def test_every_notification_transition_pair(old: NotificationStatus, new: NotificationStatus) -> None:
    if (old, new) in ALLOWED:
        check_notification(old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"a notification cannot go from {old.value} to {new.value}"):
            check_notification(old, new)


def test_times_are_written_as_the_merchant_api_writes_them() -> None:
    assert iso_utc(T0) == "2027-01-15T08:00:00Z"
    assert iso_utc(T0 + 0.999) == "2027-01-15T08:00:00Z"


# --- concurrency ---------------------------------------------------------------------------------------------


def test_concurrent_workers_lease_each_event_exactly_once(sql_ledger: SQLLedger) -> None:
    notified(sql_ledger)
    for _ in range(200):
        ended_payment(sql_ledger, PaymentStatus.SUCCEEDED, OK)
    start = threading.Barrier(8)

    def work(number: int) -> list[str]:
        start.wait()
        taken: list[str] = []
        while batch := sql_ledger.lease_notifications(f"w{number}", limit=7, lease_s=600):
            taken += [e.event_id for e in batch]
        return taken

    with ThreadPoolExecutor(8) as pool:
        leased = list(pool.map(work, range(8)))
    every = [event_id for taken in leased for event_id in taken]
    assert len(every) == 200
    assert set(every) == {e.event_id for e in sql_ledger.notifications(limit=1000)}
    assert {e.leased_by for e in sql_ledger.notifications(limit=1000)} <= {f"w{n}" for n in range(8)}


def test_refunds_of_one_order_ending_at_once_get_distinct_sequences(sql_ledger: SQLLedger) -> None:
    notified(sql_ledger)
    made, _ = paid_order(sql_ledger, "1000")
    refunds = [sql_ledger.begin_refund(ask(made.trade_no, "100", f"r-{n}"))[0] for n in range(8)]
    start = threading.Barrier(8)

    def finish(number: int) -> None:
        start.wait()
        status = RefundStatus.SUCCEEDED if number % 2 else RefundStatus.FAILED
        outcome = RefundOutcome.SUCCEEDED if number % 2 else RefundOutcome.FAILED
        sql_ledger.finish_refund(refunds[number].refund_id, status, RefundAnswer(outcome))

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(finish, range(8)))
    written = sql_ledger.notifications(trade_no=made.trade_no)
    assert sorted(e.sequence for e in written) == list(range(1, 10))
    assert {e.subject_id for e in written if e.kind is NotificationKind.REFUND} == {r.refund_id for r in refunds}
