"""The refund props of the ledger's tests: a :class:`~ledger_bank.Bank` that also refunds, durably and by the
core's refund-key rules, and a crashable ledger whose refund writes die with its switch too.

:class:`RefundingBank` keeps its refunds in a ``refunds`` table of its own file (the rows of
:class:`tradepay.RefundKeys`), decided in the same write transaction that reads what the payment key took.
Each ``refund`` takes the next scripted :class:`RefundBehaviour`; its inquiry answers from the table and
tombstones a key it never saw. :func:`read_bank_refunds` and :func:`read_ledger_refunds` read the files as a
restarted process would.
"""

from __future__ import annotations

import contextlib
import enum
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tradepay import (
    Attempt,
    Order,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundKeys,
    RefundOutcome,
    RefundReason,
    RefundState,
    RefundStatus,
    hookimpl,
    immediate_transaction,
    judge_refund,
    refund_refused,
    replay_refund,
)
from tradepay._ledger.refunds import RefundRequest

if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.ledger_bank import Bank, BankMode, CrashableLedger, CrashSwitch
else:  # the tests put this folder on sys.path
    from ledger_bank import Bank, BankMode, CrashableLedger, CrashSwitch

__all__ = [
    "BankRefund",
    "LedgerRefund",
    "RefundBehaviour",
    "RefundCrashableLedger",
    "RefundingBank",
    "read_bank_refunds",
    "read_ledger_refunds",
]

_REFUNDS = """
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
    """What one ``refund`` call does. ``succeed``, ``late`` and ``crash_after`` move money (within the rules)."""

    SUCCEED = "succeed"  # decided by the rules, answered
    DECLINE = "decline"  # the bank's own check refuses it (REFUND_DECLINED), recorded under the key
    LATE = "late"  # decided by the rules, then RuntimeError: the host cannot know
    EXCEPTION = "exception"  # RuntimeError before anything is recorded: nothing moved
    CRASH_BEFORE = "crash_before"  # the host dies before the bank records anything
    CRASH_AFTER = "crash_after"  # the host dies after the bank committed the refund


class RefundingBank(Bank):
    """A bank that refunds what its paid keys took, at most once per refund key."""

    def __init__(self, path: Path, *, switch: CrashSwitch | None = None) -> None:
        super().__init__(path, switch=switch)
        with immediate_transaction(self._db) as db:
            db.execute(_REFUNDS)
        self._refund_script: list[RefundBehaviour] = []

    def script_refunds(self, behaviours: Iterable[RefundBehaviour]) -> None:
        """The behaviours of the next ``refund`` calls, in order (then ``succeed``)."""
        with self._lock:
            self._refund_script = list(behaviours)

    def _charge(self, db: sqlite3.Connection, keys: RefundKeys, attempt: Attempt) -> RefundCharge | None:
        row = db.execute(
            "SELECT amount, status FROM charges WHERE idempotency_key = ?", (attempt.idempotency_key,)
        ).fetchone()
        if row is None or row[1] not in ("paid", "reversed"):
            return None
        return RefundCharge("USD", int(row[0]), keys.refunded(attempt.idempotency_key), row[1] == "reversed")

    @hookimpl
    def refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        self.switch.check("bank.refund")
        with self._lock:
            behaviour = self._refund_script.pop(0) if self._refund_script else RefundBehaviour.SUCCEED
        if behaviour is RefundBehaviour.CRASH_BEFORE:
            raise self.switch.trip("bank.refund before refunding")
        if behaviour is RefundBehaviour.EXCEPTION:
            raise RuntimeError("bank refund failure; nothing moved")
        with self._lock, immediate_transaction(self._db) as db:
            keys = RefundKeys(db, time.time())
            seen = keys.find(refund.idempotency_key)
            if seen is not None:
                answer = replay_refund(seen, attempt, refund)
            else:

                def declines() -> RefundAnswer | None:
                    if behaviour is RefundBehaviour.DECLINE:
                        return refund_refused(RefundReason.REFUND_DECLINED, "the bank declined the refund")
                    return None

                refusal = judge_refund(
                    self._charge(db, keys, attempt), refund, not_charged="no charge here", provider_check=declines
                )
                answer = refusal or RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{refund.amount} refunded")
                state = RefundState.SUCCEEDED if refusal is None else RefundState.FAILED
                keys.record(attempt, refund, state, answer)
        if behaviour is RefundBehaviour.CRASH_AFTER:
            raise self.switch.trip("bank.refund after refunding")
        if behaviour is RefundBehaviour.LATE:
            raise RuntimeError("bank failure after the refund")
        return answer

    @hookimpl
    def inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        self.switch.check("bank.inquire_refund")
        with self._lock, immediate_transaction(self._db) as db:
            mode = self._mode(db)
            if mode is BankMode.INQUIRY_UNKNOWN:
                return RefundOutcome.UNKNOWN
            if mode is BankMode.DOWN:
                raise RuntimeError("bank refund inquiry is down")
            return RefundKeys(db, time.time()).inquire(attempt, refund)


class RefundCrashableLedger(CrashableLedger):
    """The crashable ledger, its refund writes refused too once its switch is tripped."""

    def begin_refund(self, request: RefundRequest) -> tuple[Refund, bool]:
        self.switch.check("ledger.begin_refund")
        return super().begin_refund(request)

    def finish_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        self.switch.check("ledger.finish_refund")
        return super().finish_refund(refund_id, status, answer)

    def settle_refund(self, refund_id: str, status: RefundStatus, answer: RefundAnswer | None) -> Refund:
        self.switch.check("ledger.settle_refund")
        return super().settle_refund(refund_id, status, answer)


@dataclass(frozen=True, slots=True)
class BankRefund:
    payment_key: str
    amount: int
    state: str  # succeeded, failed, voided
    where: str


@dataclass(frozen=True, slots=True)
class LedgerRefund:
    refund_id: str
    payment_id: str
    attempt_key: str
    amount: int
    status: str


@contextlib.contextmanager
def _read_only(path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        yield db
    finally:
        db.close()


def read_bank_refunds(paths: Iterable[Path]) -> dict[str, BankRefund]:
    """Refund key -> its row, over every bank file (a key is recorded by one bank at most)."""
    found: dict[str, BankRefund] = {}
    for path in paths:
        with _read_only(path) as db:
            for key, payment_key, amount, state in db.execute(
                "SELECT refund_key, payment_key, amount, status FROM refunds"
            ):
                assert key not in found, f"refund key {key} recorded by two banks"
                found[key] = BankRefund(payment_key, int(amount), state, path.stem)
    return found


def read_ledger_refunds(path: Path) -> dict[str, LedgerRefund]:
    """Refund id -> the ledger's row."""
    with _read_only(path) as db:
        return {
            r[0]: LedgerRefund(r[0], r[1], r[2], int(r[3]), r[4])
            for r in db.execute("SELECT refund_id, payment_id, attempt_key, amount, status FROM refunds ORDER BY rowid")
        }
