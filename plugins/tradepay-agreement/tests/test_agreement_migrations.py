"""A SQLite file written by tradepay-agreement 0.1 (schema 1, usage summed from the debits) opens, gets its
usage counters from the debits it holds, and goes on paying within its limits; migration 1 is that schema."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from agreement_support import FakeClock, usage_from_debits

from tradepay import (
    Attempt,
    Order,
    PaymentAmount,
    ProviderConfig,
    Refund,
    RefundStatus,
    migrate,
    open_database,
)
from tradepay_agreement import AgreementError, AgreementProvider, AgreementStatus
from tradepay_agreement._schema import MIGRATIONS

#: The schema exactly as tradepay-agreement 0.1 created it (its _store._SCHEMA), with PRAGMA user_version = 1.
SCHEMA_0_1 = (
    """CREATE TABLE IF NOT EXISTS agreements (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        agreement_id TEXT NOT NULL UNIQUE,
        payer_id TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        scope TEXT NOT NULL,
        currency TEXT NOT NULL,
        per_payment_limit INTEGER CHECK (per_payment_limit > 0),
        cumulative_limit INTEGER CHECK (cumulative_limit > 0),
        count_limit INTEGER CHECK (count_limit > 0),
        access_token TEXT NOT NULL UNIQUE,
        status TEXT NOT NULL CHECK (status IN ('pending', 'active', 'revoked')),
        signed_at REAL NOT NULL,
        expires_at REAL
    )""",
    "CREATE INDEX IF NOT EXISTS agreements_by_pair ON agreements (payer_id, merchant_id, seq)",
    """CREATE TABLE IF NOT EXISTS attempts (
        idempotency_key TEXT PRIMARY KEY,
        status TEXT NOT NULL CHECK (status IN ('debited', 'declined', 'reversed', 'voided')),
        payer_id TEXT NOT NULL,
        merchant_id TEXT NOT NULL,
        trade_no TEXT NOT NULL,
        amount INTEGER NOT NULL CHECK (amount > 0),
        currency TEXT NOT NULL,
        agreement_id TEXT REFERENCES agreements (agreement_id),
        result_code TEXT,
        result_message TEXT,
        error_code INTEGER,
        error_desc TEXT,
        extended_info TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS attempts_by_agreement ON attempts (agreement_id, status, amount)",
)
NOW = 1_800_000_000.0


def write_0_1_file(path: Path) -> None:
    """A 0.1 file: alice/shop signed twice (revoked, then active with limits), bob/shop pending, and attempts
    in every status."""
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        for statement in SCHEMA_0_1:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        for agreement_id, payer, status, cumulative, count in [
            ("agr_old", "alice", "revoked", None, None),
            ("agr_now", "alice", "active", 1000, 3),
            ("agr_bob", "bob", "pending", None, None),
        ]:
            conn.execute(
                "INSERT INTO agreements (agreement_id, payer_id, merchant_id, scope, currency, cumulative_limit,"
                " count_limit, access_token, status, signed_at) VALUES (?, ?, 'shop', 'AGREEMENT_PAY', 'USD', ?, ?,"
                " ?, ?, ?)",
                (agreement_id, payer, cumulative, count, f"token-{agreement_id}", status, NOW),
            )
        for key, state, amount, judged_by in [
            ("k1-1", "debited", 100, "agr_old"),
            ("k2-1", "debited", 200, "agr_now"),
            ("k3-1", "debited", 300, "agr_now"),
            ("k4-1", "reversed", 50, "agr_now"),
            ("k5-1", "declined", 999, "agr_now"),
            ("k6-1", "voided", 10, None),
        ]:
            answer = ("9000", f"debited under {judged_by}", json.dumps({"agreement_id": judged_by}))
            conn.execute(
                "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
                " agreement_id, result_code, result_message, extended_info, created_at, updated_at)"
                " VALUES (?, ?, 'alice', 'shop', ?, ?, 'USD', ?, ?, ?, ?, ?, ?)",
                (key, state, key.split("-")[0], amount, judged_by, *answer, NOW, NOW),
            )
        conn.commit()
    finally:
        conn.close()


def pay(provider: AgreementProvider, key: str, value: str) -> tuple[str, str | None]:
    order = Order(key.split("-")[0], PaymentAmount("USD", value), "shop", "alice")
    result = provider.pay(order=order, attempt=Attempt(key.split("-")[0], 1, "agreement", key))
    return result.result_code.value, result.reason


@pytest.fixture
def old_file(tmp_path: Path) -> Path:
    path = tmp_path / "agreement.sqlite3"
    write_0_1_file(path)
    return path


def test_a_0_1_file_gets_its_usage_from_its_debits_and_keeps_paying(old_file: Path) -> None:
    provider = AgreementProvider(ProviderConfig("agreement", {}, old_file.parent), clock=FakeClock(NOW))
    try:
        store = provider.store
        used = {a.agreement_id: (a.used_amount, a.used_count) for a in store.agreements()}
        assert used == {"agr_old": (100, 1), "agr_now": (500, 2), "agr_bob": (0, 0)}
        assert [a.status for a in store.agreements("alice")] == [AgreementStatus.REVOKED, AgreementStatus.ACTIVE]

        # The newest of the pair still decides, its limits count the old debits, repeats answer as before.
        assert pay(provider, "k2-1", "200") == ("9000", None)
        assert pay(provider, "k6-1", "10") == ("4000", "ATTEMPT_VOIDED")
        assert pay(provider, "new1-1", "501") == ("4000", "USER_AMOUNT_EXCEED_LIMIT")
        assert pay(provider, "new2-1", "500") == ("9000", None)
        assert pay(provider, "new3-1", "1") == ("4000", "USER_AMOUNT_EXCEED_LIMIT")
        order = Order("k3", PaymentAmount("USD", "300"), "shop", "alice")
        assert provider.cancel(order=order, attempt=Attempt("k3", 1, "agreement", "k3-1")) is True
        assert (store.get("agr_now").used_amount, store.get("agr_now").used_count) == (700, 2)
        assert usage_from_debits(store, "agr_now") == (700, 2)
        with pytest.raises(AgreementError, match="agr_now"):
            store.sign("alice", "shop", "USD")
        store.revoke("agr_now")
        assert store.sign("alice", "shop", "USD").status is AgreementStatus.PENDING
        assert pay(provider, "new4-1", "1")[1] == "AUTH_PENDING_AGREEMENT"
    finally:
        provider.close()
    probe = sqlite3.connect(old_file)
    try:
        assert probe.execute("PRAGMA user_version").fetchone()[0] == 3
    finally:
        probe.close()


