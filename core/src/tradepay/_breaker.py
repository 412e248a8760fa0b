"""A circuit breaker per provider: stop offering payments to a provider that keeps failing technically.

Only technical failures count (a missed deadline, an exception, an invalid answer, error ``1005``); business
answers (a decline, a cancel, ``2001``) and successes reset the count. After ``threshold`` consecutive
failures the circuit opens for ``cooldown_s``; then one payment is let through as a probe (half-open): its
success closes the circuit, its failure opens it again. The state is per host process.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ._models import ErrorCode, PaymentResult
from ._records import OutcomeKind

__all__ = ["CircuitBreaker", "is_technical_failure"]


def is_technical_failure(kind: OutcomeKind, result: PaymentResult | None) -> bool:
    """True for outcomes that say the provider is unwell, not that it declined."""
    if kind is not OutcomeKind.ANSWER:
        return True
    error = result.result_error if result is not None else None
    return error is not None and error.error_code is ErrorCode.SYSTEM_ERROR


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
        """``None`` if a payment may be offered to the provider now, else why not. In half-open state the
        first caller becomes the probe; the others are refused until the probe's outcome is recorded."""
        if self._opened_at is None:  # closed, the common case: an attribute read needs no lock
            return None
        with self._lock:
            state = self._state()
            if state == "closed":
                return None
            if state == "half_open" and not self._probing:
                self._probing = True
                return None
            assert self._opened_at is not None
            wait = max(self.cooldown_s - (self._clock() - self._opened_at), 0.0)
            if state == "half_open":
                return "circuit half-open: a probe payment is in flight"
            return f"circuit open after {self._failures} technical failures (retry in {wait:.1f}s)"

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
