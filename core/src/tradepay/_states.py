"""The state machines of payments and attempts, enforced in this one place.

Payment::

    processing ──> succeeded | failed | cancelled | needs_reconciliation
    needs_reconciliation ──> succeeded | failed          (reconciliation only)
    succeeded, failed, cancelled: terminal

Attempt (what is known about its money)::

    sent ──> paid | not_paid | unknown                   (the chain records the outcome)
    sent, unknown ──> paid | not_paid                    (reconciliation settles it)
    paid, not_paid: terminal

Every ledger calls :func:`check_payment` / :func:`check_attempt` before it writes a state, so an illegal
transition is an error whatever the storage.
"""

from __future__ import annotations

from ._attempts import ProviderStatus
from ._errors import TradePayError
from ._records import PaymentStatus

__all__ = ["ATTEMPT_SENT", "IllegalTransition", "check_attempt", "check_payment", "is_terminal"]

#: The state of an attempt that was recorded and sent, with no outcome yet.
ATTEMPT_SENT = "sent"

P = PaymentStatus
_PAYMENT: dict[PaymentStatus, frozenset[PaymentStatus]] = {
    P.PROCESSING: frozenset({P.SUCCEEDED, P.FAILED, P.CANCELLED, P.NEEDS_RECONCILIATION}),
    P.NEEDS_RECONCILIATION: frozenset({P.SUCCEEDED, P.FAILED}),
    P.SUCCEEDED: frozenset(),
    P.FAILED: frozenset(),
    P.CANCELLED: frozenset(),
}
A = ProviderStatus
_ATTEMPT: dict[str, frozenset[str]] = {
    ATTEMPT_SENT: frozenset({A.PAID, A.NOT_PAID, A.UNKNOWN}),
    A.UNKNOWN: frozenset({A.PAID, A.NOT_PAID}),
    A.PAID: frozenset(),
    A.NOT_PAID: frozenset(),
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
