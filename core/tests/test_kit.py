"""The provider kit: SQL scripts and placeholders, settings, answers, payment keys and the provider store."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from structlog.testing import capture_logs

from tradepay import (
    ATTEMPTS_TABLE,
    REFUNDS_TABLE,
    Attempt,
    AttemptStatus,
    AttemptTable,
    Capabilities,
    ConfigError,
    ErrorCode,
    FailureScope,
    InvalidInput,
    Order,
    PaymentAmount,
    PaymentResult,
    ProviderStore,
    Refund,
    RefundAnswer,
    RefundKeyStatus,
    RefundOutcome,
    RefundStatus,
    ResultCode,
    ResultError,
    StoreSettings,
    StoreTransaction,
    answer_refund,
    answer_refund_inquiry,
    attempts_table,
    beyond_capabilities,
    decline,
    get_logger,
    migrate,
    open_database,
    parse_store_settings,
    replay_payment,
    shown_location,
    usage_errors,
)
from tradepay._ledger.databases import split_script, to_pyformat
from tradepay.testing import closing_all, postgres_schema, postgres_skip_reason, sample_refund

ORDER = Order("T1", PaymentAmount("USD", "500"), "shop-1", "alice")
ATTEMPT = Attempt("pay-1", 1, "kit", "pay-1-1")


# --- scripts and placeholders ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "statements"),
    [
        ("SELECT 1; SELECT 2", ["SELECT 1", " SELECT 2"]),
        ("INSERT INTO t VALUES ('a;b'); SELECT 2;", ["INSERT INTO t VALUES ('a;b')", " SELECT 2"]),
        ("INSERT INTO t VALUES ('it''s; here')", ["INSERT INTO t VALUES ('it''s; here')"]),
        ('CREATE TABLE "a;b" (x TEXT)', ['CREATE TABLE "a;b" (x TEXT)']),
        ("SELECT 1 -- not the end; nor this\n; SELECT 2", ["SELECT 1 -- not the end; nor this\n", " SELECT 2"]),
        ("SELECT /* ; */ 1; /* only a comment; */", ["SELECT /* ; */ 1"]),
        (";;  ;\n-- nothing\n", []),
        ("SELECT 'unterminated; still the string", ["SELECT 'unterminated; still the string"]),
    ],
)
def test_a_script_is_split_only_on_the_semicolons_that_end_statements(script: str, statements: list[str]) -> None:
    assert split_script(script) == statements


@pytest.mark.parametrize(
    ("sql", "translated"),
    [
        ("SELECT ? FROM t WHERE a = ?", "SELECT %s FROM t WHERE a = %s"),
        ("SELECT '?' , ?", "SELECT '?' , %s"),
        ("SELECT 'it''s ?', \"col?\" -- why?\n, ?", "SELECT 'it''s ?', \"col?\" -- why?\n, %s"),
        ("SELECT ? WHERE x LIKE '10%' AND y = 5 % 2", "SELECT %s WHERE x LIKE '10%%' AND y = 5 %% 2"),
        ("SELECT /* ? */ ?", "SELECT /* ? */ %s"),
    ],
)
def test_the_postgresql_spelling_leaves_quoted_text_alone(sql: str, translated: str) -> None:
    assert to_pyformat(sql) == translated


def test_a_migration_with_a_semicolon_in_a_string_and_the_placeholders_runs(tmp_path: Path) -> None:
    db = open_database(tmp_path / "m.sqlite3")
    try:
        script = (
            "CREATE TABLE t (id {serial}, n {int64} CHECK ({is_integer:n}n > 0), note TEXT DEFAULT 'a;b', at {double});"
            " CREATE TABLE u (k TEXT PRIMARY KEY){without_rowid}; INSERT INTO t (n, note) VALUES (1, 'x; y -- z')"
        )
        assert migrate(db, [script, {"sqlite": "INSERT INTO t (n) VALUES (2)", "postgresql": "SELECT 1"}]) == 2
        with db.read() as conn:
            assert conn.execute("SELECT n, note FROM t ORDER BY n").fetchall() == [(1, "x; y -- z"), (2, "a;b")]
            with pytest.raises(sqlite3.IntegrityError):
                conn.execute("INSERT INTO t (n) VALUES (1.5)")  # {is_integer:n}: SQLite refuses a float
    finally:
        db.close()


@pytest.mark.parametrize("script", ["CREATE TABLE {nope} (x TEXT)", "SELECT '{'", "SELECT {0}", "{is_integer:}"])
def test_a_bad_placeholder_is_refused_before_anything_runs(tmp_path: Path, script: str) -> None:
    db = open_database(tmp_path / "m.sqlite3")
    try:
        with pytest.raises(InvalidInput) as refused:
            migrate(db, [script])
        assert refused.value.field == "migrations"
        assert migrate(db, []) == 0
    finally:
        db.close()


@pytest.mark.postgres
@pytest.mark.skipif(postgres_skip_reason() is not None, reason=postgres_skip_reason() or "")
def test_postgresql_runs_quoted_question_marks_and_percents_as_written() -> None:
    with postgres_schema() as url:
        db = open_database(url)
        try:
            migrate(db, ["CREATE TABLE t (a TEXT, b TEXT DEFAULT 'why?; 100%')", {"sqlite": "", "postgresql": ""}])
            with db.write() as conn:
                conn.execute("INSERT INTO t (a) VALUES (?)", ("it's ?",))
            with db.read() as conn:
                rows = conn.execute("SELECT a, b, '?' FROM t WHERE b LIKE '%?%' AND a = ?", ("it's ?",)).fetchall()
            assert rows == [("it's ?", "why?; 100%", "?")]
        finally:
            db.close()


# --- settings, answers, locations ------------------------------------------------------------------------


def test_the_settings_resolve_the_database_one_way(tmp_path: Path) -> None:
    table = "providers.kit"
    assert parse_store_settings({}, tmp_path, table=table, default="kit.db") == StoreSettings(tmp_path / "kit.db")
    url = "postgresql://kit@db/pay?schema=kit_eu"
    parsed = parse_store_settings({"database": url, "currencies": ["USD", "USD"], "max_amount": 9}, tmp_path,
                                  table=table, default="kit.db")  # fmt: skip
    assert parsed == StoreSettings(url, frozenset({"USD"}), 9)
    relative = Path("state") / "k.db"
    assert parse_store_settings({"database": f"sqlite:///{relative}"}, tmp_path, table=table, default="x").database == (
        tmp_path / relative
    )


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({"colour": "blue"}, "colour"),
        ({"database": "postgresql://kit:pw@db/pay?schema=Bad-Name"}, "database"),
        ({"database": "ftp://db/pay"}, "database"),
        ({"database": "\x00"}, "database"),
        ({"currencies": ["USD", "usd"]}, "currencies"),
        ({"max_amount": 10**18}, "max_amount"),
        ({"max_amount": False}, "max_amount"),
    ],
)
def test_a_bad_setting_names_its_key_and_never_the_password(tmp_path: Path, settings: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as refused:
        parse_store_settings(settings, tmp_path, table="providers.kit", default="kit.db")
    assert refused.value.key == f"providers.kit.{key}"
    assert ":pw@" not in str(refused.value)


@pytest.mark.parametrize(
    ("location", "shown"),
    [
        ("postgresql://shop:s3cret@db:5432/pay?schema=x", "postgresql://shop:***@db:5432/pay?schema=x"),
        ("postgresql://:s3cret@db/pay", "postgresql://:***@db/pay"),
        ("postgresql://shop@db/pay", "postgresql://shop@db/pay"),
        ("postgresql://shop:s3cret@db:notaport/pay", "postgresql://shop:***@db:notaport/pay"),
        ("state/kit.db", "state/kit.db"),
    ],
)
def test_a_location_is_shown_without_its_password(location: str, shown: str) -> None:
    assert shown_location(location) == shown


def test_a_decline_is_about_the_payment_and_a_result_survives_json() -> None:
    answer = decline("NO_FUNDS", "the balance is low", message="declined", card_last4="4242")
    assert (answer.result_code, answer.result_message, answer.reason) == (ResultCode.FAILED, "declined", "NO_FUNDS")
    assert answer.result_error == ResultError(ErrorCode.APP_SERVICE_ERROR, "the balance is low")
    assert FailureScope.of(answer) is FailureScope.PAYMENT
    assert answer.extended_info["card_last4"] == "4242"
    assert PaymentResult.from_dict(answer.to_dict()) == answer
    paid = PaymentResult(ResultCode.SUCCESS, "paid")
    assert PaymentResult.from_dict(paid.to_dict()) == paid


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "resultCode"),
        ({"resultCode": "1234"}, "result_code"),
        ({"resultCode": "4000", "resultError": "bad"}, "resultError"),
        ({"resultCode": "4000", "resultError": {"errorCode": 7}}, "result_error.error_code"),
        ({"resultCode": "9000", "extendedInfo": ["x"]}, "extendedInfo"),
        ({"resultCode": "9000", "resultError": {"errorCode": 1002, "errorDesc": "x"}}, "result_error"),
        ([], "result"),
    ],
)
def test_from_dict_refuses_what_to_dict_never_writes(data: Any, field: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        PaymentResult.from_dict(data)
    assert refused.value.field == field


def test_capabilities_decline_what_they_rule_out() -> None:
    caps = Capabilities(currencies=frozenset({"EUR"}), max_amount=100)
    assert beyond_capabilities(ORDER, caps).reason == "CURRENCY_NOT_SUPPORTED"  # type: ignore[union-attr]
    caps = Capabilities(max_amount=499)
    assert beyond_capabilities(ORDER, caps).reason == "PAYMENT_AMOUNT_EXCEED_LIMIT"  # type: ignore[union-attr]
    assert beyond_capabilities(ORDER, Capabilities(max_amount=500)) is None


# --- payment keys and the store --------------------------------------------------------------------------


@pytest.fixture
def store(tmp_path: Path) -> Any:
    made = ProviderStore(
        tmp_path / "kit.sqlite3",
        schema="tradepay_kit",
        migrations=(ATTEMPTS_TABLE, REFUNDS_TABLE),
        where="providers.kit.database",
        transaction=StoreTransaction,
    )
    yield made
    made.close()


def test_a_reused_key_is_answered_in_the_one_order_of_checks(store: ProviderStore[StoreTransaction]) -> None:
    paid = PaymentResult(ResultCode.SUCCESS, "paid")
    other = Order("T1", PaymentAmount("USD", "500"), "shop-1", "bob")
    store.write(lambda tx: tx.attempts.record(ATTEMPT, ORDER, AttemptStatus.PAID, paid))
    row = store.write(lambda tx: tx.attempts.find(ATTEMPT.idempotency_key))
    assert row is not None
    assert replay_payment(row, ORDER) == paid
    assert replay_payment(row, other).reason == "REPEAT_REQ_INCONSISTENT"
    assert store.write(lambda tx: tx.attempts.reverse(ATTEMPT.idempotency_key)) is True
    assert store.write(lambda tx: tx.attempts.reverse(ATTEMPT.idempotency_key)) is False  # once
    reversed_ = store.write(lambda tx: tx.attempts.find(ATTEMPT.idempotency_key))
    assert reversed_ is not None
    assert replay_payment(reversed_, other).reason == "REPEAT_REQ_INCONSISTENT"  # inconsistent before reversed
    assert replay_payment(reversed_, ORDER).reason == "ATTEMPT_REVERSED"
    unseen = Attempt("pay-2", 1, "kit", "pay-2-1")
    assert store.write(lambda tx: tx.attempts.status_or_void(unseen, ORDER)) is None  # the tombstone
    voided = store.write(lambda tx: tx.attempts.status_or_void(unseen, other))
    assert voided is not None
    assert voided.status is AttemptStatus.VOIDED
    assert replay_payment(voided, other).reason == "ATTEMPT_VOIDED"  # voided before inconsistent


def test_a_unique_violation_runs_the_transaction_once_more(store: ProviderStore[StoreTransaction]) -> None:
    runs: list[int] = []

    def work(tx: StoreTransaction) -> AttemptStatus:
        runs.append(1)
        tx.attempts.record(ATTEMPT, ORDER, AttemptStatus.PAID)
        if len(runs) == 1:  # the key taken meanwhile, as another writer would: this run is rolled back whole
            tx.attempts.record(ATTEMPT, ORDER, AttemptStatus.DECLINED)
        return AttemptStatus.PAID

    assert store.write(work) is AttemptStatus.PAID
    assert len(runs) == 2
    found = store.write(lambda tx: tx.attempts.find(ATTEMPT.idempotency_key))
    assert found is not None
    assert found.status is AttemptStatus.PAID

    def always(tx: StoreTransaction) -> None:
        tx.attempts.record(ATTEMPT, ORDER, AttemptStatus.DECLINED)  # the key is there: every run violates

    with pytest.raises(sqlite3.IntegrityError):
        store.write(always)


def test_a_store_it_cannot_use_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    (tmp_path / "garbage.db").write_bytes(b"not a database" * 100)
    with pytest.raises(ConfigError, match=r"cannot use .*garbage\.db") as refused:
        ProviderStore(tmp_path / "garbage.db", schema="tradepay_kit", migrations=(ATTEMPTS_TABLE,),
                      where="providers.kit.database", transaction=StoreTransaction)  # fmt: skip
    assert refused.value.key == "providers.kit.database"
    with pytest.raises(InvalidInput):
        AttemptTable(payer="payer; DROP TABLE attempts")


def test_a_store_without_its_own_transactions_writes_in_plain_ones(tmp_path: Path) -> None:
    plain = ProviderStore(
        tmp_path / "plain.sqlite3", schema="tradepay_kit", migrations=(ATTEMPTS_TABLE,), where="providers.kit.database"
    )
    try:
        assert plain.write(lambda tx: type(tx)) is StoreTransaction
        with pytest.raises(InvalidInput) as refused:
            ProviderStore(
                tmp_path / "bad.sqlite3",
                schema="tradepay_kit",
                migrations=(ATTEMPTS_TABLE,),
                where="providers.kit.database",
                transaction="StoreTransaction",
            )  # type: ignore[call-overload]
        assert refused.value.field == "transaction"
    finally:
        plain.close()


def test_a_closed_store_opens_again(store: ProviderStore[StoreTransaction]) -> None:
    store.close()
    store.close()
    assert store.write(lambda tx: tx.attempts.find("nothing")) is None
    assert os.fspath(store.location).endswith("kit.sqlite3")


# --- the attempts table's DDL ----------------------------------------------------------------------------

#: ATTEMPTS_TABLE as it was first written by hand: the text a new database has always been given.
PLAIN_ATTEMPTS_TABLE = """CREATE TABLE attempts (
    idempotency_key TEXT PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('paid', 'declined', 'reversed', 'voided')),
    payer_id TEXT NOT NULL,
    trade_no TEXT NOT NULL,
    currency TEXT NOT NULL,
    amount {int64} NOT NULL CHECK (amount > 0),
    result_code TEXT,
    result_message TEXT,
    error_code INTEGER,
    error_desc TEXT,
    extended_info TEXT,
    created_at {double} NOT NULL,
    updated_at {double} NOT NULL
)"""


def test_the_attempts_table_keeps_its_text_and_takes_the_providers_columns(tmp_path: Path) -> None:
    assert ATTEMPTS_TABLE == PLAIN_ATTEMPTS_TABLE
    own = attempts_table(
        "idempotency_key TEXT PRIMARY KEY",
        "payer TEXT NOT NULL",
        "status TEXT NOT NULL",
        "trade_no TEXT NOT NULL",
        "currency TEXT NOT NULL",
        "amount {int64} NOT NULL",
        "card_token TEXT",
        if_not_exists=True,
        indent=4,
    )
    assert own.startswith("CREATE TABLE IF NOT EXISTS attempts (\n        idempotency_key TEXT PRIMARY KEY,\n")
    assert own.endswith("\n        updated_at {double} NOT NULL\n    )")
    made = ProviderStore(
        tmp_path / "own.sqlite3",
        schema="tradepay_kit",
        migrations=(own,),
        where="providers.kit.database",
        transaction=StoreTransaction,
        attempts=AttemptTable(payer="payer", extra=("card_token",)),
    )
    try:
        made.write(lambda tx: tx.attempts.record(ATTEMPT, ORDER, AttemptStatus.PAID, card_token="card_1"))
        row = made.write(lambda tx: tx.attempts.find(ATTEMPT.idempotency_key))
        assert row is not None
        assert (row.payer_id, row.amount, row.extra) == ("alice", 500, {"card_token": "card_1"})
    finally:
        made.close()


@pytest.mark.parametrize(
    ("columns", "indent", "field"),
    [((), 0, "asked"), (("idempotency_key TEXT PRIMARY KEY", " "), 0, "asked"), (("a TEXT",), -1, "indent")],
)
def test_an_attempts_table_without_columns_or_with_a_bad_indent_is_refused(
    columns: tuple[str, ...], indent: int, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        attempts_table(*columns, indent=indent)
    assert refused.value.field == field


# --- the refund hooks ------------------------------------------------------------------------------------


def refund_of(key: str, attempt: Attempt = ATTEMPT) -> Refund:
    """A refund of USD 1.00 under the refund key ``key`` (its id) of ``attempt``'s payment."""
    return Refund(key, ORDER.trade_no, attempt.payment_id, attempt, PaymentAmount("USD", "100"), "req-1", "shop-1",
                  None, RefundStatus.PROCESSING)  # fmt: skip


