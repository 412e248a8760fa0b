"""A small durable bank provider, a ledger that can die at a chosen point, and an order book of the super
app's own: the props of the ledger's tests.

:class:`Bank` keeps its money in a SQLite file of its own, so that what it moved survives a restart of the
host: charges keyed by the attempt's idempotency key (never twice per key), an inquiry answered from that
table (a key never seen is tombstoned, so that a late ``pay`` with it is refused) and a cancel that reverses.
Each ``pay`` takes the next scripted :class:`BankOutcome`.

A crash is simulated without killing the test process: :class:`SimulatedCrash` is a ``BaseException`` that
no layer of the host catches for good, and once a :class:`CrashSwitch` is tripped the :class:`CrashableLedger`
refuses every further call, so the host that "died" can write nothing more, exactly as if its process were
gone. The files are left as a real crash leaves them, for a new host to find.

:class:`OrderBook` is a ``resolve_order`` plugin in front of the ledger's own book: the ledger never holds its
orders, and records each with the payment made for it.
"""

from __future__ import annotations

import enum
import sqlite3
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Final

from tradepay import (
    Attempt,
    ErrorCode,
    Order,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentType,
    ProviderStatus,
    ResultCode,
    ResultError,
    SQLiteLedger,
    hookimpl,
    immediate_transaction,
    open_sqlite,
)
from tradepay._ledger.records import AttemptRecord, Payment

__all__ = [
    "MOVES_MONEY",
    "Bank",
    "BankMode",
    "BankOutcome",
    "CrashSwitch",
    "CrashableLedger",
    "Hang",
    "OrderBook",
    "SimulatedCrash",
]


class SimulatedCrash(BaseException):
    """The host process "dies" here: nothing in the host may catch it and carry on."""


class CrashSwitch:
    """Shared by the ledger and the banks of one host incarnation: once tripped, that host is dead."""

    def __init__(self) -> None:
        self._tripped = threading.Event()
        self.where = ""

    @property
    def tripped(self) -> bool:
        return self._tripped.is_set()

    def trip(self, where: str) -> SimulatedCrash:
        """Mark the host dead and return the exception to raise."""
        if not self._tripped.is_set():
            self.where = where
        self._tripped.set()
        return SimulatedCrash(where)

    def check(self, where: str) -> None:
        """Raise :class:`SimulatedCrash` if the host is dead: a dead process does nothing more."""
        if self._tripped.is_set():
            raise SimulatedCrash(f"{where}: the host is dead")


class BankOutcome(enum.StrEnum):
    """What one ``pay`` call does. The ``*charge*`` and ``late_*`` ones (and ``success``) move money."""

    SUCCESS = "success"  # 9000
    DECLINE = "decline"  # 4000 / 1002 CARD_DECLINED: nothing moved, the chain falls through
    USER_CANCEL = "user_cancel"  # 6001 / 1001: nothing moved, the payment ends
    TIMEOUT_ERROR = "timeout_error"  # 4000 / 1003: nothing moved, but the chain must ask
    LATE_SUCCESS = "late_success"  # money moves, the answer is 6004 / 1003
    EXCEPTION = "exception"  # raises RuntimeError; nothing moved
    CHARGE_THEN_EXCEPTION = "charge_then_exception"  # money moves, then RuntimeError: a hidden late success
    # Crashes: the host process dies during the call (the switch is tripped: nothing more is written).
    CRASH_BEFORE_CHARGE = "crash_before_charge"
    CRASH_AFTER_CHARGE = "crash_after_charge"
    # The call ends in a BaseException the host survives (its interruption path runs): money moved.
    INTERRUPT_AFTER_CHARGE = "interrupt_after_charge"
    # Blocks until released (see Bank.hang), then charges if the key is still usable.
    HANG_THEN_CHARGE = "hang_then_charge"
    HANG_THEN_DECLINE = "hang_then_decline"


MOVES_MONEY: Final = frozenset(
    {
        BankOutcome.SUCCESS,
        BankOutcome.LATE_SUCCESS,
        BankOutcome.CHARGE_THEN_EXCEPTION,
        BankOutcome.CRASH_AFTER_CHARGE,
        BankOutcome.INTERRUPT_AFTER_CHARGE,
        BankOutcome.HANG_THEN_CHARGE,
    }
)


class BankMode(enum.StrEnum):
    """How the bank's inquiry and cancel behave (stored in its file: it outlives a host)."""

    UP = "up"  # inquiry tells the truth, cancel reverses
    INQUIRY_UNKNOWN = "inquiry_unknown"  # inquiry answers unknown; cancel still reverses
    DOWN = "down"  # inquiry and cancel raise: nothing can be settled


def _declined(code: ErrorCode, reason: str) -> PaymentResult:
    return PaymentResult(ResultCode.FAILED, reason.lower(), ResultError(code, reason), {"reason": reason})


