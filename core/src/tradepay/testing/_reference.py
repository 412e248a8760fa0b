"""The reference provider: a scriptable provider that stands in for any real one in tests and demos.

Each call to ``pay`` takes the next outcome of its script (the last one repeats). It keeps an honest record
of the money it moved per idempotency key, so inquiry and cancel tell the truth unless scripted otherwise, and
answers a key seen before as every provider on the kit does (:func:`tradepay.replay_payment`).
"""

from __future__ import annotations

import asyncio
import enum
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .._chain.breaker import FailureScope
from .._chain.capabilities import Attempt, Capabilities, ProviderConfig, ProviderStatus
from .._chain.hookspecs import hookimpl
from .._kit.answers import decline
from .._kit.attempts import AttemptRow, AttemptStatus, replay_payment
from .._ledger.orders import Order
from .._spi.errors import ConfigError
from .._spi.models import ErrorCode, PaymentResult, ResultCode, ResultError
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome
from ._refund_desk import RefundDesk

__all__ = ["AsyncReferenceProvider", "Outcome", "PayOnlyReferenceProvider", "ReferenceProvider", "reference_provider"]


class Outcome(enum.StrEnum):
    """What one scripted ``pay`` call does. Only ``success`` and the ``late_*`` ones move money.

    Every answer that is not a success says whose failure it is (``extended_info["failure_scope"]``): the
    declines and the user's cancel are about the payment, the errors are the provider's own.
    """

    SUCCESS = "success"
    DECLINE = "decline"  # 4000 / 1002 CARD_DECLINED
    INSUFFICIENT = "insufficient"  # 4000 / 1002 USER_BALANCE_NOT_ENOUGH
    RISK_DECLINE = "risk_decline"  # 4000 / 1002 RISK_REJECT
    STOLEN = "stolen"  # 4000 / 1002 STOLEN_CARD
    USER_CANCEL = "user_cancel"  # 6001 / 1001
    AGREEMENT_PENDING = "agreement_pending"  # 4000 / 2001
    SYSTEM_ERROR = "system_error"  # 4000 / 1005, the provider's own
    TIMEOUT_ERROR = "timeout_error"  # 4000 / 1003, nothing moved, the provider's own
    UNKNOWN_ERROR = "unknown_error"  # 4000 / 1000, nothing moved, the provider's own
    PROCESSING = "processing"  # 8000, nothing moved
    NETWORK_ERROR = "network_error"  # 6002, nothing moved, the provider's own
    UNKNOWN_RESULT = "unknown_result"  # 6004, nothing moved, the provider's own
    EXCEPTION = "exception"  # raises RuntimeError, nothing moved
    GARBAGE = "garbage"  # returns a dict, nothing moved
    HANG = "hang"  # never answers (until hang_s), nothing moved
    LATE_SUCCESS = "late_success"  # money moves, the answer is 6004 / 1003 timeout, the provider's own
    LATE_SUCCESS_HANG = "late_success_hang"  # money moves, then no answer (until hang_s)


_PAYMENT = {FailureScope.KEY: FailureScope.PAYMENT.value}
_PROVIDER = {FailureScope.KEY: FailureScope.PROVIDER.value}


def _declined(code: ErrorCode, reason: str, scope: FailureScope = FailureScope.PAYMENT) -> PaymentResult:
    if scope is FailureScope.PAYMENT:
        return decline(reason, reason, message=reason.lower().replace("_", " "), code=code)
    return PaymentResult(
        ResultCode.FAILED,
        reason.lower().replace("_", " "),
        ResultError(code, reason),
        {"reason": reason, FailureScope.KEY: scope.value},
    )


