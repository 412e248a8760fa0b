"""One contract, every ledger: the same tests run against the in-memory and the SQLite ledger."""

from __future__ import annotations

import os
import secrets
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    InvalidInput,
    Ledger,
    MemoryLedger,
    Order,
    OrderStatus,
    OutcomeKind,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentType,
    ProviderStatus,
    ResultCode,
)
from tradepay._ledger.databases import Database, SQLiteDatabase
from tradepay._ledger.memory import LedgerConflict
from tradepay._ledger.merchants import merchant_book
from tradepay._ledger.migrations import SCHEMA_VERSION, migrate
from tradepay._ledger.postgres import PostgresDatabase
from tradepay._ledger.records import AttemptRecord, Decision
from tradepay._ledger.sql import PostgresLedger, SQLiteLedger, SQLLedger, result_to_json
from tradepay._ledger.states import IllegalTransition
from tradepay.testing import sample_context

SECRETS = {"m1": "a-secret-of-sixteen+"}
OK = PaymentResult(ResultCode.SUCCESS, "paid")
NO = PaymentResult(ResultCode.FAILED, "declined")


POSTGRES_URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL")
SQL_BACKENDS = [
    "sqlite",
    pytest.param(
        "postgres",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not POSTGRES_URL, reason="set TRADEPAY_TEST_POSTGRES_URL to run against PostgreSQL"),
        ],
    ),
]
BACKENDS = ["memory", *SQL_BACKENDS]


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    made: Ledger
    if request.param == "memory":
        made = MemoryLedger(merchant_secrets=SECRETS)
    elif request.param == "sqlite":
        made = SQLiteLedger(tmp_path / "ledger.sqlite3", merchant_secrets=SECRETS)
    else:
        assert POSTGRES_URL is not None
        schema = f"tp_test_{secrets.token_hex(6)}"  # each test its own schema, dropped after
        separator = "&" if "?" in POSTGRES_URL else "?"
        made = PostgresLedger(f"{POSTGRES_URL}{separator}schema={schema}", merchant_secrets=SECRETS)
    yield made
    if isinstance(made, PostgresLedger):
        made.postgres.drop_schema()
    made.close()


def order(ledger: Ledger, value: str = "500", **kwargs: Any) -> Any:
    return ledger.create_order(PaymentAmount("USD", value), merchant_id="m1", payer_id="alice", **kwargs)


def record(attempt: Any, status: ProviderStatus, final: Decision = Decision.STOP) -> AttemptRecord:
    result = OK if status is ProviderStatus.PAID else NO
    return AttemptRecord(attempt, OutcomeKind.ANSWER, result, "rule", final, final, "", 1.0, status)


def test_orders_round_trip(ledger: Ledger) -> None:
    made = order(ledger, trade_no="T-1", expires_at=2_000_000_000.0)
    assert ledger.get_order("T-1") == made
    assert made.status is OrderStatus.OPEN
    with pytest.raises(InvalidInput, match="already exists"):
        order(ledger, trade_no="T-1")
    assert ledger.get_order("T-2") is None
    assert ledger.cashier_url("T-1").endswith("?tradeNO=T-1")


def test_an_empty_trade_number_is_refused_not_replaced_by_a_random_one(ledger: Ledger) -> None:
    with pytest.raises(InvalidInput, match="trade_no: must not be empty"):
        order(ledger, trade_no="")
    assert ledger.payments() == []
    assert order(ledger).trade_no.startswith("T")  # only None (no trade number given) makes a random one


def test_requests_resolve_through_every_type(ledger: Ledger) -> None:
    made = order(ledger)
    payment, _ = ledger.begin_payment(made, "app")
    resolve = ledger.resolve_order  # type: ignore[attr-defined]
    for payment_type, text in [
        (PaymentType.ORDER_ID, made.trade_no),
        (PaymentType.CASHIER_URL, ledger.cashier_url(made.trade_no)),
        (PaymentType.ORDER_STRING, ledger.order_string(made.trade_no)),
        (PaymentType.PAYMENT_ID, payment.payment_id),
    ]:
        assert resolve(payment_request=PaymentRequest(payment_type, text), api_context=sample_context()) == made
    forged = ledger.order_string(made.trade_no).replace("sign=", "sign=0")
    with pytest.raises(InvalidInput, match="signature"):
        resolve(payment_request=PaymentRequest(PaymentType.ORDER_STRING, forged), api_context=sample_context())


