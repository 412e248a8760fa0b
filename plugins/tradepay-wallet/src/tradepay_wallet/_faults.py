"""Fault profiles: scripted misbehaviour of ``pay``, so a host's deadline, inquiry and rule table can be tested.

A profile belongs to one payer or to every payer (:data:`ALL_PAYERS`); a payer's own profile wins. It applies
to every ``pay`` call (sticky) or to the next ``times`` calls (one-shot when ``times`` is 1). Faults never
touch ``inquire`` or ``cancel``: those always tell the truth.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Final, TypeVar

from tradepay import (
    ErrorCode,
    FailureScope,
    InvalidInput,
    PaymentResult,
    ResultCode,
    ResultError,
    check_identifier,
    echo_value,
)

from ._answers import user_cancelled
from ._checks import check_payer

__all__ = ["ALL_PAYERS", "FaultKind", "FaultProfile", "MAX_FAULT_TIMES", "MAX_LATENCY_SECONDS", "coerce"]

#: The payer of a profile that applies to every payer without a profile of their own.
ALL_PAYERS: Final = "*"
MAX_LATENCY_SECONDS: Final = 3600.0
MAX_FAULT_TIMES: Final = 1_000_000
_E = TypeVar("_E", bound=enum.Enum)


def coerce(enum_type: type[_E], value: object, field: str) -> _E:
    """``value`` as a member of ``enum_type`` (given as the member or its value), else :class:`InvalidInput`."""
    try:
        return enum_type(value)
    except ValueError:
        choices = ", ".join(str(member.value) for member in enum_type)
        raise InvalidInput(field, f"{echo_value(value)} is not one of {choices}") from None


class FaultKind(enum.StrEnum):
    """What a faulty ``pay`` does. Only ``late_success`` (and ``latency``, after its pause) moves money."""

    LATENCY = "latency"
    """Sleep ``seconds``, then pay normally."""
    HANG = "hang"
    """Never answer: await a day-long sleep, nothing debited; the host's deadline cancels it."""
    EXCEPTION = "exception"
    """Raise ``RuntimeError``; nothing debited."""
    MALFORMED = "malformed"
    """Return something that is not a ``PaymentResult``; nothing debited."""
    ERROR = "error"
    """Answer ``result_code``/``error_code`` (and ``reason``, if set); nothing debited."""
    USER_CANCEL = "user_cancel"
    """Answer ``6001`` with error ``1001`` (``USER_CANCEL``); nothing debited."""
    LATE_SUCCESS = "late_success"
    """Debit and record the key as paid, but answer ``6004`` with error ``1003``."""


@dataclass(frozen=True, slots=True)
class FaultProfile:
    """One payer's fault profile, valid by construction (:class:`tradepay.InvalidInput` otherwise).

    ``seconds`` belongs to ``latency`` only; ``result_code``, ``error_code`` (both required) and ``reason``
    (optional) to ``error`` only. ``times`` is how many more ``pay`` calls it applies to; ``None`` is sticky.
    """

    payer: str
    kind: FaultKind
    seconds: float | None = None
    result_code: ResultCode | None = None
    error_code: ErrorCode | None = None
    reason: str | None = None
    times: int | None = None

    def __post_init__(self) -> None:
        if self.payer != ALL_PAYERS:
            check_payer(self.payer)
        object.__setattr__(self, "kind", coerce(FaultKind, self.kind, "kind"))
        self._check_seconds()
        self._check_error()
        if self.times is not None and (
            isinstance(self.times, bool) or not isinstance(self.times, int) or not 0 < self.times <= MAX_FAULT_TIMES
        ):
            raise InvalidInput("times", f"must be an integer from 1 to {MAX_FAULT_TIMES}, got {echo_value(self.times)}")

    def _check_seconds(self) -> None:
        if self.kind is not FaultKind.LATENCY:
            if self.seconds is not None:
                raise InvalidInput("seconds", f"applies to the latency fault only, not {self.kind.value}")
            return
        value = self.seconds
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidInput("seconds", f"the latency fault needs a number of seconds, got {echo_value(value)}")
        # Compared before math.isfinite, which cannot turn a huge int into a float.
        if not 0 < value <= MAX_LATENCY_SECONDS or not math.isfinite(value):
            shown = echo_value(value)
            raise InvalidInput("seconds", f"must be more than 0 and at most {MAX_LATENCY_SECONDS:g}, got {shown}")

    def _check_error(self) -> None:
        if self.kind is not FaultKind.ERROR:
            for name in ("result_code", "error_code", "reason"):
                if getattr(self, name) is not None:
                    raise InvalidInput(name, f"applies to the error fault only, not {self.kind.value}")
            return
        if self.result_code is None or self.error_code is None:
            raise InvalidInput("error", "the error fault needs both a result code and an error code")
        if str(self.result_code) == ResultCode.SUCCESS.value:
            # 9000 means "money moved"; a fault that moves nothing must not claim it.
            raise InvalidInput("result_code", "9000 is success and would claim money that never moved")
        if self.reason is not None:
            # A reason is a machine-read code (RISK_REJECT) the rule table matches: an identifier, never a card number.
            check_identifier(self.reason, "reason")
        # Building the answer validates the codes and the reason with the host's own rules, and normalises them.
        answer = self._scripted_answer()
        assert answer.result_error is not None  # built with one
        object.__setattr__(self, "result_code", answer.result_code)
        object.__setattr__(self, "error_code", answer.result_error.error_code)

    def answer(self) -> PaymentResult | None:
        """The answer this profile forces without moving money (``error``, ``user_cancel``), else ``None``."""
        if self.kind is FaultKind.USER_CANCEL:
            return user_cancelled()
        if self.kind is FaultKind.ERROR:
            return self._scripted_answer()
        return None

    def _scripted_answer(self) -> PaymentResult:
        # Both are checked by _check_error before this is first called.
        assert self.result_code is not None
        assert self.error_code is not None
        # A scripted error stands for the wallet's own failure, and says so (it counts towards the host's
        # circuit breaker), except a scripted cancel: that one is the payer's.
        cancel = str(self.result_code) == ResultCode.USER_CANCEL.value or self.error_code == ErrorCode.USER_CANCEL
        scope = FailureScope.PAYMENT if cancel else FailureScope.PROVIDER
        info = {"reason": self.reason} if self.reason is not None else {}
        return PaymentResult(
            self.result_code,
            "wallet fault: scripted error",
            ResultError(self.error_code, "scripted by a wallet fault profile"),
            {**info, FailureScope.KEY: scope.value},
        )
