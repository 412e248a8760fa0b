"""The money-safety invariants, checked on the files themselves (never through the code under test).

The ledger, the banks and the wallets are read with plain ``sqlite3`` connections of their own, so a check
sees what is durably committed, not what a host believes. Each ``check_*`` raises ``AssertionError`` with a
message that names the order, payment or key at fault.
"""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "LIVE",
    "TERMINAL",
    "UNSETTLED",
    "AttemptRow",
    "Charge",
    "LedgerFile",
    "PaymentRow",
    "check_answer",
    "check_integrity",
    "check_ledger",
    "check_money",
    "check_wallet_books",
    "read_bank_money",
    "read_ledger",
    "read_wallet_money",
]

UNSETTLED = frozenset({"processing", "needs_reconciliation"})
TERMINAL = frozenset({"succeeded", "failed", "cancelled"})
LIVE = frozenset({"processing", "needs_reconciliation", "succeeded"})
_SETTLED_ATTEMPT = frozenset({"paid", "not_paid"})


@contextmanager
def _open(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, timeout=30)) as conn:
        yield conn


@dataclass(frozen=True, slots=True)
class AttemptRow:
    payment_id: str
    number: int
    provider: str
    key: str
    state: str
    result: Mapping[str, Any] | None

    @property
    def user_cancel(self) -> bool:
        """The provider answered that the user cancelled (6001, or error 1001)."""
        if self.result is None:
            return False
        error = self.result.get("resultError") or {}
        return bool(self.result.get("resultCode") == "6001" or error.get("errorCode") == 1001)


@dataclass(frozen=True, slots=True)
class PaymentRow:
    payment_id: str
    trade_no: str
    status: str
    result: str | None
    attempts: tuple[AttemptRow, ...]
    amount: int  # the order's amount in minor units, as the payment recorded it

    @property
    def result_code(self) -> str | None:
        return None if self.result is None else str(json.loads(self.result)["resultCode"])

    @property
    def extended_info(self) -> Mapping[str, str]:
        info: Mapping[str, str] = {} if self.result is None else json.loads(self.result).get("extendedInfo", {})
        return info


@dataclass(frozen=True, slots=True)
class LedgerFile:
    """Everything the ledger file holds: the ledger's own orders (amount in minor units, status), payments in
    creation order (of those orders, and of orders other books resolved)."""

    orders: Mapping[str, tuple[int, str]]
    payments: Mapping[str, PaymentRow]
    by_order: Mapping[str, tuple[PaymentRow, ...]]

    def attempts(self) -> Iterator[tuple[PaymentRow, AttemptRow]]:
        for payment in self.payments.values():
            for attempt in payment.attempts:
                yield payment, attempt

    @property
    def unsettled(self) -> list[PaymentRow]:
        return [p for p in self.payments.values() if p.status in UNSETTLED]


@dataclass(frozen=True, slots=True)
class Charge:
    """Money a provider moved under one key and did not give back."""

    trade_no: str
    amount: int
    where: str


def read_ledger(path: Path) -> LedgerFile:
    with _open(path) as db:
        orders = {r[0]: (int(r[1]), str(r[2])) for r in db.execute("SELECT trade_no, amount, status FROM orders")}
        attempts: dict[str, list[AttemptRow]] = defaultdict(list)
        for pid, number, provider, key, state, result in db.execute(
            "SELECT payment_id, number, provider, idempotency_key, status, result FROM attempts"
            " ORDER BY payment_id, number"
        ):
            attempts[pid].append(AttemptRow(pid, number, provider, key, state, json.loads(result) if result else None))
        payments = {
            pid: PaymentRow(pid, trade_no, status, result, tuple(attempts.get(pid, ())), int(amount))
            for pid, trade_no, status, result, amount in db.execute(
                "SELECT payment_id, trade_no, status, result, order_amount FROM payments ORDER BY rowid"
            )
        }
    by_order: dict[str, list[PaymentRow]] = defaultdict(list)
    for payment in payments.values():
        by_order[payment.trade_no].append(payment)
    return LedgerFile(orders, payments, {k: tuple(v) for k, v in by_order.items()})