@pytest.mark.parametrize("owner", ["m2", "m3"], ids=["another-merchant-with-a-secret", "a-merchant-without-one"])
def test_an_order_string_names_only_orders_of_the_merchant_that_signed_it(ledger: Ledger, owner: str) -> None:
    from tradepay._ledger.orderstring import sign_order_string

    theirs = ledger.create_order(PaymentAmount("USD", "500"), merchant_id=owner, payer_id="alice")
    forged = sign_order_string("m1", theirs.trade_no, SECRETS["m1"])  # m1's valid signature, their order
    resolve = ledger.resolve_order  # type: ignore[attr-defined]
    request = PaymentRequest(PaymentType.ORDER_STRING, forged)
    with pytest.raises(InvalidInput, match="names no order of merchant 'm1'") as refused:
        resolve(payment_request=request, api_context=sample_context())
    # The same words for an order that does not exist: a signature cannot probe for other trade numbers.
    unknown = PaymentRequest(PaymentType.ORDER_STRING, sign_order_string("m1", "T-NOPE", SECRETS["m1"]))
    with pytest.raises(InvalidInput) as missing:
        resolve(payment_request=unknown, api_context=sample_context())
    assert str(missing.value) == str(refused.value)
    assert ledger.get_order(theirs.trade_no) == theirs


@pytest.mark.parametrize("sign", ["é" * 64, "\uff10" * 64, "A" * 64, "0" * 63, "0" * 65, ""])
def test_an_order_string_with_a_malformed_sign_is_refused_clearly(ledger: Ledger, sign: str) -> None:
    from urllib.parse import urlencode

    made = order(ledger)
    text = urlencode({"merchantId": "m1", "tradeNO": made.trade_no, "sign": sign})
    resolve = ledger.resolve_order  # type: ignore[attr-defined]
    with pytest.raises(InvalidInput, match=r"payment_string\.sign: the signature does not match"):
        resolve(payment_request=PaymentRequest(PaymentType.ORDER_STRING, text), api_context=sample_context())