_ANSWERS: Final[dict[BankOutcome, PaymentResult]] = {
    BankOutcome.SUCCESS: PaymentResult(ResultCode.SUCCESS, "paid by the bank"),
    BankOutcome.DECLINE: _declined(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"),
    BankOutcome.USER_CANCEL: PaymentResult(
        ResultCode.USER_CANCEL, "cancelled", ResultError(ErrorCode.USER_CANCEL, "the user cancelled")
    ),
    BankOutcome.TIMEOUT_ERROR: _declined(ErrorCode.TIMEOUT, "TIMEOUT"),
    BankOutcome.LATE_SUCCESS: PaymentResult(ResultCode.UNKNOWN, "timeout", ResultError(ErrorCode.TIMEOUT, "timeout")),
    BankOutcome.HANG_THEN_CHARGE: PaymentResult(ResultCode.SUCCESS, "paid by the bank, late"),
    BankOutcome.HANG_THEN_DECLINE: _declined(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"),
}
_REPEAT = _declined(ErrorCode.APP_SERVICE_ERROR, "KEY_ALREADY_USED")

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS charges (
    idempotency_key TEXT PRIMARY KEY,
    trade_no        TEXT NOT NULL,
    amount          INTEGER NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided'))
);
CREATE TABLE IF NOT EXISTS calls (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    hook            TEXT NOT NULL,
    idempotency_key TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Hang:
    """The events of a hanging ``pay`` call: it sets ``entered``, waits for ``release``, then sets ``done``
    once its charge (or refusal) is committed. Several banks may share one."""

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.done = threading.Event()


class Bank:
    """A sync provider whose money lives in the SQLite file ``path`` (see the module docstring)."""

    def __init__(self, path: Path, *, switch: CrashSwitch | None = None) -> None:
        self.path = path
        self.switch = switch or CrashSwitch()
        self._lock = threading.Lock()
        self._db = open_sqlite(path)
        with immediate_transaction(self._db) as db:
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
        self._script: list[BankOutcome] = []
        self.hang = Hang()
        #: Called first thing in every ``pay`` (a test's gate), if set.
        self.gate: Callable[[], None] | None = None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- what a test sets and reads -----------------------------------------------------------------------

    def script(self, outcomes: Iterable[BankOutcome]) -> None:
        """The outcomes of the next ``pay`` calls, in order (then ``success``)."""
        with self._lock:
            self._script = list(outcomes)

    def set_mode(self, mode: BankMode) -> None:
        with self._lock, immediate_transaction(self._db) as db:
            db.execute("INSERT OR REPLACE INTO settings VALUES ('mode', ?)", (mode.value,))

    def pay_calls(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT count(*) FROM calls WHERE hook = 'pay'").fetchone()[0])

    # --- the hooks ----------------------------------------------------------------------------------------

    def _mode(self, db: sqlite3.Connection) -> BankMode:
        row = db.execute("SELECT value FROM settings WHERE key = 'mode'").fetchone()
        return BankMode(row[0]) if row else BankMode.UP

    def _call(self, db: sqlite3.Connection, hook: str, attempt: Attempt) -> None:
        db.execute("INSERT INTO calls (hook, idempotency_key) VALUES (?, ?)", (hook, attempt.idempotency_key))

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        self.switch.check("bank.pay")
        if self.gate is not None:
            self.gate()
        with self._lock:
            outcome = self._script.pop(0) if self._script else BankOutcome.SUCCESS
            with immediate_transaction(self._db) as db:
                self._call(db, "pay", attempt)
        hang = self.hang if outcome in (BankOutcome.HANG_THEN_CHARGE, BankOutcome.HANG_THEN_DECLINE) else None
        if hang is not None:
            hang.entered.set()
            if not hang.release.wait(timeout=60):
                raise RuntimeError("the test never released the hanging call")
        if outcome is BankOutcome.CRASH_BEFORE_CHARGE:
            raise self.switch.trip("bank.pay before charging")
        if outcome is BankOutcome.EXCEPTION:
            raise RuntimeError("bank failure; nothing moved")
        status = "paid" if outcome in MOVES_MONEY else "declined"
        with self._lock, immediate_transaction(self._db) as db:
            seen = db.execute(
                "SELECT status FROM charges WHERE idempotency_key = ?", (attempt.idempotency_key,)
            ).fetchone()
            if seen is None:
                db.execute(
                    "INSERT INTO charges VALUES (?, ?, ?, ?)",
                    (attempt.idempotency_key, order.trade_no, order.amount.minor_units, status),
                )
        if hang is not None:
            hang.done.set()
        if seen is not None:  # a key seen before (voided by an inquiry that came first): never moves money
            return _REPEAT
        if outcome is BankOutcome.CRASH_AFTER_CHARGE:
            raise self.switch.trip("bank.pay after charging")
        if outcome is BankOutcome.INTERRUPT_AFTER_CHARGE:
            raise SimulatedCrash("bank.pay interrupted after charging")
        if outcome is BankOutcome.CHARGE_THEN_EXCEPTION:
            raise RuntimeError("bank failure after the money moved")
        return _ANSWERS[outcome]

    @hookimpl
    def inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        self.switch.check("bank.inquire")
        with self._lock, immediate_transaction(self._db) as db:
            self._call(db, "inquire", attempt)
            mode = self._mode(db)
            if mode is BankMode.INQUIRY_UNKNOWN:
                return ProviderStatus.UNKNOWN
            if mode is BankMode.DOWN:
                raise RuntimeError("bank inquiry is down")
            row = db.execute(
                "SELECT status FROM charges WHERE idempotency_key = ?", (attempt.idempotency_key,)
            ).fetchone()
            if row is None:  # never seen: tombstone it, so that a late pay with this key moves nothing
                db.execute(
                    "INSERT INTO charges VALUES (?, ?, ?, 'voided')",
                    (attempt.idempotency_key, order.trade_no, order.amount.minor_units),
                )
                return ProviderStatus.NOT_PAID
            return ProviderStatus.PAID if row[0] == "paid" else ProviderStatus.NOT_PAID

    @hookimpl
    def cancel(self, order: Order, attempt: Attempt) -> bool:
        self.switch.check("bank.cancel")
        with self._lock, immediate_transaction(self._db) as db:
            self._call(db, "cancel", attempt)
            if self._mode(db) is BankMode.DOWN:
                raise RuntimeError("bank cancel is down")
            db.execute(
                "INSERT INTO charges VALUES (?, ?, ?, 'voided') ON CONFLICT (idempotency_key) DO UPDATE"
                " SET status = 'reversed' WHERE status = 'paid'",
                (attempt.idempotency_key, order.trade_no, order.amount.minor_units),
            )
            return True


class CrashableLedger(SQLiteLedger):
    """The SQLite ledger of one host incarnation: it dies with its :class:`CrashSwitch`, and can be told to
    die right after its N-th write of a payment has been committed (:meth:`crash_after`)."""

    def __init__(self, path: Path, *, switch: CrashSwitch) -> None:
        super().__init__(path)
        self.switch = switch
        self._countdown: int | None = None
        #: Called each time a request finds its order's payment already made (a test's counter), if set.
        self.on_repeat: Callable[[], object] | None = None

    def crash_after(self, writes: int | None) -> None:
        """Die right after the ``writes``-th payment write from now commits (``None``: never)."""
        self._countdown = writes

    def _wrote(self, what: str) -> None:
        if self._countdown is not None:
            self._countdown -= 1
            if self._countdown == 0:
                raise self.switch.trip(f"ledger: after {what}")

    def get_order(self, trade_no: str) -> Order | None:
        self.switch.check("ledger.get_order")
        return super().get_order(trade_no)

    def get_payment(self, payment_id: str) -> Payment | None:
        self.switch.check("ledger.get_payment")
        return super().get_payment(payment_id)

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        self.switch.check("ledger.begin_payment")
        payment, created = super().begin_payment(order, app_id)
        if created:
            self._wrote("begin_payment")
        elif self.on_repeat is not None:
            self.on_repeat()
        return payment, created

    def start_attempt(self, payment_id: str, provider: str) -> Attempt:
        self.switch.check("ledger.start_attempt")
        attempt = super().start_attempt(payment_id, provider)
        self._wrote("start_attempt")
        return attempt

    def finish_attempt(self, record: AttemptRecord) -> None:
        self.switch.check("ledger.finish_attempt")
        super().finish_attempt(record)
        self._wrote("finish_attempt")

    def finish_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        self.switch.check("ledger.finish_payment")
        payment = super().finish_payment(payment_id, status, result)
        self._wrote("finish_payment")
        return payment

    def settle_attempt(self, attempt: Attempt, status: ProviderStatus, detail: str) -> None:
        self.switch.check("ledger.settle_attempt")
        super().settle_attempt(attempt, status, detail)

    def settle_payment(self, payment_id: str, status: PaymentStatus, result: PaymentResult) -> Payment:
        self.switch.check("ledger.settle_payment")
        return super().settle_payment(payment_id, status, result)


class OrderBook:
    """Orders the super app keeps itself, resolved by trade number in front of the ledger's own book."""

    def __init__(self) -> None:
        self.orders: dict[str, Order] = {}

    @hookimpl
    def resolve_order(self, payment_request: PaymentRequest) -> Order | None:
        if payment_request.type is not PaymentType.ORDER_ID:
            return None
        return self.orders.get(payment_request.payment_string)
