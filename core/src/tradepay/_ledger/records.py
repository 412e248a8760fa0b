"""What the host records about a payment and its attempts, and what observers are told."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .._chain.capabilities import Attempt, ProviderStatus
from .._spi.enums import CheckedEnumType
from .._spi.fields import MAX_DURATION_MS, check_duration_ms, check_instance, check_member, check_moment
from .._spi.frozen import set_at_once, unchecked
from .._spi.models import PaymentResult
from .._spi.numbers import MAX_TIMESTAMP
from .._spi.text import MAX_IDENTIFIER, MAX_TEXT, check_text, plain_texts
from .orders import Order

__all__ = ["AttemptRecord", "Decision", "OutcomeKind", "Payment", "PaymentStatus", "attempt_record"]

#: The longest rule name and the longest attempt detail a record holds.
MAX_RULE_NAME = 256
MAX_DETAIL = 4096


class Decision(enum.StrEnum, metaclass=CheckedEnumType):
    """What the chain does after an attempt."""

    STOP = "stop"
    """Answer now with this outcome; no other provider is tried."""
    FALLTHROUGH = "fallthrough"
    """Nothing moved: try the next provider."""
    INQUIRE = "inquire"
    """Ambiguous: ask the same provider what happened before anything else."""


class OutcomeKind(enum.StrEnum, metaclass=CheckedEnumType):
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


class PaymentStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """A payment's state. ``processing`` ends in one of the others; ``succeeded``, ``failed`` and
    ``cancelled`` are terminal; ``needs_reconciliation`` is settled only by reconciliation (to ``succeeded``
    or ``failed``). The transitions are enforced in :mod:`tradepay._ledger.states`."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NEEDS_RECONCILIATION = "needs_reconciliation"


@set_at_once
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

    def __post_init__(self) -> None:
        if _plainly_valid(
            self.attempt, self.kind, self.result, self.rule, self.decision, self.final, self.detail, self.duration_ms
        ) and (type(self.status) is ProviderStatus):
            # The record the chain makes on every attempt, each field already of its exact type: the checks
            # below, in one expression (measured: 12,000 instructions of a payment's 499,000).
            return
        check_instance(self.attempt, Attempt, "attempt")
        check_instance(self.result, PaymentResult, "result", optional=True)
        # Records are made on every payment: a field already of its type is checked, not set again.
        for name, kind in _RECORD_ENUMS:
            value = getattr(self, name)
            if type(value) is not kind:
                object.__setattr__(self, name, check_member(value, kind, name))
        duration = check_duration_ms(self.duration_ms, "duration_ms")
        if duration is not self.duration_ms:
            object.__setattr__(self, "duration_ms", duration)
        if not self.detail and plain_texts((self.rule,), MAX_RULE_NAME):
            return  # a valid answer's record, on every attempt: passed in one call
        # A rule's name is the configuration's (its rule table's), not a payer's input: kept as given.
        check_text(self.rule, "rule", limit=MAX_RULE_NAME)
        detail = check_text(self.detail, "detail", limit=MAX_DETAIL, required=False, card_numbers="mask")
        object.__setattr__(self, "detail", detail)


_RECORD_ENUMS = (("kind", OutcomeKind), ("decision", Decision), ("final", Decision), ("status", ProviderStatus))


def _plainly_valid(
    attempt: object,
    kind: object,
    result: object,
    rule: object,
    decision: object,
    final: object,
    detail: object,
    duration_ms: object,
) -> bool:
    """True when an attempt record's fields (but ``status``) are of their exact types, its duration in range, its
    detail empty and its rule's name plain text: :meth:`AttemptRecord.__post_init__`'s checks all pass, and
    change nothing. False tells nothing: the full checks say what is wrong, if anything."""
    return (
        type(kind) is OutcomeKind
        and type(decision) is Decision
        and type(final) is Decision
        and type(attempt) is Attempt
        and (result is None or type(result) is PaymentResult)
        and type(duration_ms) is float
        and 0.0 <= duration_ms <= MAX_DURATION_MS
        and not detail
        and plain_texts((rule,), MAX_RULE_NAME)
    )