def test_a_refund_key_that_cannot_be_recorded_is_refused_before_the_provider_decides() -> None:
    decided: list[str] = []

    def decide() -> RefundAnswer:
        decided.append("asked")
        return RefundAnswer(RefundOutcome.SUCCEEDED, None, "given back")

    log = get_logger("tradepay_kit_tests")
    with capture_logs() as logs:
        # The host's keys are always recordable (Attempt refuses the rest); a caller of the provider may pass any.
        unrecordable = object.__new__(Attempt)
        for name in Attempt.__slots__:
            object.__setattr__(unrecordable, name, getattr(ATTEMPT, name))
        object.__setattr__(unrecordable, "idempotency_key", "k" * 300)
        refused = answer_refund(ORDER, unrecordable, refund_of("r-0", unrecordable), decide, log=log, provider="kit")
        answered = answer_refund(ORDER, ATTEMPT, refund_of("r-1"), decide, log=log, provider="kit")

    assert (refused.outcome, refused.reason) == (RefundOutcome.FAILED, "INVALID_REQUEST")
    assert answered == RefundAnswer(RefundOutcome.SUCCEEDED, None, "given back")
    assert decided == ["asked"]  # once: the refused key never reached the provider
    assert [(e["event"], e["log_level"], e["reason"]) for e in logs] == [
        ("kit.refund_refused", "warning", "INVALID_REQUEST"),
        ("kit.refund_answered", "info", None),
    ]
    assert [(e["trade_no"], e["refund_key"], e["amount"], e["currency"]) for e in logs] == [
        ("T1", "r-0", 100, "USD"),
        ("T1", "r-1", 100, "USD"),
    ]
    assert logs[1]["idempotency_key"] == "pay-1-1"


