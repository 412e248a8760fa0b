"""The refund-key rules providers share: the order of checks, replays, tombstones, the refunds table."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import pytest

from tradepay import (
    Attempt,
    InvalidInput,
    PaymentAmount,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundKeys,
    RefundKeyStatus,
    RefundOutcome,
    RefundReason,
    RefundRow,
    RefundStatus,
    judge_refund,
    refund_key_problem,
    refund_refused,
    replay_refund,
)

NOT_CHARGED = "this payment key took no money from the test provider"
SCHEMA = """CREATE TABLE refunds (
    refund_key TEXT PRIMARY KEY, payment_key TEXT NOT NULL, status TEXT NOT NULL, currency TEXT NOT NULL,
    amount INTEGER NOT NULL, trade_no TEXT NOT NULL, reason TEXT, message TEXT NOT NULL, created_at REAL NOT NULL
)"""


def refund_of(value: str, *, key: str = "rf_1", currency: str = "USD", payment_key: str = "pay-1-1") -> Refund:
    attempt = Attempt("pay-1", 1, "ref", payment_key)
    return Refund(
        key, "T1", "pay-1", attempt, PaymentAmount(currency, value), "r-1", "shop-1", None, RefundStatus.PROCESSING
    )


@pytest.fixture
def conn() -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(":memory:")
    connection.execute(SCHEMA)
    yield connection
    connection.close()


def reason_of(answer: RefundAnswer | None) -> str | None:
    assert answer is not None
    assert answer.outcome is RefundOutcome.FAILED
    return answer.reason


# --- judge_refund: steps 3 to 6 -------------------------------------------------------------------------------


def test_a_key_that_took_nothing_is_refused_in_the_providers_words() -> None:
    answer = judge_refund(None, refund_of("100"), not_charged=NOT_CHARGED)
    assert reason_of(answer) == RefundReason.ATTEMPT_NOT_CHARGED
    assert answer is not None
    assert answer.message == NOT_CHARGED


@pytest.mark.parametrize(
    ("charge", "value", "currency", "reason"),
    [
        (RefundCharge("USD", 1000, 0, True), "100", "USD", RefundReason.ATTEMPT_REVERSED),
        # reversed comes before the currency and the amount
        (RefundCharge("USD", 1000, 0, True), "99999", "EUR", RefundReason.ATTEMPT_REVERSED),
        (RefundCharge("USD", 1000, 0, False), "100", "EUR", RefundReason.INVALID_REQUEST),
        # the currency comes before the amount
        (RefundCharge("USD", 1000, 0, False), "99999", "EUR", RefundReason.INVALID_REQUEST),
        (RefundCharge("USD", 1000, 0, False), "1001", "USD", RefundReason.REFUND_AMOUNT_EXCEED),
        (RefundCharge("USD", 1000, 600, False), "401", "USD", RefundReason.REFUND_AMOUNT_EXCEED),
        (RefundCharge("USD", 1000, 1000, False), "1", "USD", RefundReason.REFUND_AMOUNT_EXCEED),
    ],
)
def test_the_shared_checks_refuse_in_their_order(
    charge: RefundCharge, value: str, currency: str, reason: RefundReason
) -> None:
    assert reason_of(judge_refund(charge, refund_of(value, currency=currency), not_charged=NOT_CHARGED)) == reason


def test_what_is_left_may_be_refunded() -> None:
    assert judge_refund(RefundCharge("USD", 1000, 600, False), refund_of("400"), not_charged=NOT_CHARGED) is None


def test_the_amount_left_is_named_in_the_refusal() -> None:
    answer = judge_refund(RefundCharge("USD", 1000, 1000, False), refund_of("1"), not_charged=NOT_CHARGED)
    assert answer is not None
    assert "USD 0 left" in answer.message


def test_the_providers_check_comes_last_and_only_when_the_shared_checks_pass() -> None:
    asked: list[str] = []

    def declined() -> RefundAnswer | None:
        asked.append("asked")
        return refund_refused(RefundReason.REFUND_DECLINED, "declined by the network")

    refused = judge_refund(
        RefundCharge("USD", 1000, 0, False), refund_of("2000"), not_charged=NOT_CHARGED, provider_check=declined
    )
    assert reason_of(refused) == RefundReason.REFUND_AMOUNT_EXCEED
    assert reason_of(judge_refund(None, refund_of("1"), not_charged=NOT_CHARGED, provider_check=declined)) == (
        RefundReason.ATTEMPT_NOT_CHARGED
    )
    assert asked == []
    answer = judge_refund(
        RefundCharge("USD", 1000, 0, False), refund_of("100"), not_charged=NOT_CHARGED, provider_check=declined
    )
    assert reason_of(answer) == RefundReason.REFUND_DECLINED
    assert asked == ["asked"]


def test_a_providers_check_may_let_the_refund_go() -> None:
    charge = RefundCharge("USD", 1000, 0, False)
    assert judge_refund(charge, refund_of("100"), not_charged=NOT_CHARGED, provider_check=lambda: None) is None


# --- refund_key_problem: step 1 -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refund_key", "payment_key", "named"),
    [
        ("rf_1", "pay-1-1", None),
        ("k" * 256, "pay-1-1", None),
        ("k" * 257, "pay-1-1", "refund"),
        ("rf\x00", "pay-1-1", "refund"),
        ("   ", "pay-1-1", "refund"),
        ("rf_1", "p" * 257, "payment"),
        ("rf_1", "pay\ud800", "payment"),
    ],
)
def test_a_key_that_cannot_be_recorded_is_named(refund_key: str, payment_key: str, named: str | None) -> None:
    attempt = Attempt("pay-1", 1, "ref", "pay-1-1")
    refund = refund_of("100")
    # The host never makes such keys; a provider handed them anyway refuses before it records anything.
    object.__setattr__(refund, "refund_id", refund_key)
    object.__setattr__(attempt, "idempotency_key", payment_key)
    problem = refund_key_problem(attempt, refund)
    if named is None:
        assert problem is None
    else:
        assert problem is not None
        assert problem.startswith(f"the {named} key must be")


# --- RefundKeys and replay_refund: steps 2 and 7 ------------------------------------------------------------


def test_a_recorded_answer_is_replayed_to_the_same_request(conn: sqlite3.Connection) -> None:
    refund = refund_of("100")
    keys = RefundKeys(conn, 10.0)
    keys.record(refund.attempt, refund, RefundKeyStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED, None, "back"))
    row = keys.find("rf_1")
    assert row == RefundRow("rf_1", "pay-1-1", RefundKeyStatus.SUCCEEDED, "USD", 100, None, "back")
    assert replay_refund(row, refund.attempt, refund) == RefundAnswer(RefundOutcome.SUCCEEDED, None, "back")
    assert keys.refunded("pay-1-1") == 100


@pytest.mark.parametrize(
    "other", [refund_of("101"), refund_of("100", currency="EUR"), refund_of("100", payment_key="pay-1-2")]
)
def test_a_key_asked_differently_is_refused(conn: sqlite3.Connection, other: Refund) -> None:
    refund = refund_of("100")
    keys = RefundKeys(conn, 10.0)
    keys.record(refund.attempt, refund, RefundKeyStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED, None, "back"))
    row = keys.find("rf_1")
    assert row is not None
    assert reason_of(replay_refund(row, other.attempt, other)) == RefundReason.REPEAT_REQ_INCONSISTENT


def test_a_refused_key_is_replayed_refused_and_counts_nothing(conn: sqlite3.Connection) -> None:
    refund = refund_of("100")
    keys = RefundKeys(conn, 10.0)
    refusal = refund_refused(RefundReason.REFUND_AMOUNT_EXCEED, "too much")
    keys.record(refund.attempt, refund, RefundKeyStatus.FAILED, refusal)
    row = keys.find("rf_1")
    assert row is not None
    assert replay_refund(row, refund.attempt, refund) == refusal
    assert keys.refunded("pay-1-1") == 0


def test_an_inquiry_about_an_unseen_key_voids_it(conn: sqlite3.Connection) -> None:
    refund = refund_of("100")
    keys = RefundKeys(conn, 10.0)
    assert keys.inquire(refund.attempt, refund) is RefundOutcome.FAILED
    row = keys.find("rf_1")
    assert row is not None
    assert row.status is RefundKeyStatus.VOIDED
    assert reason_of(replay_refund(row, refund.attempt, refund)) == RefundReason.REFUND_VOIDED
    assert keys.void(refund.attempt, refund) == row  # a second tombstone finds the first
    assert keys.inquire(refund.attempt, refund) is RefundOutcome.FAILED


def test_an_inquiry_about_a_succeeded_key_says_so(conn: sqlite3.Connection) -> None:
    refund = refund_of("100")
    keys = RefundKeys(conn, 10.0)
    keys.record(refund.attempt, refund, RefundKeyStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED, None, "back"))
    assert keys.inquire(refund.attempt, refund) is RefundOutcome.SUCCEEDED


def test_the_keys_of_a_payment_are_listed_oldest_first(conn: sqlite3.Connection) -> None:
    first, second, other = refund_of("100", key="rf_b"), refund_of("200", key="rf_a"), refund_of("1", key="rf_c")
    RefundKeys(conn, 10.0).record(
        first.attempt, first, RefundKeyStatus.SUCCEEDED, RefundAnswer(RefundOutcome.SUCCEEDED)
    )
    RefundKeys(conn, 20.0).void(second.attempt, second)
    other_attempt = Attempt("pay-2", 1, "ref", "pay-2-1")
    RefundKeys(conn, 5.0).void(other_attempt, other)
    keys = RefundKeys(conn, 30.0)
    assert [row.refund_key for row in keys.of_payment("pay-1-1")] == ["rf_b", "rf_a"]
    assert [row.refund_key for row in keys.of_payment(None)] == ["rf_c", "rf_b", "rf_a"]


# --- bad arguments --------------------------------------------------------------------------------------------


def test_a_table_needs_a_connection_and_a_moment(conn: sqlite3.Connection) -> None:
    with pytest.raises(InvalidInput) as refused:
        RefundKeys(object(), 1.0)  # type: ignore[arg-type]
    assert refused.value.field == "conn"
    with pytest.raises(InvalidInput) as refused:
        RefundKeys(conn, float("nan"))
    assert refused.value.field == "now"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"amount": 0}, "amount"),
        ({"refunded": -1}, "refunded"),
        ({"reversed": "no"}, "reversed"),
        ({"currency": None}, "currency"),
    ],
)
def test_a_charge_refuses_a_bad_field(fields: dict[str, object], field: str) -> None:
    valid: dict[str, object] = {"currency": "USD", "amount": 100, "refunded": 0, "reversed": False}
    with pytest.raises(InvalidInput) as refused:
        RefundCharge(**{**valid, **fields})  # type: ignore[arg-type]
    assert refused.value.field == field
