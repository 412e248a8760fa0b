"""The notification outbox: what the ledger records for a merchant when a payment or refund ends.

An event (:class:`Notification`) is written in the same ledger transaction that moves a payment or a refund
to a final state, and only when the order's merchant is registered with a notification URL at that moment:
an event exists if and only if its state change does. Its body (``payload``, the JSON posted to the
merchant) is fixed when it is written, so every delivery of one event carries the same bytes; only the
signature's time changes from one delivery to the next.

Delivery workers take events under a lease (:meth:`Outbox.lease_notifications`): of any number of workers,
in any number of processes, one holds an event until its lease runs out, so a worker that dies holding an
event gives it back by the lease's end. The outcome of a delivery is recorded against the lease it was made
under.

Event states::

    pending ──> pending                  (a failed delivery, retried later; an operator's retry)
    pending ──> delivered | dead
    dead ──> pending                     (an operator's retry)
    dead ──> delivered                   (a late acknowledgement: the merchant has it)
    delivered: terminal

The payload builders (:func:`payment_payload`, :func:`refund_payload`) are pure functions of the recorded
payment or refund: compact, key-sorted JSON, so that the same event always has the same bytes.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .._spi.enums import CheckedEnumType
from .._spi.errors import InvalidInput
from .._spi.fields import check_count, check_instance, check_member, check_moment
from .._spi.refunds import Refund, RefundStatus
from .._spi.text import check_identifier
from .ids import random_hex
from .records import Payment, PaymentStatus

__all__ = [
    "FINAL_REFUND",
    "EventDraft",
    "MAX_ERROR",
    "MAX_LEASE_LIMIT",
    "MAX_LEASE_S",
    "NOTIFICATION_COLUMNS",
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    "Outbox",
    "check_event_id",
    "check_lease_request",
    "check_listing_limit",
    "check_next_attempt",
    "error_line",
    "iso_utc",
    "new_event_id",
    "notification_from_row",
    "payment_draft",
    "payment_payload",
    "refund_draft",
    "refund_payload",
    "refund_result_fields",
]

#: The longest ``last_error`` kept, in characters (it may quote a merchant's answer).
MAX_ERROR = 500
#: The most events one lease takes.
MAX_LEASE_LIMIT = 1000
#: The longest lease, in seconds: a delivery holds its event for seconds or minutes, never for days.
MAX_LEASE_S = 86_400.0
#: The columns of the ``notifications`` table in the order of :class:`Notification`'s fields.
NOTIFICATION_COLUMNS = (
    "event_id, kind, merchant_id, trade_no, subject_id, sequence, payload, status, attempts, next_attempt_at,"
    " created_at, updated_at, lease_until, leased_by, last_error, delivered_at"
)
_EVENT_ID_HEX = 24
_REQUIRED_TIMES = frozenset({"next_attempt_at", "created_at", "updated_at"})
#: The refund states a ``notifyRefund`` tells of (a refund needing reconciliation is not final yet).
FINAL_REFUND = frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED})


class NotificationKind(enum.StrEnum, metaclass=CheckedEnumType):
    """What an event tells: a payment's final state, or a refund's."""

    PAYMENT = "notifyPayment"
    REFUND = "notifyRefund"


class NotificationStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """Where an event is in its delivery."""

    PENDING = "pending"
    """Not yet acknowledged by the merchant: delivered at ``next_attempt_at`` or later."""
    DELIVERED = "delivered"
    """The merchant acknowledged it. Terminal."""
    DEAD = "dead"
    """Every attempt of the schedule failed: left for an operator (``tradepay notify retry``)."""


@dataclass(frozen=True, slots=True)
class Notification:
    """One event of the outbox.

    ``event_id`` (``evt_`` and 24 hex digits) names the event for ever: a merchant that receives it twice
    (at-least-once delivery) dedupes on it. ``sequence`` counts the order's events from 1, in the order their
    state changes were committed: a merchant that has seen a higher sequence for the order has seen a later
    state. ``subject_id`` is the payment id (``notifyPayment``) or the refund id (``notifyRefund``).
    ``payload`` is the JSON body, fixed when the event was written. ``attempts`` counts deliveries tried;
    ``last_error`` says, in one line, why the last one failed. ``lease_until`` and ``leased_by`` name the
    worker holding the event and until when (the ledger's clock).
    """

    event_id: str
    kind: NotificationKind
    merchant_id: str
    trade_no: str
    subject_id: str
    sequence: int
    payload: str
    status: NotificationStatus
    attempts: int
    next_attempt_at: float
    created_at: float
    updated_at: float
    lease_until: float | None = None
    leased_by: str | None = None
    last_error: str | None = None
    delivered_at: float | None = None

    def __post_init__(self) -> None:
        check_event_id(self.event_id)
        object.__setattr__(self, "kind", check_member(self.kind, NotificationKind, "kind"))
        for name in ("merchant_id", "trade_no", "subject_id"):
            check_identifier(getattr(self, name), name)
        check_count(self.sequence, "sequence")
        check_instance(self.payload, str, "payload")
        object.__setattr__(self, "status", check_member(self.status, NotificationStatus, "status"))
        check_count(self.attempts, "attempts", low=0)
        for name in ("next_attempt_at", "created_at", "updated_at", "lease_until", "delivered_at"):
            value = getattr(self, name)
            if value is not None or name in _REQUIRED_TIMES:
                object.__setattr__(self, name, check_moment(value, name))
        if self.leased_by is not None:
            check_identifier(self.leased_by, "leased_by")
        check_instance(self.last_error, str, "last_error", optional=True)


class Outbox(Protocol):
    """The ledger's side of notification delivery (implemented by every ledger)."""

    def lease_notifications(self, worker: str, *, limit: int, lease_s: float) -> list[Notification]:
        """Lease up to ``limit`` pending events whose ``next_attempt_at`` has come and that no other worker
        holds (no lease, or one that has run out), oldest first, to ``worker`` for ``lease_s`` seconds by the
        ledger's clock. Atomic across processes: on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so concurrent
        workers take different events without waiting for each other."""

    def notification_delivered(self, event_id: str, lease_until: float) -> Notification:
        """Record that the merchant acknowledged the event (delivered under the lease ``lease_until``).
        An acknowledgement always counts, even when the lease has run out and another worker holds the
        event: the merchant has it. Delivered again, it stays delivered."""

    def notification_failed(
        self, event_id: str, lease_until: float, *, error: str, next_attempt_at: float | None
    ) -> Notification | None:
        """Record a failed delivery under the lease ``lease_until``: one more attempt, ``error`` kept, and
        the event pending again at ``next_attempt_at``, or dead when that is ``None``. Returns ``None`` and
        changes nothing when the lease is no longer the event's (another worker took it over, or it was
        delivered meanwhile)."""

    def retry_notification(self, event_id: str) -> Notification:
        """Make a dead (or pending) event pending now, its attempts kept (an operator's retry). A delivered
        event is refused (:class:`~tradepay._ledger.states.IllegalTransition`)."""

    def get_notification(self, event_id: str) -> Notification | None:
        """The event ``event_id``, or ``None``."""

    def notifications(
        self, *, status: NotificationStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Notification]:
        """Events, newest first, optionally only those with ``status`` or of order ``trade_no``."""

    def notification_counts(self) -> dict[NotificationStatus, int]:
        """How many events are in each state (every state is a key), for metrics."""


# --- events and their payloads ---------------------------------------------------------------------------


def new_event_id() -> str:
    """A fresh event id: ``evt_`` and 24 random hex digits."""
    return f"evt_{random_hex(_EVENT_ID_HEX // 2)}"


def iso_utc(moment: float) -> str:
    """``moment`` (seconds since the epoch) as the merchant API writes times: ``2026-12-02T03:30:00Z``."""
    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _json(body: dict[str, Any]) -> str:
    # Compact and key-sorted: the bytes of an event never depend on how its dict was built.
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def payment_payload(event_id: str, sequence: int, payment: Payment) -> str:
    """The ``notifyPayment`` body of a payment in a final state (succeeded, failed or cancelled).

    The result is the payment's own :class:`~tradepay.PaymentResult` code and message (``resultStatus`` ``S``
    for a success, else ``F``); its ``extended_info`` and error detail are left out. The amount is the
    order's, as the merchant API writes amounts (minor units as a string). Times are ISO 8601 UTC."""
    if payment.order is None or payment.result is None:
        raise ValueError(f"payment {payment.payment_id} has no order or no result to notify")
    if payment.status not in _FINAL_PAYMENT:
        raise ValueError(f"payment {payment.payment_id} is {payment.status.value}, not final")
    amount = payment.order.amount
    return _json(
        {
            "notifyType": NotificationKind.PAYMENT.value,
            "notificationId": event_id,
            "sequence": sequence,
            "tradeNo": payment.trade_no,
            "merchantId": payment.order.merchant_id,
            "paymentId": payment.payment_id,
            "status": payment.status.value,
            "paymentResult": {
                "resultStatus": "S" if payment.status is PaymentStatus.SUCCEEDED else "F",
                "resultCode": payment.result.result_code.value,
                "resultMessage": payment.result.result_message,
            },
            "paymentAmount": {"currency": amount.currency, "value": amount.value},
            "paymentCreateTime": iso_utc(payment.created_at),
            "updatedAt": iso_utc(payment.updated_at),
        }
    )


def refund_result_fields(refund: Refund) -> tuple[str, str, str]:
    """``(resultStatus, resultCode, resultMessage)`` of a final refund, as the refund inquiry answers it:
    ``S`` / ``SUCCESS``, or ``F`` with the provider's reason (``REFUND_FAILED`` when it gave none)."""
    if refund.status is RefundStatus.SUCCEEDED:
        return "S", "SUCCESS", f"refunded {refund.amount}"
    if refund.status in FINAL_REFUND:
        answer = refund.answer
        reason = answer.reason if answer is not None and answer.reason else "REFUND_FAILED"
        message = answer.message if answer is not None and answer.message else "the provider refunded nothing"
        return "F", reason, f"{message}; nothing was refunded"
    raise ValueError(f"refund {refund.refund_id} is {refund.status.value}, not final")


def refund_payload(event_id: str, sequence: int, refund: Refund) -> str:
    """The ``notifyRefund`` body of a refund that succeeded or failed: its result as the refund inquiry
    answers it (:func:`refund_result_fields`), its amount, and its times in ISO 8601 UTC."""
    status, code, message = refund_result_fields(refund)
    return _json(
        {
            "notifyType": NotificationKind.REFUND.value,
            "notificationId": event_id,
            "sequence": sequence,
            "tradeNo": refund.trade_no,
            "merchantId": refund.merchant_id,
            "paymentId": refund.payment_id,
            "refundId": refund.refund_id,
            "refundRequestId": refund.request_id,
            "status": refund.status.value,
            "refundResult": {"resultStatus": status, "resultCode": code, "resultMessage": message},
            "refundAmount": {"currency": refund.amount.currency, "value": refund.amount.value},
            "refundCreateTime": iso_utc(refund.created_at),
            "updatedAt": iso_utc(refund.updated_at),
        }
    )


_FINAL_PAYMENT = frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED})


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event about to be written by a ledger: all but what the ledger gives it (its id and sequence, from
    which ``payload`` builds the body)."""

    kind: NotificationKind
    merchant_id: str
    trade_no: str
    subject_id: str
    payload: Callable[[str, int], str]


def payment_draft(payment: Payment) -> EventDraft | None:
    """The ``notifyPayment`` draft of a payment that just ended (``None`` for one with no order snapshot: it
    names no merchant)."""
    if payment.order is None:
        return None
    return EventDraft(
        NotificationKind.PAYMENT,
        payment.order.merchant_id,
        payment.trade_no,
        payment.payment_id,
        lambda event_id, sequence: payment_payload(event_id, sequence, payment),
    )


def refund_draft(refund: Refund) -> EventDraft:
    """The ``notifyRefund`` draft of a refund that just succeeded or failed."""
    return EventDraft(
        NotificationKind.REFUND,
        refund.merchant_id,
        refund.trade_no,
        refund.refund_id,
        lambda event_id, sequence: refund_payload(event_id, sequence, refund),
    )


def notification_from_row(row: tuple[Any, ...]) -> Notification:
    """An event from a row of :data:`NOTIFICATION_COLUMNS`."""
    event_id, kind, merchant_id, trade_no, subject_id, sequence, payload, status, attempts = row[:9]
    next_attempt_at, created_at, updated_at, lease_until, leased_by, last_error, delivered_at = row[9:]
    return Notification(
        event_id,
        NotificationKind(kind),
        merchant_id,
        trade_no,
        subject_id,
        int(sequence),
        payload,
        NotificationStatus(status),
        int(attempts),
        float(next_attempt_at),  # SQLite may hand back a whole REAL as an int
        float(created_at),
        float(updated_at),
        None if lease_until is None else float(lease_until),
        leased_by,
        last_error,
        None if delivered_at is None else float(delivered_at),
    )


# --- arguments ---------------------------------------------------------------------------------------------


def check_event_id(event_id: object) -> str:
    """``event_id`` if it is an event id (``evt_`` and 24 lowercase hex digits); else :class:`InvalidInput`."""
    if (
        not isinstance(event_id, str)
        or len(event_id) != 4 + _EVENT_ID_HEX
        or not event_id.startswith("evt_")
        or any(c not in "0123456789abcdef" for c in event_id[4:])
    ):
        raise InvalidInput("event_id", "must be evt_ and 24 lowercase hex digits")
    return event_id


def check_lease_request(worker: object, limit: object, lease_s: object) -> tuple[str, int, float]:
    """``(worker, limit, lease_s)`` of a lease if they are usable: ``worker`` an identifier, ``limit`` an
    integer from 1 to :data:`MAX_LEASE_LIMIT`, ``lease_s`` a finite number of seconds above 0, at most
    :data:`MAX_LEASE_S`."""
    name = check_identifier(worker, "worker")
    count = check_listing_limit(limit)
    if isinstance(lease_s, bool) or not isinstance(lease_s, int | float) or not math.isfinite(lease_s):
        raise InvalidInput("lease_s", f"must be a finite number of seconds, got {type(lease_s).__name__}")
    if not 0 < lease_s <= MAX_LEASE_S:
        raise InvalidInput("lease_s", f"must be more than 0 and at most {MAX_LEASE_S:.0f} seconds")
    return name, count, float(lease_s)


def check_listing_limit(limit: object) -> int:
    """``limit`` if it is an integer from 1 to :data:`MAX_LEASE_LIMIT`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LEASE_LIMIT:
        raise InvalidInput("limit", f"must be an integer from 1 to {MAX_LEASE_LIMIT}")
    return limit


def check_next_attempt(lease_until: object, error: object, next_attempt_at: object) -> tuple[float, str, float | None]:
    """The arguments of a failed delivery, checked: ``lease_until`` and ``next_attempt_at`` (or ``None``)
    moments (seconds since the epoch, 1970 to 9999), ``error`` a string (stored as :func:`error_line` makes
    it)."""
    lease = check_moment(lease_until, "lease_until")
    if not isinstance(error, str):
        raise InvalidInput("error", f"must be a string, got {type(error).__name__}")
    due = None if next_attempt_at is None else check_moment(next_attempt_at, "next_attempt_at")
    return lease, error_line(error), due


def error_line(error: str) -> str:
    """``error`` as it is stored: one line of at most :data:`MAX_ERROR` characters, every control character
    (line breaks included) a space, since it may quote what a merchant's server answered."""
    line = "".join(c if c.isprintable() else " " for c in error).strip()
    return line if len(line) <= MAX_ERROR else line[: MAX_ERROR - 1] + "…"