def test_an_inquiry_of_a_refund_key_never_seen_voids_it_and_is_logged(store: ProviderStore[StoreTransaction]) -> None:
    log = get_logger("tradepay_kit_tests")
    with capture_logs() as logs:
        outcome = answer_refund_inquiry(ORDER, ATTEMPT, refund_of("r-9"), store, log=log, provider="kit")

    assert outcome is RefundOutcome.FAILED
    assert [row.status for row in store.refunds(ATTEMPT.idempotency_key)] == [RefundKeyStatus.VOIDED]
    assert [(e["event"], e["trade_no"], e["refund_key"], e["outcome"]) for e in logs] == [
        ("kit.refund_inquired", "T1", "r-9", "failed")
    ]


@pytest.mark.parametrize(("log", "provider", "field"), [("log", "kit", "log"), (None, "kit.x", "provider")])
def test_the_refund_hooks_refuse_a_logger_or_provider_name_they_cannot_log_with(
    store: ProviderStore[StoreTransaction], log: Any, provider: str, field: str
) -> None:
    logger = get_logger("tradepay_kit_tests") if log is None else log
    with pytest.raises(InvalidInput) as refused:
        answer_refund_inquiry(ORDER, ATTEMPT, refund_of("r-1"), store, log=logger, provider=provider)
    assert refused.value.field == field
    assert store.refunds() == []  # nothing was asked, nothing recorded


