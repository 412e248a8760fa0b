"""What the host records about a payment and its attempts, and what observers are told."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ._attempts import Attempt, ProviderStatus
from ._models import PaymentResult
from ._orders import Order

__all__ = ["AttemptRecord", "Decision", "OutcomeKind", "Payment", "PaymentStatus"]


class Decision(enum.StrEnum):
    """What the chain does after an attempt."""

    STOP = "stop"
    """Answer now with this outcome; no other provider is tried."""
    FALLTHROUGH = "fallthrough"
    """Nothing moved: try the next provider."""
    INQUIRE = "inquire"
    """Ambiguous: ask the same provider what happened before anything else."""


class OutcomeKind(enum.StrEnum):
    """How a provider call ended, before any rule is applied."""

    ANSWER = "answer"
    """The provider returned a valid :class:`PaymentResult`."""
    EXCEPTION = "exception"
    """The provider raised."""
    INVALID = "invalid"
    """The provider returned something that is not a valid :class:`PaymentResult`."""
    TIMEOUT = "timeout"
    """The provider missed its deadline."""
    INTERRUPTED = "interrupted"
    """The host stopped (a crash, a kill) before it recorded the answer; reconciliation settled it."""


class PaymentStatus(enum.StrEnum):
    """A payment's state. ``processing`` ends in one of the others; ``succeeded``, ``failed`` and
    ``cancelled`` are terminal; ``needs_reconciliation`` is settled only by reconciliation (to ``succeeded``
    or ``failed``). The transitions are enforced in :mod:`tradepay._states`."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_RECONCILIATION = "needs_reconciliation"


@dataclass(frozen=True, slots=True)
class AttemptRecord:
    """One attempt's story: what the provider answered, which rule matched and what the chain decided.

    ``result`` is the provider's answer when ``kind`` is ``answer``; ``detail`` describes the rest (the
    exception, the invalid answer, the inquiry and cancel that followed). ``final`` is the decision after
    any inquiry: ``stop`` or ``fallthrough``.
    """

    attempt: Attempt
    kind: OutcomeKind
    result: PaymentResult | None
    rule: str
    decision: Decision
    final: Decision
    detail: str
    duration_ms: float
    status: ProviderStatus = ProviderStatus.UNKNOWN
    """What the chain concluded about this attempt's money: ``paid``, ``not_paid``, or ``unknown`` (left for
    reconciliation). Reconciliation may later settle an ``unknown`` attempt."""


@dataclass(frozen=True, slots=True)
class Payment:
    """A payment of one order: its status, its attempts in order, and the one result answered.

    ``order`` is the order the payment was made for, as it was resolved when the payment began, whichever
    order book answered (the ledger's own or a plugin's): a snapshot that does not follow the order's later
    changes. Reconciliation asks providers about this order. Every ledger records it; it is ``None`` only in
    a ``Payment`` built by hand.
    """

    payment_id: str
    trade_no: str
    status: PaymentStatus
    result: PaymentResult | None
    attempts: tuple[AttemptRecord, ...] = ()
    app_id: str | None = None
    created_at: float = 0.0
    updated_at: float = 0.0
    pending: Attempt | None = None
    """The attempt recorded and sent whose outcome is not recorded yet (in flight, or cut off by a crash)."""
    order: Order | None = None
