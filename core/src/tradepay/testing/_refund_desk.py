"""The reference provider's refunds: the core's refund-key rules (:mod:`tradepay._kit.refund_keys`) on a
``refunds`` table in an in-memory SQLite database, scriptable like its payments.

Each ``refund`` call takes the next behaviour of the refund script (the last one repeats):

* ``truth``: decide by the shared rules and move the money (or refuse) at most once per refund key;
* ``decline``: the provider's own check refuses it (``REFUND_DECLINED``), recorded under the key;
* ``late_success``: the money goes back (under the rules), then the call raises, so the host cannot know;
* ``exception``: raises before anything is recorded (nothing moved);
* ``hang``: waits (until released or ``hang_s``), then raises (nothing moved).

Inquiry (``refund_inquiry``): ``truth`` answers from the table (tombstoning an unseen key); ``unknown``
always answers ``UNKNOWN``.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable

from .._chain.capabilities import Attempt
from .._kit.refund_keys import (
    RefundCharge,
    RefundKeys,
    RefundKeyStatus,
    RefundReason,
    judge_refund,
    refund_key_problem,
    refund_refused,
    replay_refund,
)
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome

__all__ = ["REFUND_KEYS_SCHEMA", "RefundBehaviour", "RefundDesk"]

#: The ``refunds`` table :class:`tradepay.RefundKeys` reads and writes, for SQLite (a test's own provider can
#: create it in its file).
REFUND_KEYS_SCHEMA = """
CREATE TABLE IF NOT EXISTS refunds (
    refund_key  TEXT PRIMARY KEY,
    payment_key TEXT NOT NULL,
    status      TEXT NOT NULL,
    currency    TEXT NOT NULL,
    amount      INTEGER NOT NULL,
    trade_no    TEXT NOT NULL,
    reason      TEXT,
    message     TEXT NOT NULL,
    created_at  REAL NOT NULL
)
"""


class RefundBehaviour(enum.StrEnum):
    """What one scripted ``refund`` call does (see the module docstring)."""

    TRUTH = "truth"
    DECLINE = "decline"
    LATE_SUCCESS = "late_success"
    EXCEPTION = "exception"
    HANG = "hang"


class RefundDesk:
    """Refunds of the money a provider took, per payment key; thread-safe (one lock around the table)."""

    def __init__(
        self,
        charged: Callable[[str], int | None],
        *,
        script: Iterable[RefundBehaviour | str] = (RefundBehaviour.TRUTH,),
        inquiry: str = "truth",
        release: threading.Event | None = None,
        hang_s: float = 60.0,
    ) -> None:
        self._charged = charged
        self.script = [RefundBehaviour(b) for b in script] or [RefundBehaviour.TRUTH]
        self.inquiry = inquiry
        self._release = release or threading.Event()
        self._hang_s = hang_s
        self._lock = threading.Lock()
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.execute(REFUND_KEYS_SCHEMA)
        self.calls: list[tuple[str, str]] = []  # (hook, refund key)

    def _next(self) -> RefundBehaviour:
        return self.script.pop(0) if len(self.script) > 1 else self.script[0]

    def _decide(self, attempt: Attempt, refund: Refund, behaviour: RefundBehaviour) -> RefundAnswer:
        """The answer under the shared rules (caller holds the lock), recorded under the refund key."""
        keys = RefundKeys(self._db, time.time())
        row = keys.find(refund.idempotency_key)
        if row is not None:
            return replay_refund(row, attempt, refund)
        taken = self._charged(attempt.idempotency_key)
        charge = (
            None
            if taken is None
            else RefundCharge(refund.amount.currency, taken, keys.refunded(attempt.idempotency_key), False)
        )

        def declines() -> RefundAnswer | None:
            if behaviour is RefundBehaviour.DECLINE:
                return refund_refused(RefundReason.REFUND_DECLINED, "the reference provider declined the refund")
            return None

        refusal = judge_refund(
            charge, refund, not_charged="this payment key took no money here", provider_check=declines
        )
        answer = refusal or RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{refund.amount} refunded")
        status = RefundKeyStatus.SUCCEEDED if answer.outcome is RefundOutcome.SUCCEEDED else RefundKeyStatus.FAILED
        keys.record(attempt, refund, status, answer)
        return answer

    def refund(self, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """The provider's ``refund`` hook (see the module docstring for the script)."""
        with self._lock:
            self.calls.append(("refund", refund.idempotency_key))
            if problem := refund_key_problem(attempt, refund):
                return refund_refused(RefundReason.INVALID_REQUEST, problem)
            behaviour = self._next()
            if behaviour in (RefundBehaviour.EXCEPTION, RefundBehaviour.HANG):
                answer = None
            else:
                answer = self._decide(attempt, refund, behaviour)
        if behaviour is RefundBehaviour.HANG:
            self._release.wait(self._hang_s)
        if answer is None or behaviour is RefundBehaviour.LATE_SUCCESS:
            raise RuntimeError("scripted refund failure")
        return answer

    def inquire(self, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """The provider's ``inquire_refund`` hook."""
        with self._lock:
            self.calls.append(("inquire_refund", refund.idempotency_key))
            if self.inquiry == "unknown":
                return RefundOutcome.UNKNOWN
            if refund_key_problem(attempt, refund):
                return RefundOutcome.FAILED
            return RefundKeys(self._db, time.time()).inquire(attempt, refund)

    def refunded(self, payment_key: str | None = None) -> int:
        """Minor units given back (by succeeded refund keys), of ``payment_key`` or of every key."""
        with self._lock:
            rows = RefundKeys(self._db, time.time()).of_payment(payment_key)
        return sum(r.amount for r in rows if r.status is RefundKeyStatus.SUCCEEDED)

    def succeeded_keys(self) -> dict[str, int]:
        """Each succeeded refund key and the minor units it gave back."""
        with self._lock:
            rows = RefundKeys(self._db, time.time()).of_payment(None)
        return {r.refund_key: r.amount for r in rows if r.status is RefundKeyStatus.SUCCEEDED}