# --- the providers' commands -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "named"),
    [
        ("payer_id", "Invalid value for 'PAYER'"),  # hinted
        ("error", "Invalid value for '--result-code' / '--error-code'"),  # hinted, two options
        ("payer", "Invalid value for 'PAYER'"),  # the command's argument of that name, brackets or not
        ("times", "Invalid value for '--times'"),  # the command's option of that name
        ("token", "Invalid value for 'token'"),  # neither: the field as it is
    ],
)
def test_bad_input_on_a_command_line_names_the_parameter_as_typed(field: str, named: str) -> None:
    hints = {"payer_id": "PAYER", "error": ("--result-code", "--error-code")}

    @click.command()
    @click.argument("payer", required=False)
    @click.option("--times", type=int)
    def refused(payer: str | None, times: int | None) -> None:
        with usage_errors(hints):
            raise InvalidInput(field, "is not right\x1b[2J")

    result = CliRunner().invoke(refused, [])

    assert result.exit_code == 2
    assert f"{named}: is not right" in result.output
    assert "\x1b" not in result.output  # the reason is made printable
    assert "Traceback" not in result.output


def test_usage_errors_lets_every_other_exception_through() -> None:
    with pytest.raises(ValueError, match="not input"), usage_errors():
        raise ValueError("not input")
    with pytest.raises(click.BadParameter, match="is not right") as outside, usage_errors():  # no command runs
        raise InvalidInput("payer", "is not right")
    assert outside.value.param_hint == ["payer"]
    with pytest.raises(InvalidInput) as refused, usage_errors(["PAYER"]):  # type: ignore[arg-type]
        pass
    assert refused.value.field == "hints"