_ANSWERS: dict[Outcome, PaymentResult] = {
    Outcome.DECLINE: _declined(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"),
    Outcome.INSUFFICIENT: _declined(ErrorCode.APP_SERVICE_ERROR, "USER_BALANCE_NOT_ENOUGH"),
    Outcome.RISK_DECLINE: _declined(ErrorCode.APP_SERVICE_ERROR, "RISK_REJECT"),
    Outcome.STOLEN: _declined(ErrorCode.APP_SERVICE_ERROR, "STOLEN_CARD"),
    Outcome.USER_CANCEL: PaymentResult(
        ResultCode.USER_CANCEL, "cancelled", ResultError(ErrorCode.USER_CANCEL, "cancelled"), _PAYMENT
    ),
    Outcome.AGREEMENT_PENDING: _declined(ErrorCode.AUTH_PENDING_AGREEMENT, "AUTH_PENDING_AGREEMENT"),
    Outcome.SYSTEM_ERROR: _declined(ErrorCode.SYSTEM_ERROR, "SYSTEM_ERROR", FailureScope.PROVIDER),
    Outcome.TIMEOUT_ERROR: _declined(ErrorCode.TIMEOUT, "TIMEOUT", FailureScope.PROVIDER),
    Outcome.UNKNOWN_ERROR: _declined(ErrorCode.UNKNOWN_ERROR, "UNKNOWN", FailureScope.PROVIDER),
    Outcome.PROCESSING: PaymentResult(ResultCode.PROCESSING, "processing", extended_info=_PAYMENT),
    Outcome.NETWORK_ERROR: PaymentResult(ResultCode.NETWORK_ERROR, "network error", extended_info=_PROVIDER),
    Outcome.UNKNOWN_RESULT: PaymentResult(ResultCode.UNKNOWN, "unknown", extended_info=_PROVIDER),
    Outcome.LATE_SUCCESS: PaymentResult(
        ResultCode.UNKNOWN, "timeout", ResultError(ErrorCode.TIMEOUT, "timeout"), _PROVIDER
    ),
}
_MOVES_MONEY = frozenset({Outcome.SUCCESS, Outcome.LATE_SUCCESS, Outcome.LATE_SUCCESS_HANG})
_SETTINGS = frozenset({"script", "inquiry", "cancel", "currencies", "max_amount", "hang_s", "mode", "hooks"})
_REFUND_SETTINGS = frozenset({"refund_script", "refund_inquiry"})


@dataclass
class _Book:
    """What the reference provider did: calls in order and the money moved per key."""

    calls: list[tuple[str, str]] = field(default_factory=list)  # (hook, idempotency_key)
    charges: dict[str, int] = field(default_factory=dict)  # key -> minor units moved and not reversed
    # key -> (what became of it, the order it was asked for, its first answer): an AttemptRow's parts, made into
    # one only when the key is asked again (the common first pay stays cheap)
    rows: dict[str, tuple[AttemptStatus, Order | None, Any]] = field(default_factory=dict)
    refunds: int = 0

    @property
    def voided(self) -> set[str]:
        """The keys that can no longer charge: voided by an inquiry or cancel, or reversed."""
        return {key for key, row in self.rows.items() if row[0] in (AttemptStatus.VOIDED, AttemptStatus.REVERSED)}

    def void(self, key: str) -> None:
        """Record a tombstone for ``key`` (never seen): a later ``pay`` of it is refused ``ATTEMPT_VOIDED``."""
        self.rows[key] = (AttemptStatus.VOIDED, None, None)

    def row(self, key: str) -> AttemptRow | None:
        """``key``'s row as the kit's ``AttemptKeys`` would read it, or ``None`` if never seen."""
        if key not in self.rows:
            return None
        status, order, answer = self.rows[key]
        if order is None:  # a tombstone: asked for nothing
            return AttemptRow(key, status, "", None, None, "", 0, None)
        amount = order.amount
        return AttemptRow(
            key, status, order.payer_id, order.merchant_id, order.trade_no, amount.currency, amount.minor_units, answer
        )


class ReferenceProvider:
    """A scripted sync provider. Settings (``[providers.NAME]``), all optional:

    * ``script``: outcomes of successive ``pay`` calls (see :class:`Outcome`), the last repeating; default
      ``["success"]``.
    * ``inquiry``: ``"truth"`` (default: answer from the money moved) or ``"unknown"`` (always unknown).
    * ``cancel``: ``"truth"`` (default: reverse and confirm) or ``"refuse"`` (never confirm).
    * ``currencies``, ``max_amount``: its declared capabilities; ``hang_s``: how long a hang lasts (60).
    * ``mode`` (``"sync"`` or ``"async"``) and ``hooks`` (``"full"`` or ``"pay_only"``) pick the class
      :func:`reference_provider` builds.
    * ``refund_script``: behaviours of successive ``refund`` calls (``truth``, ``decline``, ``late_success``,
      ``exception``, ``hang``), the last repeating; default ``["truth"]``. ``refund_inquiry``: ``"truth"``
      (default) or ``"unknown"``. Its refunds follow the core's refund-key rules; :attr:`refund_desk` tells
      what went back.
    """

    def __init__(
        self, config: ProviderConfig | None = None, *, script: Iterable[Outcome | str] | None = None, **settings: Any
    ) -> None:
        raw: dict[str, Any] = dict(config.settings) if config is not None else {}
        raw.update(settings)
        if script is not None:
            raw["script"] = list(script)
        name = config.name if config is not None else "reference"
        unknown = sorted(set(raw) - _SETTINGS - _REFUND_SETTINGS)
        if unknown:
            raise ConfigError(
                f"providers.{name}.{unknown[0]}", f"unknown setting (known: {', '.join(sorted(_SETTINGS))})"
            )
        try:
            self.script = [Outcome(o) for o in raw.get("script", ["success"])] or [Outcome.SUCCESS]
        except ValueError as exc:
            raise ConfigError(f"providers.{name}.script", str(exc)) from None
        self.inquiry_mode = _choice(raw, "inquiry", ("truth", "unknown"), name)
        self.cancel_mode = _choice(raw, "cancel", ("truth", "refuse"), name)
        currencies = raw.get("currencies")
        self._capabilities = Capabilities(
            currencies=frozenset(currencies) if currencies is not None else None, max_amount=raw.get("max_amount")
        )
        self.hang_s = float(raw.get("hang_s", 60.0))
        self.name = name
        self.book = _Book()
        self._lock = threading.Lock()
        self._release = threading.Event()
        try:
            self.refund_desk = RefundDesk(
                self._charged_by,
                script=raw.get("refund_script", ["truth"]),
                inquiry=_choice(raw, "refund_inquiry", ("truth", "unknown"), name),
                release=self._release,
                hang_s=self.hang_s,
            )
        except ValueError as exc:
            raise ConfigError(f"providers.{name}.refund_script", str(exc)) from None

    # --- what a test reads ----------------------------------------------------------------------------------

    @property
    def calls(self) -> list[tuple[str, str]]:
        """``(hook, idempotency_key)`` of every call, in order."""
        return self.book.calls

    @property
    def charged(self) -> int:
        """Minor units this provider moved and did not reverse."""
        with self._lock:
            return sum(self.book.charges.values())

    def charges(self) -> Mapping[str, int]:
        """Money moved per idempotency key (not reversed)."""
        with self._lock:
            return dict(self.book.charges)

    def release_hangs(self) -> None:
        """End every current and future hang at once (so tests finish fast)."""
        self._release.set()

    # --- the hooks ------------------------------------------------------------------------------------------

    def _next(self, order: Order, attempt: Attempt) -> tuple[Outcome, Any]:
        """Pick this call's outcome and do its bookkeeping atomically; returns (outcome, answer)."""
        key = attempt.idempotency_key
        with self._lock:
            self.book.calls.append(("pay", key))
            if (row := self.book.row(key)) is not None:
                return Outcome.DECLINE, replay_payment(row, order)
            outcome = self.script.pop(0) if len(self.script) > 1 else self.script[0]
            if outcome in _MOVES_MONEY:
                self.book.charges[key] = order.amount.minor_units
            answer: Any = _ANSWERS.get(outcome, PaymentResult(ResultCode.SUCCESS, "paid"))
            if outcome is Outcome.GARBAGE:
                answer = {"resultCode": "9000"}
            if outcome not in (Outcome.EXCEPTION, Outcome.HANG, Outcome.LATE_SUCCESS_HANG, Outcome.GARBAGE):
                status = AttemptStatus.PAID if outcome in _MOVES_MONEY else AttemptStatus.DECLINED
                self.book.rows[key] = (status, order, answer)
            return outcome, answer

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> Any:
        outcome, answer = self._next(order, attempt)
        if outcome is Outcome.EXCEPTION:
            raise RuntimeError("scripted provider failure")
        if outcome in (Outcome.HANG, Outcome.LATE_SUCCESS_HANG):
            self._release.wait(self.hang_s)
            return PaymentResult(ResultCode.UNKNOWN, "answered after the hang", extended_info=_PROVIDER)
        return answer

    @hookimpl
    def inquire(self, attempt: Attempt) -> ProviderStatus:
        with self._lock:
            self.book.calls.append(("inquire", attempt.idempotency_key))
            if self.inquiry_mode == "unknown":
                return ProviderStatus.UNKNOWN
            if attempt.idempotency_key in self.book.charges:
                return ProviderStatus.PAID
            if attempt.idempotency_key not in self.book.rows:
                self.book.void(attempt.idempotency_key)
            return ProviderStatus.NOT_PAID

    @hookimpl
    def cancel(self, attempt: Attempt) -> bool:
        with self._lock:
            self.book.calls.append(("cancel", attempt.idempotency_key))
            if self.cancel_mode == "refuse":
                return False
            key = attempt.idempotency_key
            if self.book.charges.pop(key, None) is not None:
                self.book.refunds += 1
                if (seen := self.book.rows.get(key)) is not None:
                    self.book.rows[key] = (AttemptStatus.REVERSED, *seen[1:])
            if key not in self.book.rows:
                self.book.void(key)
            return True

    @hookimpl
    def capabilities(self) -> Capabilities:
        return self._capabilities

    def _charged_by(self, key: str) -> int | None:
        with self._lock:
            return self.book.charges.get(key)

    @hookimpl
    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        return self.refund_desk.refund(attempt, refund)

    @hookimpl
    def inquire_refund(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        return self.refund_desk.inquire(attempt, refund)


class AsyncReferenceProvider(ReferenceProvider):
    """The reference provider with an ``async def pay`` (hangs are cancellable awaits)."""

    @hookimpl
    async def pay(self, order: Order, attempt: Attempt) -> Any:
        outcome, answer = self._next(order, attempt)
        if outcome is Outcome.EXCEPTION:
            raise RuntimeError("scripted provider failure")
        if outcome in (Outcome.HANG, Outcome.LATE_SUCCESS_HANG):
            end = time.monotonic() + self.hang_s
            while not self._release.is_set() and time.monotonic() < end:
                await asyncio.sleep(0.01)
            return PaymentResult(ResultCode.UNKNOWN, "answered after the hang", extended_info=_PROVIDER)
        return answer


class PayOnlyReferenceProvider:
    """A reference provider implementing only ``pay``: ambiguous outcomes cannot be inquired."""

    def __init__(self, config: ProviderConfig | None = None, **settings: Any) -> None:
        self.inner = ReferenceProvider(config, **settings)

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> Any:
        return self.inner.pay(order, attempt)


def _choice(raw: Mapping[str, Any], key: str, choices: tuple[str, ...], name: str) -> str:
    value = raw.get(key, choices[0])
    if value not in choices:
        raise ConfigError(f"providers.{name}.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def reference_provider(config: ProviderConfig) -> object:
    """The entry point ``reference``: builds the class that ``mode`` and ``hooks`` ask for."""
    settings = dict(config.settings)
    mode = _choice(settings, "mode", ("sync", "async"), config.name)
    hooks = _choice(settings, "hooks", ("full", "pay_only"), config.name)
    if hooks == "pay_only":
        return PayOnlyReferenceProvider(config)
    return (AsyncReferenceProvider if mode == "async" else ReferenceProvider)(config)
