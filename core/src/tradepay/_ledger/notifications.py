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

    pending ──> delivered | dead
    dead ──> pending                     (an operator's retry)
    delivered: terminal
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from .._spi.enums import CheckedEnumType

__all__ = ["Notification", "NotificationKind", "NotificationStatus", "Outbox"]


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