# --- the testing kit's helpers for a provider's tests ----------------------------------------------------


class Closable:
    def __init__(self, name: str, closed: list[str]) -> None:
        self.name, self._closed = name, closed

    def close(self) -> None:
        self._closed.append(self.name)


def test_closing_all_closes_everything_made_even_when_the_block_fails() -> None:
    closed: list[str] = []

    def fail_after_making_two() -> None:
        with closing_all(Closable) as make:
            assert [make(name, closed).name for name in ("a", "b")] == ["a", "b"]
            assert closed == []  # nothing is closed while the block runs
            raise RuntimeError("the test failed")

    with pytest.raises(RuntimeError, match="the test failed"):
        fail_after_making_two()
    assert closed == ["a", "b"]
    with pytest.raises(InvalidInput) as refused, closing_all("Closable"):  # type: ignore[arg-type]
        pass
    assert refused.value.field == "make"


def test_a_sample_refund_is_what_the_host_hands_a_provider() -> None:
    refund = sample_refund(ATTEMPT, PaymentAmount("USD", "100"), key="r-1", trade_no="T1", merchant_id="shop-1")
    assert (refund.idempotency_key, refund.request_id, refund.trade_no, refund.merchant_id) == (
        "r-1",
        "r-1",
        "T1",
        "shop-1",
    )
    assert (refund.attempt, refund.payment_id, refund.status) == (ATTEMPT, "pay-1", RefundStatus.PROCESSING)
    assert sample_refund(ATTEMPT, PaymentAmount("USD", "1"), request_id="req-9").request_id == "req-9"