def refund(provider: AgreementProvider, key: str, value: str, refund_key: str) -> tuple[str, str | None]:
    order, attempt = Order(key.split("-")[0], PaymentAmount("USD", value), "shop", "alice"), attempt_of(key)
    asked = Refund(refund_key, order.trade_no, attempt.payment_id, attempt, order.amount, refund_key, "shop", None,
                   RefundStatus.PROCESSING)  # fmt: skip
    answer = provider.refund(order=order, attempt=attempt, refund=asked)
    return answer.outcome.value, answer.reason


def attempt_of(key: str) -> Attempt:
    return Attempt(key.split("-")[0], 1, "agreement", key)


def test_a_0_1_files_debits_are_refunded_and_give_their_usage_back(old_file: Path) -> None:
    provider = AgreementProvider(ProviderConfig("agreement", {}, old_file.parent), clock=FakeClock(NOW))
    try:
        store = provider.store
        assert refund(provider, "k2-1", "50", "r-1") == ("succeeded", None)
        assert (store.get("agr_now").used_amount, store.get("agr_now").used_count) == (450, 2)
        assert refund(provider, "k2-1", "150", "r-2") == ("succeeded", None)  # k2 in full: its count comes back
        assert (store.get("agr_now").used_amount, store.get("agr_now").used_count) == (300, 1)
        assert refund(provider, "k1-1", "100", "r-3") == ("succeeded", None)  # under the revoked agreement
        assert (store.get("agr_old").used_amount, store.get("agr_old").used_count) == (0, 0)
        assert refund(provider, "k4-1", "50", "r-4") == ("failed", "ATTEMPT_REVERSED")
        assert refund(provider, "k5-1", "1", "r-5") == ("failed", "ATTEMPT_NOT_CHARGED")
        assert refund(provider, "k6-1", "1", "r-6") == ("failed", "ATTEMPT_NOT_CHARGED")
    finally:
        provider.close()


def test_a_database_at_version_2_is_migrated_and_refunds_its_debits(
    make_provider: Callable[..., AgreementProvider], database: str, tmp_path: Path
) -> None:
    db = open_database(database, base=tmp_path, schema="tradepay_agreement")
    try:
        assert migrate(db, MIGRATIONS, target=2) == 2
        with db.write() as conn:
            conn.execute(
                "INSERT INTO agreements (agreement_id, payer_id, merchant_id, scope, currency, access_token, status,"
                " signed_at, pair_seq, used_amount, used_count)"
                " VALUES ('agr_v2', 'alice', 'shop', 'AGREEMENT_PAY', 'USD', 'token-v2', 'active', ?, 1, 300, 1)",
                (NOW,),
            )
            conn.execute(
                "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
                " agreement_id, result_code, result_message, extended_info, created_at, updated_at)"
                " VALUES ('k1-1', 'debited', 'alice', 'shop', 'k1', 300, 'USD', 'agr_v2', '9000', 'debited', '{}',"
                " ?, ?)",
                (NOW, NOW),
            )
    finally:
        db.close()

    provider = make_provider(clock=FakeClock(NOW))

    assert refund(provider, "k1-1", "300", "r-1") == ("succeeded", None)
    agreement = provider.store.get("agr_v2")
    assert (agreement.used_amount, agreement.used_count) == (0, 0)
    with provider.store.database.read() as conn:
        version = provider.store.database.schema_version(conn)
    assert version == 3


def schema_of(path: Path) -> list[tuple[str, str]]:
    """Every table and index of the file with its SQL, whitespace normalised (SQLite keeps the text given)."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name")
        return [(name, " ".join((sql or "").replace("IF NOT EXISTS ", "").split())) for name, sql in rows]
    finally:
        conn.close()


def test_migration_1_on_sqlite_is_the_0_1_schema(tmp_path: Path, old_file: Path) -> None:
    fresh = tmp_path / "fresh.sqlite3"
    db = open_database(fresh)
    try:
        assert migrate(db, MIGRATIONS, target=1) == 1
    finally:
        db.close()
    old = tmp_path / "empty-0.1.sqlite3"
    conn = sqlite3.connect(old)
    for statement in SCHEMA_0_1:
        conn.execute(statement)
    conn.close()

    assert schema_of(fresh) == schema_of(old)


def test_a_migrated_0_1_file_has_the_schema_of_a_new_one(tmp_path: Path, old_file: Path) -> None:
    for path in (old_file, tmp_path / "new.sqlite3"):
        AgreementProvider(ProviderConfig("agreement", {"database": path.name}, tmp_path)).close()

    assert schema_of(old_file) == schema_of(tmp_path / "new.sqlite3")