def read_bank_money(paths: Iterable[Path]) -> dict[str, Charge]:
    """Key -> charge, over every bank file: charges that are paid and not reversed."""
    money: dict[str, Charge] = {}
    for path in paths:
        with _open(path) as db:
            for key, trade_no, amount in db.execute(
                "SELECT idempotency_key, trade_no, amount FROM charges WHERE status = 'paid'"
            ):
                assert key not in money, f"key {key} charged by two banks"
                money[key] = Charge(trade_no, int(amount), path.stem)
    return money


def read_wallet_money(paths: Iterable[Path]) -> dict[str, Charge]:
    """Key -> charge, over every wallet file: debits less reversals, from the wallets' own journals."""
    money: dict[str, Charge] = {}
    for path in paths:
        net: dict[str, int] = defaultdict(int)
        trade: dict[str, tuple[str, int]] = {}
        with _open(path) as db:
            rows = db.execute(
                "SELECT kind, idempotency_key, trade_no, amount FROM entries WHERE idempotency_key IS NOT NULL"
            ).fetchall()
        for kind, key, trade_no, amount in rows:
            net[key] += 1 if kind == "debit" else -1
            assert net[key] in (0, 1), f"{path.name}: key {key} debited twice or reversed without a debit"
            trade[key] = (trade_no, int(amount))
        for key, count in net.items():
            if count:
                assert key not in money, f"key {key} debited by two wallets"
                money[key] = Charge(*trade[key], path.stem)
    return money


def check_wallet_books(path: Path) -> None:
    """Every account's balance is its journal's sum, and the journal's last running balance."""
    with _open(path) as db:
        for payer, currency, balance in db.execute("SELECT payer, currency, balance FROM accounts"):
            entries = db.execute(
                "SELECT kind, amount, balance_after FROM entries WHERE payer = ? AND currency = ? ORDER BY id",
                (payer, currency),
            ).fetchall()
            total = sum(a if kind in ("credit", "reversal") else -a for kind, a, _ in entries)
            assert total == balance, f"{path.name}: {payer} {currency} balance {balance} but journal sums {total}"
            assert not entries or entries[-1][2] == balance, f"{path.name}: {payer} running balance is off"


def check_integrity(path: Path) -> None:
    """``PRAGMA integrity_check`` says ok, and no foreign key dangles."""
    with _open(path) as db:
        rows = db.execute("PRAGMA integrity_check").fetchall()
        assert rows == [("ok",)], f"{path.name}: integrity_check says {rows}"
        dangling = db.execute("PRAGMA foreign_key_check").fetchall()
        assert not dangling, f"{path.name}: foreign_key_check says {dangling}"


def check_answer(payment: PaymentRow) -> None:
    """A payment's stored answer names the payment, and the provider whose attempt decided it, whichever path
    ended it (the chain, an interruption, reconciliation)."""
    if payment.result is None:
        return
    pid, info = payment.payment_id, payment.extended_info
    assert info.get("paymentId") == pid, f"{pid} answers with extendedInfo {dict(info)}"
    last = payment.attempts[-1].provider if payment.attempts else None
    unsettled = bool(payment.attempts) and payment.attempts[-1].state in ("sent", "unknown")
    if "provider" in info:
        assert info["provider"] == last, f"{pid} answers provider {info['provider']!r}; its last attempt: {last}"
    if payment.status in ("succeeded", "cancelled") or (payment.status == "needs_reconciliation" and unsettled):
        assert last is not None, f"{pid} is {payment.status} without an attempt"
        assert info.get("provider") == last, f"{pid} is {payment.status} and answers {dict(info)}"


