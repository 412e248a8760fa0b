"""Refunds: money given back for an order, to the provider and the attempt that took it.

What a provider is handed (:class:`Refund`) and may answer (:class:`RefundAnswer`, :class:`RefundOutcome`),
and what the host answers a merchant (:class:`RefundResult`, with Alipay+'s ``S``/``F``/``U`` status).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .._chain.capabilities import Attempt
from .enums import CheckedEnumType
from .fields import check_instance, check_member, check_moment
from .models import PaymentAmount
from .text import MAX_IDENTIFIER, MAX_TEXT, check_identifier, check_text

__all__ = ["Refund", "RefundAnswer", "RefundOutcome", "RefundResult", "RefundStatus", "ResultStatus"]


class RefundStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """Where a refund is in its life. ``succeeded`` and ``failed`` are final."""

    PROCESSING = "processing"
    """Recorded; the provider was (or is about to be) asked. Counts against what can still be refunded."""
    SUCCEEDED = "succeeded"
    """The provider gave the money back."""
    FAILED = "failed"
    """Nothing moved, and nothing will: the amount can be refunded again under a new request id."""
    NEEDS_RECONCILIATION = "needs_reconciliation"
    """The provider's answer was unknown: counts against what can be refunded until an inquiry settles it."""


class RefundOutcome(enum.StrEnum, metaclass=CheckedEnumType):
    """A provider's word on one refund: its answer to ``refund`` or to ``inquire_refund``."""

    SUCCEEDED = "succeeded"
    """The money went back (or, on inquiry, had gone back) for this refund's key."""
    FAILED = "failed"
    """Nothing moved for this refund's key, and nothing will."""
    UNKNOWN = "unknown"
    """The provider cannot tell yet."""


@dataclass(frozen=True, slots=True)
class RefundAnswer:
    """A provider's answer to ``refund``: the ``outcome`` and, for a failure, a ``reason`` code (such as
    ``REFUND_WINDOW_EXCEEDED``) and a ``message`` for people."""

    outcome: RefundOutcome
    reason: str | None = None
    message: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "outcome", check_member(self.outcome, RefundOutcome, "outcome"))
        if self.reason is not None:
            check_text(self.reason, "reason", limit=MAX_IDENTIFIER, card_numbers="refuse")
        object.__setattr__(
            self, "message", check_text(self.message, "message", limit=MAX_TEXT, required=False, card_numbers="mask")
        )


@dataclass(frozen=True, slots=True)
class Refund:
    """One refund of a paid order, as the ledger records it and a provider is handed it.

    ``attempt`` is the attempt that took the money (never one the chain fell through). ``refund_id`` is the
    host's id and the provider's idempotency key (:attr:`idempotency_key`): it is recorded before the
    provider is called, never reused for another refund, and a provider must move money at most once per
    key, answering a repeat with its first answer. ``request_id`` is the merchant's refund request id,
    unique per merchant. ``amount`` is in the order's currency.
    """

    refund_id: str
    trade_no: str
    payment_id: str
    attempt: Attempt
    amount: PaymentAmount
    request_id: str
    merchant_id: str
    reason: str | None
    status: RefundStatus
    answer: RefundAnswer | None = None
    created_at: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        for name in ("refund_id", "trade_no", "payment_id", "request_id", "merchant_id"):
            check_identifier(getattr(self, name), name)
        check_instance(self.attempt, Attempt, "attempt")
        check_instance(self.amount, PaymentAmount, "amount")
        if self.reason is not None:
            check_text(self.reason, "reason", limit=MAX_TEXT, card_numbers="mask")
        object.__setattr__(self, "status", check_member(self.status, RefundStatus, "status"))
        check_instance(self.answer, RefundAnswer, "answer", optional=True)
        for name in ("created_at", "updated_at"):
            object.__setattr__(self, name, check_moment(getattr(self, name), name))

    @property
    def idempotency_key(self) -> str:
        """The provider's key for this refund: the same on every retry and inquiry of it."""
        return self.refund_id


class ResultStatus(enum.StrEnum, metaclass=CheckedEnumType):
    """The status of an answer to a merchant, as Alipay+ spells it."""

    SUCCESS = "S"
    FAILED = "F"
    UNKNOWN = "U"


@dataclass(frozen=True, slots=True)
class RefundResult:
    """The one answer to a refund request: ``result_status`` ``S`` (refunded), ``F`` (refused or failed:
    nothing moved) or ``U`` (unknown: reconciliation settles it), a ``result_code`` such as ``SUCCESS``,
    ``REFUND_AMOUNT_EXCEED`` or ``REPEAT_REQ_INCONSISTENT``, a message, and the refund when one is recorded."""

    result_status: ResultStatus
    result_code: str
    result_message: str
    refund: Refund | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "result_status", check_member(self.result_status, ResultStatus, "result_status"))
        check_identifier(self.result_code, "result_code")
        object.__setattr__(
            self,
            "result_message",
            check_text(self.result_message, "result_message", limit=MAX_TEXT, required=False, card_numbers="mask"),
        )
        check_instance(self.refund, Refund, "refund", optional=True)
