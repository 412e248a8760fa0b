"""The notification outbox of the SQL ledgers (table ``notifications``, migration 7): writing an event inside
the transaction that ends its payment or refund, and the :class:`~tradepay._ledger.notifications.Outbox`
methods delivery workers use.

A lease is one statement on PostgreSQL: ``WITH due AS MATERIALIZED (SELECT ... FOR UPDATE SKIP LOCKED) UPDATE
... WHERE event_id IN (SELECT event_id FROM due)``, so concurrent workers take different events without waiting
for each other; on SQLite the same statement
runs in one ``BEGIN IMMEDIATE`` transaction, which holds the whole file. Every other change reads the event's
row (locked on PostgreSQL) in its transaction, checks the transition
(:func:`~tradepay._ledger.states.check_notification`) and updates the row only in the state it read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._spi.errors import InvalidInput
from .._spi.fields import check_moment
from .._spi.refunds import Refund
from .databases import Connection, Database, listing_where
from .notifications import (
    NOTIFICATION_COLUMNS,
    EventDraft,
    Notification,
    NotificationStatus,
    check_event_id,
    check_lease_request,
    check_listing_limit,
    check_next_attempt,
    new_event_id,
    notification_from_row,
    payment_draft,
    refund_draft,
)
from .records import Payment
from .states import IllegalTransition, check_notification

__all__ = ["SQLOutbox"]

_DUE = "status = 'pending' AND next_attempt_at <= ? AND (lease_until IS NULL OR lease_until <= ?)"


class SQLOutbox:
    """The outbox half of :class:`~tradepay._ledger.sql.SQLLedger` (a mixin: it provides ``database``,
    ``_clock`` and ``_for_update``)."""

    database: Database
    _clock: Callable[[], float]
    _for_update: str

    # --- writing events, inside the ledger's own transactions ---------------------------------------------

    def _notify_url(self, db: Connection, merchant_id: str) -> str | None:
        row = db.execute("SELECT notify_url FROM merchants WHERE client_id = ?", (merchant_id,)).fetchone()
        return None if row is None else row[0]

    def _next_sequence(self, db: Connection, trade_no: str) -> int:
        (last,) = db.execute(
            "SELECT COALESCE(MAX(sequence), 0) FROM notifications WHERE trade_no = ?", (trade_no,)
        ).fetchone()
        return int(last) + 1

    def _insert_event(self, db: Connection, draft: EventDraft | None, *, lock_payment: str | None = None) -> None:
        """Write ``draft``'s event in the transaction ``db`` when its merchant is notified, after locking the
        payment row ``lock_payment`` (PostgreSQL) if one is named."""
        if draft is None or self._notify_url(db, draft.merchant_id) is None:
            return
        if lock_payment is not None:
            db.execute(f"SELECT payment_id FROM payments WHERE payment_id = ?{self._for_update}", (lock_payment,))
        event_id, sequence, now = new_event_id(), self._next_sequence(db, draft.trade_no), self._clock()
        names = (event_id, draft.kind.value, draft.merchant_id, draft.trade_no, draft.subject_id)
        db.execute(
            f"INSERT INTO notifications ({NOTIFICATION_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, NULL, NULL, NULL, NULL)",
            (*names, sequence, draft.payload(event_id, sequence), now, now, now),
        )

    def _payment_event(self, db: Connection, payment: Payment) -> None:
        """Write the ``notifyPayment`` event of ``payment``, just ended, when its merchant is notified.

        The caller's transaction holds the payment's row (locked first on PostgreSQL): of one order's events,
        the payment's are written one at a time, so ``MAX(sequence) + 1`` is the next."""
        self._insert_event(db, payment_draft(payment))

    def _refund_event(self, db: Connection, refund: Refund) -> None:
        """Write the ``notifyRefund`` event of ``refund``, just ended, when its merchant is notified."""
        # Two refunds of one order may end at once on PostgreSQL, each holding only its own refund's row: both
        # would read the same MAX(sequence) and the second insert would break UNIQUE (trade_no, sequence),
        # failing a refund whose money moved. Locking the order's payment row first makes them take turns,
        # and each reads the sequence after the other's commit (READ COMMITTED reads anew per statement).
        self._insert_event(db, refund_draft(refund), lock_payment=refund.payment_id)

    # --- the Outbox ----------------------------------------------------------------------------------------

    def lease_notifications(self, worker: str, *, limit: int, lease_s: float) -> list[Notification]:
        worker, limit, lease_s = check_lease_request(worker, limit, lease_s)
        skip_locked = " FOR UPDATE SKIP LOCKED" if self.database.kind == "postgresql" else ""
        with self.database.write() as db:
            now = self._clock()
            # The chosen events are materialised once: as a plain ``IN (subquery)``, PostgreSQL may run the
            # subquery again for each row, skip the rows this very statement just updated, and lease more than
            # ``limit`` (seen: 3 of limit 2).
            rows = db.execute(
                f"WITH due AS MATERIALIZED (SELECT event_id FROM notifications WHERE {_DUE}"
                f" ORDER BY created_at, sequence, event_id LIMIT ?{skip_locked})"
                " UPDATE notifications SET lease_until = ?, leased_by = ?, updated_at = ?"
                f" WHERE event_id IN (SELECT event_id FROM due) RETURNING {NOTIFICATION_COLUMNS}",
                (now, now, limit, now + lease_s, worker, now),
            ).fetchall()
        # RETURNING gives the rows in no promised order: oldest first, as the query chose them.
        return sorted(map(notification_from_row, rows), key=lambda n: (n.created_at, n.sequence, n.event_id))

    def _locked_event(self, db: Connection, event_id: str) -> Notification:
        row = db.execute(
            f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE event_id = ?{self._for_update}", (event_id,)
        ).fetchone()
        if row is None:
            raise InvalidInput("event_id", f"no notification {event_id}")
        return notification_from_row(row)

    def _moved(
        self, db: Connection, event: Notification, new: NotificationStatus, now: float, sets: str, *params: Any
    ) -> Notification:
        """Move ``event`` (read in this transaction) to ``new`` at ``now``, setting ``sets`` too (its ``?`` are
        ``params``); the row as written."""
        check_notification(event.status, new)
        row = db.execute(
            f"UPDATE notifications SET status = ?, updated_at = ?, {sets} WHERE event_id = ? AND status = ?"
            f" RETURNING {NOTIFICATION_COLUMNS}",
            (new.value, now, *params, event.event_id, event.status.value),
        ).fetchone()
        if row is None:  # another process moved it since we read it (the row lock rules this out)
            raise IllegalTransition("a notification", event.status.value, new.value)
        return notification_from_row(row)

    def notification_delivered(self, event_id: str, lease_until: float) -> Notification:
        check_event_id(event_id)
        check_moment(lease_until, "lease_until")
        with self.database.write() as db:
            event = self._locked_event(db, event_id)
            if event.status is NotificationStatus.DELIVERED:
                return event
            now = self._clock()
            return self._moved(
                db,
                event,
                NotificationStatus.DELIVERED,
                now,
                "attempts = attempts + 1, delivered_at = ?, lease_until = NULL, leased_by = NULL",
                now,
            )

    def notification_failed(
        self, event_id: str, lease_until: float, *, error: str, next_attempt_at: float | None
    ) -> Notification | None:
        check_event_id(event_id)
        lease, line, due = check_next_attempt(lease_until, error, next_attempt_at)
        with self.database.write() as db:
            event = self._locked_event(db, event_id)
            if event.status is not NotificationStatus.PENDING or event.lease_until != lease:
                return None  # not this lease's event any more: its outcome is another worker's to record
            new = NotificationStatus.DEAD if due is None else NotificationStatus.PENDING
            return self._moved(
                db,
                event,
                new,
                self._clock(),
                "attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL, leased_by = NULL",
                line,
                event.next_attempt_at if due is None else due,
            )

    def retry_notification(self, event_id: str) -> Notification:
        check_event_id(event_id)
        with self.database.write() as db:
            event = self._locked_event(db, event_id)
            # A pending event keeps its lease, if it has one: a retry never takes an event from its worker.
            now = self._clock()
            return self._moved(db, event, NotificationStatus.PENDING, now, "next_attempt_at = ?", now)

    def get_notification(self, event_id: str) -> Notification | None:
        check_event_id(event_id)
        with self.database.read() as db:
            row = db.execute(
                f"SELECT {NOTIFICATION_COLUMNS} FROM notifications WHERE event_id = ?", (event_id,)
            ).fetchone()
        return None if row is None else notification_from_row(row)

    def notifications(
        self, *, status: NotificationStatus | None = None, trade_no: str | None = None, limit: int = 100
    ) -> list[Notification]:
        limit = check_listing_limit(limit)
        where, params = listing_where(None if status is None else NotificationStatus(status), trade_no)
        with self.database.read() as db:
            rows = db.execute(
                f"SELECT {NOTIFICATION_COLUMNS} FROM notifications {where}"
                " ORDER BY created_at DESC, sequence DESC, event_id DESC LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [notification_from_row(row) for row in rows]

    def notification_counts(self) -> dict[NotificationStatus, int]:
        with self.database.read() as db:
            rows = db.execute("SELECT status, COUNT(*) FROM notifications GROUP BY status").fetchall()
        counts = dict.fromkeys(NotificationStatus, 0)
        counts.update({NotificationStatus(status): int(n) for status, n in rows})
        return counts