def test_one_live_payment_per_order_under_concurrency(ledger: Ledger) -> None:
    made = order(ledger)
    barrier = threading.Barrier(16)
    results: list[tuple[str, bool]] = []
    lock = threading.Lock()

    def begin() -> None:
        barrier.wait()
        payment, created = ledger.begin_payment(made, None)
        with lock:
            results.append((payment.payment_id, created))

    threads = [threading.Thread(target=begin) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(created for _, created in results) == 1
    assert len({pid for pid, _ in results}) == 1


def test_a_full_payment_story(ledger: Ledger) -> None:
    made = order(ledger)
    payment, created = ledger.begin_payment(made, "app-1")
    assert created
    first = ledger.start_attempt(payment.payment_id, "wallet")
    assert first.idempotency_key == f"{payment.payment_id}-1"
    assert ledger.get_payment(payment.payment_id).pending == first  # type: ignore[union-attr]
    with pytest.raises(LedgerConflict, match="unsettled attempt"):
        ledger.start_attempt(payment.payment_id, "card")
    ledger.finish_attempt(record(first, ProviderStatus.NOT_PAID, Decision.FALLTHROUGH))
    second = ledger.start_attempt(payment.payment_id, "card")
    assert second.number == 2
    ledger.finish_attempt(record(second, ProviderStatus.PAID))
    done = ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert done.status is PaymentStatus.SUCCEEDED
    assert [r.status for r in done.attempts] == [ProviderStatus.NOT_PAID, ProviderStatus.PAID]
    assert done.pending is None
    assert ledger.get_order(made.trade_no).status is OrderStatus.PAID  # type: ignore[union-attr]
    assert ledger.begin_payment(made, None) == (done, False)
    assert ledger.payments(trade_no=made.trade_no) == [done]
    assert ledger.payments(status=PaymentStatus.SUCCEEDED)[0].payment_id == payment.payment_id


@pytest.mark.parametrize("end", [PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED])
def test_terminal_payments_never_change(ledger: Ledger, end: PaymentStatus) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    ledger.finish_payment(payment.payment_id, end, OK if end is PaymentStatus.SUCCEEDED else NO)
    for other in PaymentStatus:
        with pytest.raises(IllegalTransition):
            ledger.finish_payment(payment.payment_id, other, OK)
        with pytest.raises(IllegalTransition):
            ledger.settle_payment(payment.payment_id, other, OK)
    with pytest.raises(LedgerConflict):
        ledger.start_attempt(payment.payment_id, "x")
    assert ledger.get_payment(payment.payment_id).status is end  # type: ignore[union-attr]


def test_a_failed_payment_leaves_the_order_open_for_a_new_one(ledger: Ledger) -> None:
    made = order(ledger)
    payment, _ = ledger.begin_payment(made, None)
    ledger.finish_payment(payment.payment_id, PaymentStatus.FAILED, NO)
    again, created = ledger.begin_payment(made, None)
    assert created
    assert again.payment_id != payment.payment_id


def test_closing_orders(ledger: Ledger) -> None:
    made = order(ledger)
    payment, _ = ledger.begin_payment(made, None)
    with pytest.raises(InvalidInput, match="has a payment processing"):
        ledger.close_order(made.trade_no)
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    with pytest.raises(InvalidInput, match="is paid"):
        ledger.close_order(made.trade_no)
    other = order(ledger)
    assert ledger.close_order(other.trade_no).status is OrderStatus.CLOSED
    with pytest.raises(InvalidInput, match="no order"):
        ledger.close_order("T-none")


def test_reconciliation_settles_sent_and_unknown_attempts(ledger: Ledger) -> None:
    stale = order(ledger)
    payment, _ = ledger.begin_payment(stale, None)
    sent = ledger.start_attempt(payment.payment_id, "wallet")
    assert [p.payment_id for p in ledger.unsettled(updated_before=0.0)] == []
    assert [p.payment_id for p in ledger.unsettled(updated_before=4e9)] == [payment.payment_id]
    ledger.settle_attempt(sent, ProviderStatus.PAID, "inquiry: paid")
    settled = ledger.settle_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert settled.attempts[0].kind is OutcomeKind.INTERRUPTED
    assert settled.attempts[0].status is ProviderStatus.PAID
    assert ledger.get_order(stale.trade_no).status is OrderStatus.PAID  # type: ignore[union-attr]

    unknown = order(ledger)
    payment, _ = ledger.begin_payment(unknown, None)
    attempt = ledger.start_attempt(payment.payment_id, "wallet")
    ledger.finish_attempt(record(attempt, ProviderStatus.UNKNOWN))
    ledger.finish_payment(payment.payment_id, PaymentStatus.NEEDS_RECONCILIATION, NO)
    assert [p.payment_id for p in ledger.unsettled(updated_before=0.0)] == [payment.payment_id]
    assert ledger.begin_payment(unknown, None)[1] is False  # blocked until settled
    ledger.settle_attempt(attempt, ProviderStatus.NOT_PAID, "cancel confirmed")
    with pytest.raises(IllegalTransition):
        ledger.settle_attempt(attempt, ProviderStatus.PAID, "changed its mind")
    ledger.settle_payment(payment.payment_id, PaymentStatus.FAILED, NO)
    assert ledger.begin_payment(unknown, None)[1] is True


def test_a_payment_handed_out_never_changes_under_its_holder(ledger: Ledger) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    first = ledger.start_attempt(payment.payment_id, "wallet")
    seen = ledger.get_payment(payment.payment_id)
    assert seen is not None
    assert seen.pending == first
    assert seen.attempts == ()
    ledger.finish_attempt(record(first, ProviderStatus.NOT_PAID, Decision.FALLTHROUGH))
    second = ledger.start_attempt(payment.payment_id, "card")
    between = ledger.get_payment(payment.payment_id)
    ledger.finish_attempt(record(second, ProviderStatus.PAID))
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    # What was read earlier is a snapshot: later writes show only in later reads.
    assert (seen.status, seen.attempts, seen.pending) == (PaymentStatus.PROCESSING, (), first)
    assert between is not None
    assert [r.attempt for r in between.attempts] == [first]
    assert between.pending == second
    assert payment.attempts == ()
    assert payment.pending is None
    now = ledger.get_payment(payment.payment_id)
    assert now is not None
    assert [r.attempt for r in now.attempts] == [first, second]
    assert now.pending is None


def test_an_unknown_attempt_blocks_the_next_until_settled(ledger: Ledger) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    attempt = ledger.start_attempt(payment.payment_id, "wallet")
    ledger.finish_attempt(record(attempt, ProviderStatus.UNKNOWN))
    with pytest.raises(LedgerConflict, match="unsettled attempt"):
        ledger.start_attempt(payment.payment_id, "card")
    ledger.settle_attempt(attempt, ProviderStatus.NOT_PAID, "inquiry: not paid")
    assert ledger.start_attempt(payment.payment_id, "card").number == 2


def test_an_attempt_outlived_by_its_payment_can_still_be_recorded(ledger: Ledger) -> None:
    # The host was interrupted with the attempt sent: the payment is left for reconciliation, and the
    # attempt's outcome, if it arrives, is still recorded (once).
    payment, _ = ledger.begin_payment(order(ledger), None)
    attempt = ledger.start_attempt(payment.payment_id, "wallet")
    ended = ledger.finish_payment(payment.payment_id, PaymentStatus.NEEDS_RECONCILIATION, NO)
    assert ended.pending == attempt
    ledger.finish_attempt(record(attempt, ProviderStatus.UNKNOWN))
    after = ledger.get_payment(payment.payment_id)
    assert after is not None
    assert after.pending is None
    assert [r.attempt for r in after.attempts] == [attempt]
    with pytest.raises(LedgerConflict):
        ledger.finish_attempt(record(attempt, ProviderStatus.UNKNOWN))


# --- an order from another order book ---------------------------------------------------------------------------


def test_a_payment_keeps_the_order_it_was_resolved_to_from_any_order_book(ledger: Ledger) -> None:
    # A plugin's resolve_order may answer for orders the ledger's own book has never seen.
    elsewhere = Order("SHOP-1", PaymentAmount("EUR", "990"), "shop", "alice", expires_at=2_000_000_000.0)
    payment, created = ledger.begin_payment(elsewhere, "app")
    assert created
    assert payment.order == elsewhere
    attempt = ledger.start_attempt(payment.payment_id, "wallet")
    ledger.finish_attempt(record(attempt, ProviderStatus.PAID))
    done = ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert done.order == elsewhere
    assert ledger.get_payment(payment.payment_id) == done
    assert ledger.payments(trade_no="SHOP-1") == [done]
    assert ledger.begin_payment(elsewhere, None) == (done, False)  # paid once, whichever book answers
    assert ledger.get_order("SHOP-1") is None  # the ledger's own book did not take the order over


def test_the_order_recorded_is_a_snapshot(ledger: Ledger) -> None:
    made = order(ledger)
    payment, _ = ledger.begin_payment(made, None)
    ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert ledger.get_order(made.trade_no).status is OrderStatus.PAID  # type: ignore[union-attr]
    stored = ledger.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.order == made  # as it was when the payment began: open


def test_a_killed_payment_of_another_books_order_is_listed_with_its_order(ledger: Ledger) -> None:
    elsewhere = Order("SHOP-2", PaymentAmount("JPY", "500"), "shop", "bob")
    payment, _ = ledger.begin_payment(elsewhere, None)
    sent = ledger.start_attempt(payment.payment_id, "wallet")
    (listed,) = ledger.unsettled(updated_before=4e9)
    assert (listed.order, listed.pending) == (elsewhere, sent)
    ledger.settle_attempt(sent, ProviderStatus.PAID, "inquiry: paid")
    settled = ledger.settle_payment(payment.payment_id, PaymentStatus.SUCCEEDED, OK)
    assert settled.order == elsewhere


# --- concurrent reconciliations ---------------------------------------------------------------------------------


def test_settling_an_attempt_again_the_same_way_changes_nothing(ledger: Ledger) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    sent = ledger.start_attempt(payment.payment_id, "wallet")
    ledger.settle_attempt(sent, ProviderStatus.PAID, "first reconciliation")
    once = ledger.get_payment(payment.payment_id)
    ledger.settle_attempt(sent, ProviderStatus.PAID, "second reconciliation")
    assert ledger.get_payment(payment.payment_id) == once
    with pytest.raises(IllegalTransition):
        ledger.settle_attempt(sent, ProviderStatus.NOT_PAID, "a contradiction")


@pytest.mark.parametrize("unanswered", [True, False], ids=["sent", "unknown"])
def test_concurrent_settlements_of_one_attempt_record_it_once(ledger: Ledger, unanswered: bool) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    attempt = ledger.start_attempt(payment.payment_id, "wallet")
    if not unanswered:
        ledger.finish_attempt(record(attempt, ProviderStatus.UNKNOWN))
    barrier = threading.Barrier(8)
    errors: list[BaseException] = []

    def settle(n: int) -> None:
        barrier.wait()
        try:
            ledger.settle_attempt(attempt, ProviderStatus.PAID, f"reconciliation {n}")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=settle, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    stored = ledger.get_payment(payment.payment_id)
    assert stored is not None
    (settled,) = stored.attempts
    assert settled.status is ProviderStatus.PAID
    assert settled.detail.count("reconciliation") == 1  # one settlement was written, the others changed nothing


def test_one_reconciliation_at_a_time_holds_a_payment(ledger: Ledger) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    pid = payment.payment_id
    ledger.start_attempt(pid, "wallet")
    first = ledger.claim_settlement(pid, 60.0)
    assert first is not None
    assert ledger.claim_settlement(pid, 60.0) is None  # held
    ledger.release_settlement(pid, first)
    second = ledger.claim_settlement(pid, 60.0)
    assert second is not None
    ledger.release_settlement(pid, first)  # a claim that has ended releases nothing
    assert ledger.claim_settlement(pid, 60.0) is None
    ledger.release_settlement(pid, second)
    ledger.finish_payment(pid, PaymentStatus.NEEDS_RECONCILIATION, NO)
    assert ledger.claim_settlement(pid, 0.0) is not None  # needs reconciliation: claimable; a zero lease ends at once
    assert ledger.claim_settlement(pid, 60.0) is not None
    with pytest.raises(InvalidInput, match="lease_s"):
        ledger.claim_settlement(pid, -1.0)
    settled, _ = ledger.begin_payment(order(ledger), None)
    ledger.finish_payment(settled.payment_id, PaymentStatus.FAILED, NO)
    assert ledger.claim_settlement(settled.payment_id, 60.0) is None  # nothing to settle
    assert ledger.claim_settlement("pay_none", 60.0) is None


def test_concurrent_claims_of_one_payment_give_it_to_one(ledger: Ledger) -> None:
    payment, _ = ledger.begin_payment(order(ledger), None)
    ledger.start_attempt(payment.payment_id, "wallet")
    barrier = threading.Barrier(12)

    def claim() -> float | None:
        barrier.wait()
        return ledger.claim_settlement(payment.payment_id, 60.0)

    with ThreadPoolExecutor(12) as pool:
        claims = [f.result() for f in [pool.submit(claim) for _ in range(12)]]
    assert sum(c is not None for c in claims) == 1


# --- migrations -------------------------------------------------------------------------------------------------


@pytest.fixture(params=SQL_BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Database, str]]:
    """An empty database of one SQL back end, and the location a ledger opens it by."""
    if request.param == "sqlite":
        path = tmp_path / "old.sqlite3"
        sqlite = SQLiteDatabase(path)
        yield sqlite, str(path)
        sqlite.close()
        return
    assert POSTGRES_URL is not None
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema=tp_test_{secrets.token_hex(6)}"
    postgres = PostgresDatabase(url)
    yield postgres, url
    postgres.drop_schema()
    postgres.close()