_unchecked_record = unchecked(AttemptRecord)


def attempt_record(
    attempt: Attempt,
    kind: OutcomeKind,
    result: PaymentResult | None,
    rule: str,
    decision: Decision,
    final: Decision,
    detail: str,
    duration_ms: float,
    status: ProviderStatus,
) -> AttemptRecord:
    """``AttemptRecord(attempt, kind, ...)``, the same record or the same error, made by the record's twin
    (:func:`tradepay._spi.frozen.unchecked`) when its checks would pass and change nothing (the record the chain
    makes of every attempt), which also skips ``__post_init__``'s call and its second look at ``status``.
    Measured: 1,900 instructions of the constructor's 10,000 per record (set at once), 5,700 per 3-attempt
    payment; 10,700 of 18,800 against the dataclass's own ``__init__`` (docs/performance.md).
    core/tests/test_chain_fast_paths.py checks, over generated fields, that it gives what the constructor
    gives, and that it sets every field."""
    if _plainly_valid(attempt, kind, result, rule, decision, final, detail, duration_ms) and (
        type(status) is ProviderStatus
    ):
        return _unchecked_record(attempt, kind, result, rule, decision, final, detail, duration_ms, status)
    return AttemptRecord(attempt, kind, result, rule, decision, final, detail, duration_ms, status)


@set_at_once
@dataclass(frozen=True, slots=True)
class Payment:
    """A payment of one order: its status, its attempts in order, and the one result answered.

    Its text is checked to be storable (:func:`tradepay.check_text`); the trade number was checked as an
    identifier when its :class:`Order` was made.
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

    def __post_init__(self) -> None:
        if (
            type(self.status) is PaymentStatus
            and (self.result is None or type(self.result) is PaymentResult)
            and type(self.attempts) is tuple
            and type(self.created_at) is float
            and type(self.updated_at) is float
            and 0.0 <= self.created_at <= MAX_TIMESTAMP
            and 0.0 <= self.updated_at <= MAX_TIMESTAMP
            and (self.pending is None or type(self.pending) is Attempt)
            and (self.order is None or type(self.order) is Order)
            and (not self.attempts or all(type(record) is AttemptRecord for record in self.attempts))
            and plain_texts((self.payment_id, self.trade_no, self.app_id or "-"), MAX_IDENTIFIER)
        ):
            # The payment a ledger makes on every change, each field already of its exact type: the checks
            # below, in one expression (measured: 16,000 instructions of a payment's 449,000).
            return
        if type(self.status) is not PaymentStatus:
            object.__setattr__(self, "status", check_member(self.status, PaymentStatus, "status"))
        check_instance(self.result, PaymentResult, "result", optional=True)
        check_instance(self.attempts, (tuple, list), "attempts")
        for index, record in enumerate(self.attempts):
            check_instance(record, AttemptRecord, f"attempts[{index}]")
        if type(self.attempts) is not tuple:
            object.__setattr__(self, "attempts", tuple(self.attempts))
        for name in ("created_at", "updated_at"):
            moment = check_moment(getattr(self, name), name)
            if moment is not getattr(self, name):
                object.__setattr__(self, name, moment)
        check_instance(self.pending, Attempt, "pending", optional=True)
        check_instance(self.order, Order, "order", optional=True)
        if plain_texts((self.payment_id, self.trade_no, self.app_id or "-"), MAX_IDENTIFIER):
            return  # a ledger makes one on every change of a payment: passed in one call
        check_text(self.payment_id, "payment_id", limit=MAX_IDENTIFIER)
        check_text(self.trade_no, "trade_no", limit=MAX_IDENTIFIER)
        if self.app_id is not None:
            check_text(self.app_id, "app_id", limit=MAX_TEXT, required=False)
