"""The SQLite ledger's own promises: its pragmas, its migrations, and its safety across processes."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
from pathlib import Path

import pytest

from tradepay import ConfigError, PaymentAmount, PaymentResult, PaymentStatus, ResultCode, open_sqlite
from tradepay._ledger.databases import SQLiteDatabase
from tradepay._ledger.migrations import MIGRATIONS, SCHEMA_VERSION, migrate
from tradepay._ledger.sql import SQLiteLedger


def test_the_file_is_opened_with_wal_full_sync_and_a_busy_timeout(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    db = ledger._connection()
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    ledger.close()


def schema_version(db: sqlite3.Connection) -> int:
    return int(db.execute("PRAGMA user_version").fetchone()[0])


def _tables(db: sqlite3.Connection) -> dict[str, str]:
    return dict(db.execute("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name").fetchall())


def test_migrating_an_empty_file_gives_the_latest_schema(tmp_path: Path) -> None:
    database = SQLiteDatabase(tmp_path / "new.sqlite3")
    db = database.connection()
    assert schema_version(db) == 0
    assert migrate(database) == SCHEMA_VERSION == len(MIGRATIONS)
    assert {"orders", "payments", "attempts", "payments_one_live", "attempts_one_unsettled"} <= set(_tables(db))
    assert migrate(database) == SCHEMA_VERSION  # idempotent


#: The migration that gave each payment a snapshot of its order (the columns of a payments row changed there).
PAYMENTS_WITH_ORDER = 3


@pytest.mark.parametrize("start", range(1, SCHEMA_VERSION))
def test_migrating_from_each_earlier_version_keeps_the_data(tmp_path: Path, start: int) -> None:
    database = SQLiteDatabase(tmp_path / "old.sqlite3")
    migrate(database, target=start)
    old = database.connection()
    old.execute("INSERT INTO orders VALUES ('T1', 'USD', '100', 'm1', 'alice', 'paid', NULL, 1.0)")
    if start < PAYMENTS_WITH_ORDER:
        old.execute("INSERT INTO payments VALUES ('pay_1', 'T1', 'succeeded', NULL, NULL, 1.0, 2.0)")
    else:  # the payment carries its order from migration 3 on
        old.execute(
            "INSERT INTO payments VALUES ('pay_1', 'T1', 'succeeded', NULL, NULL, 1.0, 2.0,"
            " 'USD', '100', 'm1', 'alice', 'paid', NULL, NULL)"
        )
    old.close()
    ledger = SQLiteLedger(tmp_path / "old.sqlite3")
    assert schema_version(ledger._connection()) == SCHEMA_VERSION
    payment = ledger.get_payment("pay_1")
    assert payment is not None
    assert payment.status is PaymentStatus.SUCCEEDED
    fresh = SQLiteDatabase(tmp_path / "fresh.sqlite3")
    migrate(fresh)
    assert _tables(ledger._connection()) == _tables(fresh.connection())


def test_a_file_from_a_newer_tradepay_is_refused(tmp_path: Path) -> None:
    db = open_sqlite(tmp_path / "future.sqlite3")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(ConfigError, match="newer than this software understands"):
        SQLiteLedger(tmp_path / "future.sqlite3")


def test_the_database_refuses_a_second_live_payment_of_one_order(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    order = ledger.create_order(PaymentAmount("USD", "5"), merchant_id="m", payer_id="p")
    ledger.begin_payment(order, None)
    db = ledger._connection()
    with pytest.raises(sqlite3.IntegrityError, match="UNIQUE"):
        db.execute(
            "INSERT INTO payments VALUES ('pay_x', ?, 'processing', NULL, NULL, 1, 1, 'USD', '5', 'm', 'p', 'open',"
            " NULL, NULL)",
            (order.trade_no,),
        )


def _begin_in_child(path: str, trade_no: str, queue: multiprocessing.Queue[tuple[str, bool]]) -> None:
    ledger = SQLiteLedger(path)
    order = ledger.get_order(trade_no)
    assert order is not None
    payment, created = ledger.begin_payment(order, None)
    queue.put((payment.payment_id, created))


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_processes_share_one_file_and_one_payment_per_order(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite3"
    ledger = SQLiteLedger(path)
    order = ledger.create_order(PaymentAmount("USD", "5"), merchant_id="m", payer_id="p")
    # fork: the child builds its own ledger (its own connection) from the path, as a new process would.
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[tuple[str, bool]] = context.Queue()
    children = [context.Process(target=_begin_in_child, args=(str(path), order.trade_no, queue)) for _ in range(4)]
    for child in children:
        child.start()
    answers = [queue.get(timeout=30) for _ in children]
    for child in children:
        child.join(30)
    assert sum(created for _, created in answers) == 1
    assert len({pid for pid, _ in answers}) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_no_connection_crosses_a_fork(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    order = ledger.create_order(PaymentAmount("USD", "5"), merchant_id="m", payer_id="p")
    before = ledger._connection()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        child = ledger._connection()
        ok = child is not before and ledger.get_order(order.trade_no) == order
        ledger.create_order(PaymentAmount("USD", "6"), merchant_id="m", payer_id="p", trade_no="T-CHILD")
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    # The parent's connection was closed at the fork and reopens on use; the child's write is there.
    assert ledger._connection() is not before
    assert ledger.get_order("T-CHILD") is not None


def test_results_survive_the_round_trip(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    order = ledger.create_order(PaymentAmount("JPY", "500"), merchant_id="m", payer_id="p")
    payment, _ = ledger.begin_payment(order, "app")
    result = PaymentResult(ResultCode.SUCCESS, "paid \u00e9\u4e2d", extended_info={"paymentId": payment.payment_id})
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, result)
    reopened = SQLiteLedger(tmp_path / "ledger.sqlite3")
    stored = reopened.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.result == result
    assert stored.app_id == "app"
