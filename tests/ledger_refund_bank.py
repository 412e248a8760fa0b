"""The refund props of the ledger's tests: a :class:`~ledger_bank.Bank` that also refunds, durably and by the
core's refund-key rules, and a crashable ledger whose refund writes die with its switch too.

:class:`RefundingBank` keeps its refunds in a ``refunds`` table of its own file (the rows of
:class:`tradepay.RefundKeys`), decided in the same write transaction that reads what the payment key took.
Each ``refund`` takes the next scripted :class:`RefundBehaviour`; its inquiry answers from the table and
tombstones a key it never saw. :func:`read_bank_refunds` and :func:`read_ledger_refunds` read the files as a
restarted process would.
"""

from __future__ import annotations

import collections
import contextlib
import enum
import sqlite3
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import tradepay as tp
from tradepay import Attempt, Order, Refund, RefundAnswer, RefundOutcome, RefundStatus, hookimpl
from tradepay._ledger.refunds import RefundRequest
from tradepay.testing._refund_desk import REFUND_KEYS_SCHEMA

if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.ledger_bank import Bank, BankMode, CrashableLedger, CrashSwitch
    from tests.ledger_checks import LedgerFile
else:  # the tests put this folder on sys.path
    from ledger_bank import Bank, BankMode, CrashableLedger, CrashSwitch
    from ledger_checks import LedgerFile

__all__ = [
    "BankRefund",
    "LedgerRefund",
    "RefundBehaviour",
    "RefundCrashableLedger",
    "RefundingBank",
    "check_refunds",
    "read_bank_refunds",
    "read_ledger_refunds",
]


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
        with tp.immediate_transaction(self._db) as db:
            db.execute(REFUND_KEYS_SCHEMA)
        self._refund_script: list[RefundBehaviour] = []

    def script_refunds(self, behaviours: Iterable[RefundBehaviour]) -> None:
        """The behaviours of the next ``refund`` calls, in order (then ``succeed``)."""
        with self._lock:
            self._refund_script = list(behaviours)

    def _charge(self, db: sqlite3.Connection, keys: tp.RefundKeys, attempt: Attempt) -> tp.RefundCharge | None:
        row = db.execute(
            "SELECT amount, status FROM charges WHERE idempotency_key = ?", (attempt.idempotency_key,)
        ).fetchone()
        if row is None or row[1] not in ("paid", "reversed"):
            return None
        return tp.RefundCharge("USD", int(row[0]), keys.refunded(attempt.idempotency_key), row[1] == "reversed")

    @hookimpl
    def refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        self.switch.check("bank.refund")
        with self._lock:
            behaviour = self._refund_script.pop(0) if self._refund_script else RefundBehaviour.SUCCEED
        if behaviour is RefundBehaviour.CRASH_BEFORE:
            raise self.switch.trip("bank.refund before refunding")
        if behaviour is RefundBehaviour.EXCEPTION:
            raise RuntimeError("bank refund failure; nothing moved")
        with self._lock, tp.immediate_transaction(self._db) as db:
            keys = tp.RefundKeys(db, time.time())
            seen = keys.find(refund.idempotency_key)
            if seen is not None:
                answer = tp.replay_refund(seen, attempt, refund)
            else:

                def declines() -> RefundAnswer | None:
                    if behaviour is RefundBehaviour.DECLINE:
                        return tp.refund_refused(tp.RefundReason.REFUND_DECLINED, "the bank declined the refund")
                    return None

                refusal = tp.judge_refund(
                    self._charge(db, keys, attempt), refund, not_charged="no charge here", provider_check=declines
                )
                answer = refusal or RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{refund.amount} refunded")
                state = tp.RefundKeyStatus.SUCCEEDED if refusal is None else tp.RefundKeyStatus.FAILED
                keys.record(attempt, refund, state, answer)
        if behaviour is RefundBehaviour.CRASH_AFTER:
            raise self.switch.trip("bank.refund after refunding")
        if behaviour is RefundBehaviour.LATE:
            raise RuntimeError("bank failure after the refund")
        return answer

    @hookimpl
    def inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        self.switch.check("bank.inquire_refund")
        with self._lock, tp.immediate_transaction(self._db) as db:
            mode = self._mode(db)
            if mode is BankMode.INQUIRY_UNKNOWN:
                return RefundOutcome.UNKNOWN
            if mode is BankMode.DOWN:
                raise RuntimeError("bank refund inquiry is down")
            return tp.RefundKeys(db, time.time()).inquire(attempt, refund)


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


def check_refunds(view: LedgerFile, path: Path, providers: Iterable[Path], *, settled: bool = False) -> int:
    """The ledger's refunds (in the file ``path``) against the providers' (in ``providers``): each to its
    payment's paid attempt, no payment over-refunded by the ledger's succeeded and in-flight refunds nor by
    the providers' succeeded ones, every provider refund under a key the ledger recorded first (for the same
    attempt and amount), a succeeded or failed ledger refund agreeing with its provider; with ``settled``,
    nothing unsettled and the succeeded refunds equal, key by key. Returns how many are unsettled."""
    ledger, banks = read_ledger_refunds(path), read_bank_refunds(providers)
    counted: collections.Counter[str] = collections.Counter()
    for refund in ledger.values():
        payment = view.payments[refund.payment_id]
        assert payment.status == "succeeded", f"refund {refund.refund_id} of a {payment.status} payment"
        [paying] = [a for a in payment.attempts if a.state == "paid"]
        assert refund.attempt_key == paying.key, f"refund {refund.refund_id} not to the paying attempt"
        counted[refund.payment_id] += refund.amount if refund.status != "failed" else 0
        bank = banks.get(refund.refund_id)
        if refund.status == "succeeded":
            assert bank is not None, f"refund {refund.refund_id} succeeded with no provider refund"
            assert bank.state == "succeeded", (refund, bank)
        if refund.status == "failed":
            assert bank is None or bank.state != "succeeded", (refund, bank)
    for payment_id, total in counted.items():
        assert total <= view.payments[payment_id].amount, f"payment {payment_id} over-refunded: {total}"
    amounts = {a.key: p.amount for p, a in view.attempts()}
    given: collections.Counter[str] = collections.Counter()
    for key, bank in banks.items():
        if bank.state == "succeeded":
            assert key in ledger, f"{bank.where} refunded under key {key}, which the ledger never recorded"
            assert (ledger[key].attempt_key, ledger[key].amount) == (bank.payment_key, bank.amount)
            given[bank.payment_key] += bank.amount
    for payment_key, total in given.items():
        assert total <= amounts[payment_key], f"key {payment_key} refunded {total}, more than it took"
    unsettled = [r for r in ledger.values() if r.status in ("processing", "needs_reconciliation")]
    if settled:
        assert not unsettled, unsettled
        succeeded = {k: (r.attempt_key, r.amount) for k, r in ledger.items() if r.status == "succeeded"}
        assert succeeded == {k: (b.payment_key, b.amount) for k, b in banks.items() if b.state == "succeeded"}
    return len(unsettled)