def open_ledger(location: str) -> SQLLedger:
    if location.startswith("postgresql://"):
        return PostgresLedger(location, merchant_secrets=SECRETS)
    return SQLiteLedger(location, merchant_secrets=SECRETS)


#: The migration that gave each payment a snapshot of its order, and what the payments below were made for.
PAYMENTS_WITH_ORDER = 3
SNAPSHOTS = {"T1": ("USD", "100", "m1", "alice", 2000000000.0), "T2": ("JPY", "500", "m1", "bob", None)}


@pytest.mark.parametrize("start", range(SCHEMA_VERSION))
def test_a_ledger_migrates_from_each_earlier_schema_version(old_database: tuple[Database, str], start: int) -> None:
    database, location = old_database
    assert migrate(database, target=start) == start
    if start >= 1:  # what a ledger of that version held: an order paid by its second payment, and an open one
        with database.write() as db:
            db.execute("INSERT INTO orders VALUES ('T1', 'USD', '100', 'm1', 'alice', 'paid', 2000000000.0, 1.0)")
            db.execute("INSERT INTO orders VALUES ('T2', 'JPY', '500', 'm1', 'bob', 'open', NULL, 1.0)")
            for pid, status, at in (
                ("pay_1", "failed", 2.0),
                ("pay_2", "succeeded", 3.0),
                ("pay_3", "processing", 4.0),
            ):
                trade_no = "T2" if pid == "pay_3" else "T1"
                row = (pid, trade_no, status, result_to_json(NO if status == "failed" else OK), at, at)
                if start < PAYMENTS_WITH_ORDER:
                    db.execute("INSERT INTO payments VALUES (?, ?, ?, ?, 'app', ?, ?)", row)
                else:  # from migration 3 on, a payment carries the order it began on (open) and a claim
                    db.execute(
                        "INSERT INTO payments VALUES (?, ?, ?, ?, 'app', ?, ?, ?, ?, ?, ?, 'open', ?, NULL)",
                        (*row, *SNAPSHOTS[trade_no]),
                    )
            for pid, state in (("pay_1", "not_paid"), ("pay_2", "paid")):
                db.execute(
                    "INSERT INTO attempts VALUES (?, 1, 'wallet', ?, ?, 'answer', ?, 'rule', 'stop', 'stop', '', 1.0,"
                    " 1.0, 2.0)",
                    (pid, f"{pid}-1", state, result_to_json(OK if state == "paid" else NO)),
                )
            db.execute(
                "INSERT INTO attempts (payment_id, number, provider, idempotency_key, state, sent_at)"
                " VALUES ('pay_3', 1, 'wallet', 'pay_3-1', 'sent', 4.0)"
            )
    ledger = open_ledger(location)
    try:
        with ledger.database.read() as db:
            assert ledger.database.schema_version(db) == SCHEMA_VERSION
        if start >= 1:
            t1 = Order("T1", PaymentAmount("USD", "100"), "m1", "alice", expires_at=2_000_000_000.0)
            t2 = Order("T2", PaymentAmount("JPY", "500"), "m1", "bob")
            # Every payment began on an open order: that is the snapshot an old payment is given.
            assert [(p.payment_id, p.status, p.order) for p in ledger.payments()] == [
                ("pay_3", PaymentStatus.PROCESSING, t2),
                ("pay_2", PaymentStatus.SUCCEEDED, t1),
                ("pay_1", PaymentStatus.FAILED, t1),
            ]
            (stale,) = ledger.unsettled(updated_before=4e9)
            assert stale.pending is not None
            assert stale.pending.idempotency_key == "pay_3-1"
            with ledger.database.read() as db:  # 8: the column is ``status``, as the field is everywhere else
                rows = db.execute("SELECT payment_id, status FROM attempts ORDER BY payment_id").fetchall()
            assert [tuple(r) for r in rows] == [("pay_1", "not_paid"), ("pay_2", "paid"), ("pay_3", "sent")]
            assert ledger.get_order("T1").status is OrderStatus.PAID  # type: ignore[union-attr]
            # The migrated tables keep their rules: one live payment per order, one unsettled attempt.
            assert ledger.begin_payment(t2, None)[1] is False
            with pytest.raises(LedgerConflict):
                ledger.start_attempt("pay_3", "card")
        elsewhere = Order("SHOP-9", PaymentAmount("EUR", "5"), "shop", "carol")
        payment, created = ledger.begin_payment(elsewhere, None)
        assert created
        assert ledger.get_payment(payment.payment_id).order == elsewhere  # type: ignore[union-attr]
        # The merchants (5, 6) and the outbox (7): a notified merchant's payment that ends writes its event.
        merchant_book(ledger).add_merchant("shop", "-----BEGIN PUBLIC KEY-----", "https://shop.example/notify")
        ledger.finish_payment(payment.payment_id, PaymentStatus.FAILED, NO)
        assert [(n.trade_no, n.subject_id, n.sequence) for n in ledger.notifications()] == [
            ("SHOP-9", payment.payment_id, 1)
        ]
    finally:
        ledger.close()
