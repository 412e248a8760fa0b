"""The state machines of payments and attempts, enforced in this one place.

Payment::

    processing ──> succeeded | failed | cancelled | needs_reconciliation
    needs_reconciliation ──> succeeded | failed          (reconciliation only)
    succeeded, failed, cancelled: terminal

Attempt (what is known about its money)::

    sent ──> paid | not_paid | unknown                   (the chain records the outcome)
    sent, unknown ──> paid | not_paid                    (reconciliation settles it)
    paid, not_paid: terminal

Refund::

    processing ──> succeeded | failed | needs_reconciliation
    needs_reconciliation ──> succeeded | failed          (reconciliation only)
    succeeded, failed: terminal

Notification (an event of the outbox)::

    pending ──> pending | delivered | dead               (a delivery failed and is retried, succeeded, gave up)
    dead ──> pending                                     (an operator's retry)
    dead ──> delivered                                   (a late acknowledgement: the merchant has it)
    delivered: terminal

Every ledger calls :func:`check_payment` / :func:`check_attempt` / :func:`check_refund` /
:func:`check_notification` before it writes a state, so an illegal transition is an error whatever the
storage.
"""

from __future__ import annotations

from .._chain.capabilities import ProviderStatus
from .._spi.errors import TradePayError
from .._spi.refunds import RefundStatus
from .notifications import NotificationStatus
from .records import PaymentStatus

__all__ = [
    "ATTEMPT_SENT",
    "IllegalTransition",
    "check_attempt",
    "check_notification",
    "check_payment",
    "check_refund",
    "is_terminal",
]

#: The state of an attempt that was recorded and sent, with no outcome yet.
ATTEMPT_SENT = "sent"

_PAYMENT: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    PaymentStatus.PROCESSING: frozenset(
        {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED, PaymentStatus.NEEDS_RECONCILIATION}
    ),
    PaymentStatus.NEEDS_RECONCILIATION: frozenset({PaymentStatus.SUCCEEDED, PaymentStatus.FAILED}),
    PaymentStatus.SUCCEEDED: frozenset(),
    PaymentStatus.FAILED: frozenset(),
    PaymentStatus.CANCELLED: frozenset(),
}
_ATTEMPT: dict[str, frozenset[str]] = {
    ATTEMPT_SENT: frozenset({ProviderStatus.PAID, ProviderStatus.NOT_PAID, ProviderStatus.UNKNOWN}),
    ProviderStatus.UNKNOWN: frozenset({ProviderStatus.PAID, ProviderStatus.NOT_PAID}),
    ProviderStatus.PAID: frozenset(),
    ProviderStatus.NOT_PAID: frozenset(),
}

_REFUND: dict[RefundStatus, frozenset[RefundStatus]] = {
    RefundStatus.PROCESSING: frozenset(
        {RefundStatus.SUCCEEDED, RefundStatus.FAILED, RefundStatus.NEEDS_RECONCILIATION}
    ),
    RefundStatus.NEEDS_RECONCILIATION: frozenset({RefundStatus.SUCCEEDED, RefundStatus.FAILED}),
    RefundStatus.SUCCEEDED: frozenset(),
    RefundStatus.FAILED: frozenset(),
}

_NOTIFICATION: dict[NotificationStatus, frozenset[NotificationStatus]] = {
    NotificationStatus.PENDING: frozenset(
        {NotificationStatus.PENDING, NotificationStatus.DELIVERED, NotificationStatus.DEAD}
    ),
    NotificationStatus.DEAD: frozenset({NotificationStatus.PENDING, NotificationStatus.DELIVERED}),
    NotificationStatus.DELIVERED: frozenset(),
}


class IllegalTransition(TradePayError):
    """A state change the state machine does not allow (a terminal state never changes)."""

    def __init__(self, what: str, old: str, new: str) -> None:
        self.old = old
        self.new = new
        super().__init__(f"{what} cannot go from {old} to {new}")


def is_terminal(status: PaymentStatus) -> bool:
    """True for ``succeeded``, ``failed`` and ``cancelled``."""
    return not _PAYMENT[status]


def check_payment(old: PaymentStatus, new: PaymentStatus) -> None:
    """Raise :class:`IllegalTransition` unless a payment may go from ``old`` to ``new``."""
    if new not in _PAYMENT[old]:
        raise IllegalTransition("a payment", old.value, new.value)


def check_attempt(old: str, new: ProviderStatus) -> None:
    """Raise :class:`IllegalTransition` unless an attempt may go from ``old`` (``sent`` or a
    :class:`ProviderStatus` value) to ``new``."""
    if new not in _ATTEMPT[str(old)]:
        raise IllegalTransition("an attempt", str(old), new.value)


def check_refund(old: RefundStatus, new: RefundStatus) -> None:
    """Raise :class:`IllegalTransition` unless a refund may go from ``old`` to ``new``."""
    if new not in _REFUND[old]:
        raise IllegalTransition("a refund", old.value, new.value)


def check_notification(old: NotificationStatus, new: NotificationStatus) -> None:
    """Raise :class:`IllegalTransition` unless an event may go from ``old`` to ``new``."""
    if new not in _NOTIFICATION[old]:
        raise IllegalTransition("a notification", old.value, new.value)
