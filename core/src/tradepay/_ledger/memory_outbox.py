"""The notification outbox of :class:`~tradepay.MemoryLedger`: events kept in memory under the ledger's lock,
with the same contract as the SQL ledgers' (:mod:`tradepay._ledger.sql_outbox`).

An event is made while the ledger's lock is held for the payment's or refund's state change, and stored with
it; the merchant's notification URL is read from the ledger's merchant book
(:func:`~tradepay._ledger.merchants.merchant_book`) at that moment.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import replace

from .._spi.errors import InvalidInput
from .._spi.fields import check_moment
from .._spi.refunds import Refund
from .merchants import MerchantBook, merchant_book
from .notifications import (
    EventDraft,
    Notification,
    NotificationStatus,
    check_event_id,
    check_lease_request,
    check_listing_limit,
    check_next_attempt,
    new_event_id,
    payment_draft,
    refund_draft,
)
from .records import Payment
from .states import check_notification

__all__ = ["MemoryOutbox"]


class MemoryOutbox:
    """The outbox half of :class:`~tradepay.MemoryLedger` (a mixin: it provides ``_lock`` and ``_clock``)."""

    _lock: threading.Lock
    _clock: Callable[[], float]

    def _init_outbox(self) -> None:
        self._events: dict[str, Notification] = {}  # in the order they were written: oldest first
        self._sequences: dict[str, int] = {}  # trade_no -> the sequence of its latest event
        self._book: MerchantBook | None = None

    # --- writing events, under the ledger's lock ------------------------------------------------------------

    def _notified(self, merchant_id: str) -> bool:
        if self._book is None:  # the book lives as long as the ledger: found once
            self._book = merchant_book(self)
        merchant = self._book.get_merchant(merchant_id)
        return merchant is not None and merchant.notify_url is not None

    def _event(self, draft: EventDraft | None) -> Notification | None:
        """The event of ``draft`` to store with a state change (caller holds the lock), or ``None`` when the
        merchant is not notified. Nothing is stored here: the caller stores it with the change
        (:meth:`_store_event`), once nothing can fail any more."""
        if draft is None or not self._notified(draft.merchant_id):
            return None
        event_id, sequence, now = new_event_id(), self._sequences.get(draft.trade_no, 0) + 1, self._clock()
        payload, pending = draft.payload(event_id, sequence), NotificationStatus.PENDING
        return Notification(
            event_id,
            draft.kind,
            draft.merchant_id,
            draft.trade_no,
            draft.subject_id,
            sequence,
            payload,
            pending,
            0,
            now,
            now,
            now,
        )

    def _store_event(self, event: Notification | None) -> None:
        if event is not None:
            self._events[event.event_id] = event
            self._sequences[event.trade_no] = event.sequence

    def _payment_event(self, payment: Payment) -> Notification | None:
        if payment.order is None or not self._notified(payment.order.merchant_id):
            return None  # the common case, decided before any draft is made: a payment's path stays short
        return self._event(payment_draft(payment))

    def _refund_event(self, refund: Refund) -> Notification | None:
        return self._event(refund_draft(refund))

    # --- the Outbox -----------------------------------------------------------------------------------------

    def _found(self, event_id: str) -> Notification:
        event = self._events.get(check_event_id(event_id))
        if event is None:
            raise InvalidInput("event_id", f"no notification {event_id}")
        return event

    def _put(self, event: Notification, new: NotificationStatus, now: float, **changes: object) -> Notification:
        check_notification(event.status, new)
        moved = replace(event, status=new, updated_at=now, **changes)  # type: ignore[arg-type]
        self._events[event.event_id] = moved
        return moved

    def lease_notifications(self, worker: str, *, limit: int, lease_s: float) -> list[Notification]:
        worker, limit, lease_s = check_lease_request(worker, limit, lease_s)
        with self._lock:
            now = self._clock()
            due = [
                e
                for e in self._events.values()
                if e.status is NotificationStatus.PENDING
                and e.next_attempt_at <= now
                and (e.lease_until is None or e.lease_until <= now)
            ]
            due.sort(key=lambda e: e.created_at)  # stable: events written at one moment stay in their order
            leased = [replace(e, lease_until=now + lease_s, leased_by=worker, updated_at=now) for e in due[:limit]]
            self._events.update((e.event_id, e) for e in leased)
            return leased

    def notification_delivered(self, event_id: str, lease_until: float) -> Notification:
        check_moment(lease_until, "lease_until")
        with self._lock:
            event = self._found(event_id)
            if event.status is NotificationStatus.DELIVERED:
                return event
            now = self._clock()
            return self._put(
                event,
                NotificationStatus.DELIVERED,
                now,
                attempts=event.attempts + 1,
                delivered_at=now,
                lease_until=None,
                leased_by=None,
            )

    def notification_failed(
        self, event_id: str, lease_until: float, *, error: str, next_attempt_at: float | None
    ) -> Notification | None:
        lease, line, due = check_next_attempt(lease_until, error, next_attempt_at)
        with self._lock:
            event = self._found(event_id)
            if event.status is not NotificationStatus.PENDING or event.lease_until != lease:
                return None  # not this lease's event any more: its outcome is another worker's to record
            return self._put(
                event,
                NotificationStatus.DEAD if due is None else NotificationStatus.PENDING,
                self._clock(),
                attempts=event.attempts + 1,
                last_error=line,
                next_attempt_at=event.next_attempt_at if due is None else due,
                lease_until=None,
                leased_by=None,
            )

    def retry_notification(self, event_id: str) -> Notification:
        with self._lock:
            event = self._found(event_id)
            now = self._clock()
            # A pending event keeps its lease, if it has one: a retry never takes an event from its worker.
            return self._put(event, NotificationStatus.PENDING, now, next_attempt_at=now)

    def get_notification(self, event_id: str) -> Notification | None:
        check_event_id(event_id)
        with self._lock:
            return self._events.get(event_id)

    def notifications(
        self, *, status: NotificationStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Notification]:
        limit = check_listing_limit(limit)
        wanted = None if status is None else NotificationStatus(status)
        with self._lock:
            found = [
                e
                for e in reversed(self._events.values())
                if (wanted is None or e.status is wanted) and (trade_no is None or e.trade_no == trade_no)
            ]
        found.sort(key=lambda e: e.created_at, reverse=True)  # stable: newest written first within a moment
        return found[:limit]

    def notification_counts(self) -> dict[NotificationStatus, int]:
        counts = dict.fromkeys(NotificationStatus, 0)
        with self._lock:
            for event in self._events.values():
                counts[event.status] += 1
        return counts