def check_ledger(view: LedgerFile) -> None:
    """The ledger's own rules, whatever the providers did."""
    for payment in view.payments.values():
        pid, attempts = payment.payment_id, payment.attempts
        if payment.trade_no in view.orders:  # an order of the ledger's own book: recorded as it is
            assert payment.amount == view.orders[payment.trade_no][0], f"payment {pid} of another amount"
        check_answer(payment)
        assert [a.number for a in attempts] == list(range(1, len(attempts) + 1)), f"{pid}: attempt numbers"
        for a in attempts:
            assert a.key == f"{pid}-{a.number}", f"{pid}: attempt {a.number} has key {a.key}"
        for a in attempts[:-1]:
            assert a.state in _SETTLED_ATTEMPT, (
                f"{pid}: attempt {a.number + 1} was made while attempt {a.number} is {a.state}"
            )
        paid = [a for a in attempts if a.state == "paid"]
        assert len(paid) <= 1, f"{pid}: {len(paid)} paid attempts"
        assert not paid or paid[0] is attempts[-1], f"{pid}: an attempt was made after a paid one"
        if payment.status == "succeeded":
            assert len(paid) == 1, f"{pid} succeeded with {len(paid)} paid attempts"
            assert payment.result_code == "9000", f"{pid} succeeded but answered {payment.result_code}"
        if payment.status in ("failed", "cancelled"):
            assert all(a.state == "not_paid" for a in attempts), (
                f"{pid} is {payment.status} but its attempts are {[a.state for a in attempts]}"
            )
        for a in attempts:
            if a.user_cancel:
                assert a is attempts[-1], f"{pid}: attempt {a.number + 1} after the user cancelled in {a.number}"
                assert payment.status in ("cancelled", "failed", "processing"), f"{pid} cancelled: {payment.status}"
        if payment.status == "cancelled":
            assert attempts, f"{pid} is cancelled without an attempt"
            assert attempts[-1].user_cancel, f"{pid} is cancelled but no attempt says the user did"
    for trade_no, payments in view.by_order.items():
        live = [p for p in payments if p.status in LIVE]
        assert len(live) <= 1, f"order {trade_no} has {len(live)} live payments"
        for older in payments[:-1]:
            assert older.status in ("failed", "cancelled"), (
                f"order {trade_no}: payment {older.payment_id} is {older.status} but a newer one exists"
            )
        paid = [a for p in payments for a in p.attempts if a.state == "paid"]
        assert len(paid) <= 1, f"order {trade_no} has {len(paid)} paid attempts"
        succeeded = any(p.status == "succeeded" for p in payments)
        if trade_no in view.orders:
            status = view.orders[trade_no][1]
            assert (status == "paid") == succeeded, f"order {trade_no} is {status}, succeeded payment: {succeeded}"
    for trade_no, (_, status) in view.orders.items():
        assert status != "paid" or trade_no in view.by_order, f"order {trade_no} is paid without a payment"


def check_money(view: LedgerFile, charges: Mapping[str, Charge]) -> None:
    """The providers' money against the ledger: every order charged at most once, every charge under a key
    the ledger recorded first, and, once nothing is unsettled, money moved == succeeded payments."""
    by_key = {a.key: (p, a) for p, a in view.attempts()}
    charged: dict[str, list[str]] = defaultdict(list)
    for key, charge in sorted(charges.items()):
        assert key in by_key, f"{charge.where} moved money under key {key}, which the ledger never recorded"
        payment, attempt = by_key[key]
        assert payment.trade_no == charge.trade_no, f"key {key}: charged for {charge.trade_no}"
        assert charge.amount == payment.amount, f"key {key}: charged {charge.amount}, order amount {payment.amount}"
        assert attempt.state != "not_paid", (
            f"{charge.where} holds money for key {key} but the ledger says it moved nothing (payment "
            f"{payment.payment_id} is {payment.status})"
        )
        assert payment.status in ("succeeded", *UNSETTLED), (
            f"{charge.where} holds money for key {key} of a {payment.status} payment"
        )
        charged[payment.trade_no].append(key)
    for trade_no, keys in charged.items():
        assert len(keys) == 1, f"order {trade_no} was charged {len(keys)} times: {keys}"
    for _, attempt in view.attempts():
        if attempt.state == "paid":
            assert attempt.key in charges, f"attempt {attempt.key} is paid, but no provider holds its money"
    for payment in view.payments.values():
        if payment.status == "succeeded":
            keys = [a.key for a in payment.attempts if a.key in charges]
            assert len(keys) == 1, f"payment {payment.payment_id} succeeded with charges {keys}"
    if not view.unsettled:
        moved = sum(c.amount for c in charges.values())
        owed = sum(p.amount for p in view.payments.values() if p.status == "succeeded")
        assert moved == owed, f"providers moved {moved}, succeeded payments amount to {owed}"
