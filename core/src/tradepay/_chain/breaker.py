"""A circuit breaker per provider: stop offering payments to a provider that keeps failing technically.

Only the provider's own failures count: a missed deadline, an exception, an invalid answer, and an answer in
which the provider says the failure is its own (``extended_info["failure_scope"] == "provider"``). Every other
answer (a success, a decline, a cancel, any answer about one payment alone) resets the count: the provider
answered, and one payer's failing card must not close the provider to everyone. After ``threshold``
consecutive failures the circuit opens for ``cooldown_s``; then one payment is let through as a probe
(half-open): its success closes the circuit, its failure opens it again, and a probe that ends with no outcome
(its payment failed or ran out of time before the call) hands the probe on to the next payment. The state is
per host process.
"""

from __future__ import annotations

import enum
import threading
import time
from collections.abc import Callable

from .._ledger.records import OutcomeKind
from .._spi.enums import CheckedEnumType
from .._spi.models import PaymentResult, ResultCode

__all__ = ["CircuitBreaker", "FailureScope", "is_technical_failure"]

#: The turn of a closed circuit: go ahead, not as a probe.
_TURN: tuple[str | None, int] = (None, 0)


class FailureScope(enum.StrEnum, metaclass=CheckedEnumType):
    """Whose failure a provider's answer reports, in its ``extended_info["failure_scope"]`` (:attr:`KEY`).

    A provider sets it on every answer that is not a success. Only :attr:`PROVIDER` counts towards the
    provider's circuit breaker; an answer without it, or with any other value, never does.
    """

    PROVIDER = "provider"
    """The provider itself failed: its system, its backend, its network, its own limits of service. Counted."""
    PAYMENT = "payment"
    """The answer is about this payment alone: the payer's card, account, balance or agreement, the order's
    currency or amount, the attempt's key. It says nothing about the provider's health. Never counted."""

    KEY = enum.nonmember("failure_scope")

    @classmethod
    def of(cls, result: PaymentResult) -> FailureScope | None:
        """The scope ``result`` declares, or ``None`` when it declares none (or a value not listed here)."""
        value = result.extended_info.get(cls.KEY)
        if value is None:
            return None
        try:
            return cls(value)
        except ValueError:
            return None


# Read once, as the chain's own (chain.py says why): four enum reads of every attempt, about 3,600 instructions.
_ANSWER, _SUCCESS = OutcomeKind.ANSWER, ResultCode.SUCCESS
_SCOPE_KEY, _PROVIDER_SCOPE = str(FailureScope.KEY), FailureScope.PROVIDER.value


def is_technical_failure(kind: OutcomeKind, result: PaymentResult | None) -> bool:
    """True for outcomes that say the provider is unwell: no valid answer at all, or a failed answer in which the
    provider says the failure is its own. Never for an answer about one payment (see :class:`FailureScope`)."""
    if kind is not _ANSWER or result is None:
        return True
    if result.result_code is _SUCCESS:
        return False
    return result.extended_info.get(_SCOPE_KEY) == _PROVIDER_SCOPE


class CircuitBreaker:
    """The breaker of one provider. Thread-safe; ``clock`` is injectable for tests."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False
        self._probe = 0  # the number of the latest probe let through

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open``."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self.cooldown_s:
            return "half_open"
        return "open"

    def allow(self) -> str | None:
        """``None`` if a payment may be offered to the provider now, else why not (see :meth:`admit`)."""
        return self.admit()[0]

    def admit(self) -> tuple[str | None, int]:
        """Ask for a turn: ``(None, probe)`` if a payment may be offered to the provider now, else ``(why not,
        0)``. In half-open state the first caller becomes the probe (``probe`` is its number, else ``0``); the
        others are refused until the probe's outcome is recorded, or the probe is released (:meth:`release`)."""
        if self._opened_at is None:  # closed, the common case: an attribute read needs no lock
            return _TURN
        with self._lock:
            state = self._state()
            if state == "closed":
                return _TURN
            if state == "half_open" and not self._probing:
                self._probing = True
                self._probe += 1
                return None, self._probe
            assert self._opened_at is not None
            wait = max(self.cooldown_s - (self._clock() - self._opened_at), 0.0)
            if state == "half_open":
                return "circuit half-open: a probe payment is in flight", 0
            return f"circuit open after {self._failures} technical failures (retry in {wait:.1f}s)", 0

    def record(self, kind: OutcomeKind, result: PaymentResult | None) -> None:
        """Count one outcome of the provider."""
        technical = is_technical_failure(kind, result)
        if not technical and not self._failures and self._opened_at is None and not self._probing:
            return  # closed with no failures counted, and none now: nothing changes (no lock needed)
        with self._lock:
            if technical:
                self._failures += 1
                if self._probing or self._failures >= self.threshold:
                    self._opened_at = self._clock()
            else:
                self._failures = 0
                self._opened_at = None
            self._probing = False

    def release(self, probe: int) -> None:
        """End the turn of probe number ``probe`` (from :meth:`admit`) that ended with no outcome to record (its
        payment failed, or was cancelled, before the provider answered): the probe passes to the next payment
        and nothing is counted. Does nothing for ``0``, or once the probe's outcome was recorded."""
        if probe and self._probing:
            with self._lock:
                if probe == self._probe:
                    self._probing = False
