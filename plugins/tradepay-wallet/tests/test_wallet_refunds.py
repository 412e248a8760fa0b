"""Refunds: money credited back to the account a paid key debited, once per refund key, never more than paid.

Every test runs on SQLite and on PostgreSQL (conftest.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tradepay import Attempt, Order, Refund, RefundAnswer, RefundOutcome
from tradepay_wallet import EntryKind, FaultKind, RefundKeyStatus, RefundReason, WalletProvider

AttemptOf = Callable[[str], Attempt]
RefundOf = Callable[..., Refund]
T = TypeVar("T")


def pay(provider: WalletProvider, order: Order, attempt: Attempt) -> Any:
    return asyncio.run(provider.pay(order, attempt))


def refund(provider: WalletProvider, order: Order, refund: Refund) -> RefundAnswer:
    return asyncio.run(provider.refund(order, refund.attempt, refund))


def inquire(provider: WalletProvider, order: Order, refund: Refund) -> RefundOutcome:
    return asyncio.run(provider.inquire_refund(order, refund.attempt, refund))


def unchecked(value: T, **fields: object) -> T:
    """A copy of the frozen ``value`` with ``fields`` replaced, without the checks its constructor may make."""
    copy = object.__new__(type(value))
    for name in value.__slots__:  # type: ignore[attr-defined]
        object.__setattr__(copy, name, fields.get(name, getattr(value, name)))
    return copy


def answered(answer: RefundAnswer) -> tuple[str, str | None]:
    return answer.outcome.value, answer.reason


def kinds(provider: WalletProvider) -> list[tuple[EntryKind, int, str | None]]:
    return [(e.kind, e.amount, e.idempotency_key) for e in provider.history("alice")]


@pytest.fixture
def paid(provider: WalletProvider, order: Order, attempt: AttemptOf) -> Attempt:
    """alice topped up USD 10.00 and paid USD 3.00 of it under pay-1-1."""
    provider.topup("alice", "USD", 1000)
    paying = attempt("pay-1-1")
    assert pay(provider, order, paying).result_code.value == "9000"
    return paying


def test_a_refund_credits_the_payer_back(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    answer = refund(provider, order, refund_of(paid, "120"))

    assert answer.outcome is RefundOutcome.SUCCEEDED
    assert answer.message == "USD 1.20 credited back to the wallet balance"
    assert provider.balance("alice", "USD") == 820
    assert kinds(provider)[-1] == (EntryKind.REFUND, 120, "ref-1")
    assert provider.history("alice")[-1].trade_no == "T-1"


def test_partial_refunds_add_up_to_the_payment_and_no_further(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    assert answered(refund(provider, order, refund_of(paid, "100", key="ref-1"))) == ("succeeded", None)
    assert answered(refund(provider, order, refund_of(paid, "200", key="ref-2"))) == ("succeeded", None)

    over = refund(provider, order, refund_of(paid, "1", key="ref-3"))

    assert answered(over) == ("failed", "REFUND_AMOUNT_EXCEED")
    assert over.message == "USD 0.01 is more than the USD 0 left to refund"
    assert provider.balance("alice", "USD") == 1000
    assert [(r.refund_key, r.status, r.amount) for r in provider.refunds("pay-1-1")] == [
        ("ref-1", RefundKeyStatus.SUCCEEDED, 100),
        ("ref-2", RefundKeyStatus.SUCCEEDED, 200),
        ("ref-3", RefundKeyStatus.FAILED, 1),
    ]


def test_a_refund_above_what_is_left_moves_nothing_and_says_what_is_left(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    refund(provider, order, refund_of(paid, "100", key="ref-1"))

    over = refund(provider, order, refund_of(paid, "201", key="ref-2"))

    assert answered(over) == ("failed", "REFUND_AMOUNT_EXCEED")
    assert over.message == "USD 2.01 is more than the USD 2.00 left to refund"
    assert provider.balance("alice", "USD") == 800
    # The refused amount is not counted: what is left can still be refunded.
    assert answered(refund(provider, order, refund_of(paid, "200", key="ref-3"))) == ("succeeded", None)


def test_a_repeated_refund_key_answers_the_first_answer_and_credits_once(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    first = refund(provider, order, refund_of(paid, "100"))

    again = [refund(provider, order, refund_of(paid, "100")) for _ in range(3)]

    assert again == [first] * 3
    assert provider.balance("alice", "USD") == 800
    assert [k for k in kinds(provider) if k[0] is EntryKind.REFUND] == [(EntryKind.REFUND, 100, "ref-1")]


def test_a_repeated_failed_refund_stays_failed_when_it_could_now_succeed(
    provider: WalletProvider, order: Order, attempt: AttemptOf, refund_of: RefundOf
) -> None:
    provider.topup("alice", "USD", 1000)
    early = refund_of(attempt("pay-1-1"), "100")
    assert answered(refund(provider, order, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    pay(provider, order, attempt("pay-1-1"))

    assert answered(refund(provider, order, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    assert inquire(provider, order, early) is RefundOutcome.FAILED
    assert provider.balance("alice", "USD") == 700


@pytest.mark.parametrize(
    ("amount", "currency", "payment_key"),
    [("200", "USD", "pay-1-1"), ("100", "EUR", "pay-1-1"), ("100", "USD", "pay-2-1")],
    ids=["another-amount", "another-currency", "another-payment"],
)
def test_a_refund_key_asked_again_differently_is_refused_and_keeps_its_first_answer(
    provider: WalletProvider,
    make_order: Callable[..., Order],
    order: Order,
    paid: Attempt,
    attempt: AttemptOf,
    refund_of: RefundOf,
    amount: str,
    currency: str,
    payment_key: str,
) -> None:
    pay(provider, make_order(trade_no="T-2"), attempt("pay-2-1"))
    first = refund(provider, order, refund_of(paid, "100"))

    changed = refund(provider, order, refund_of(attempt(payment_key), amount, currency=currency))

    assert answered(changed) == ("failed", "REPEAT_REQ_INCONSISTENT")
    assert provider.balance("alice", "USD") == 500
    assert refund(provider, order, refund_of(paid, "100")) == first
    assert inquire(provider, order, refund_of(paid, "100")) is RefundOutcome.SUCCEEDED


def test_a_refund_of_a_key_the_wallet_never_charged_fails(
    provider: WalletProvider, make_order: Callable[..., Order], attempt: AttemptOf, refund_of: RefundOf
) -> None:
    provider.topup("alice", "USD", 100)
    declined = attempt("pay-1-1")
    assert pay(provider, make_order("300"), declined).reason == "USER_BALANCE_NOT_ENOUGH"
    voided = attempt("pay-2-1")
    asyncio.run(provider.inquire(make_order(), voided))

    answers = [
        refund(provider, make_order(), refund_of(key, "50", key=f"ref-{n}"))
        for n, key in enumerate([declined, voided, attempt("pay-3-1")])
    ]

    assert {answered(a) for a in answers} == {("failed", "ATTEMPT_NOT_CHARGED")}
    assert answers[0].message == "this payment key took no money from the wallet"
    assert provider.balance("alice", "USD") == 100


def test_a_refund_of_a_reversed_payment_fails(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    assert asyncio.run(provider.cancel(order, paid)) is True

    assert answered(refund(provider, order, refund_of(paid, "100"))) == ("failed", "ATTEMPT_REVERSED")
    assert provider.balance("alice", "USD") == 1000


def test_a_refund_in_another_currency_than_the_payment_fails(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    answer = refund(provider, order, refund_of(paid, "100", currency="EUR"))

    assert answered(answer) == ("failed", "INVALID_REQUEST")
    assert answer.message == "the refund is in EUR, the payment was in USD"
    assert provider.balances("alice") == {"USD": 700}


def test_a_cancel_after_partial_refunds_gives_back_only_what_is_left(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    refund(provider, order, refund_of(paid, "100"))

    assert asyncio.run(provider.cancel(order, paid)) is True

    assert provider.balance("alice", "USD") == 1000
    assert kinds(provider)[-2:] == [(EntryKind.REFUND, 100, "ref-1"), (EntryKind.REVERSAL, 200, "pay-1-1")]


def test_a_cancel_after_a_full_refund_gives_back_nothing_more(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    refund(provider, order, refund_of(paid, "300"))

    assert asyncio.run(provider.cancel(order, paid)) is True

    assert provider.balance("alice", "USD") == 1000
    assert [k[0] for k in kinds(provider)] == [EntryKind.CREDIT, EntryKind.DEBIT, EntryKind.REFUND]


def test_an_inquiry_reports_what_became_of_a_refund(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    refund(provider, order, refund_of(paid, "100", key="ref-1"))
    refund(provider, order, refund_of(paid, "900", key="ref-2"))

    assert inquire(provider, order, refund_of(paid, "100", key="ref-1")) is RefundOutcome.SUCCEEDED
    assert inquire(provider, order, refund_of(paid, "900", key="ref-2")) is RefundOutcome.FAILED


def test_an_inquiry_of_an_unknown_refund_voids_it_and_a_late_refund_moves_nothing(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    late = refund_of(paid, "100")

    assert inquire(provider, order, late) is RefundOutcome.FAILED
    answer = refund(provider, order, late)

    assert answered(answer) == ("failed", "REFUND_VOIDED")
    assert inquire(provider, order, late) is RefundOutcome.FAILED
    assert provider.balance("alice", "USD") == 700
    assert [r.status for r in provider.refunds()] == [RefundKeyStatus.VOIDED]
    # The voided key holds nothing back: the whole payment can still be refunded under another key.
    assert answered(refund(provider, order, refund_of(paid, "300", key="ref-2"))) == ("succeeded", None)


@pytest.mark.parametrize(
    ("payment_key", "refund_key"),
    [("pay-1-1", ""), ("pay-1-1", "x" * 257), ("pay-1-1", "ref\x00-1"), ("pay-1-1", "ref-\ud800"), ("", "ref-1")],
    ids=["empty", "too-long", "nul", "surrogate", "empty-payment-key"],
)
def test_a_key_that_cannot_be_recorded_is_refused_and_nothing_is_stored(
    provider: WalletProvider,
    order: Order,
    paid: Attempt,
    refund_of: RefundOf,
    payment_key: str,
    refund_key: str,
) -> None:
    # The host never builds such keys (and may refuse them itself): the wallet must refuse them from any caller.
    bad = unchecked(refund_of(paid, "100"), refund_id=refund_key, attempt=unchecked(paid, idempotency_key=payment_key))

    answer = refund(provider, order, bad)

    assert answered(answer) == ("failed", "INVALID_REQUEST")
    assert inquire(provider, order, bad) is RefundOutcome.FAILED
    assert provider.balance("alice", "USD") == 700
    assert provider.refunds() == []


def test_fault_profiles_never_touch_refunds(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    provider.set_fault("*", FaultKind.EXCEPTION)

    assert answered(refund(provider, order, refund_of(paid, "100"))) == ("succeeded", None)
    assert inquire(provider, order, refund_of(paid, "100")) is RefundOutcome.SUCCEEDED
    assert len(provider.faults()) == 1


def test_refund_answers_are_logged_without_moving_anything_twice(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf, logs: list[dict[str, Any]]
) -> None:
    refund(provider, order, refund_of(paid, "100"))
    inquire(provider, order, refund_of(paid, "100"))

    answers = [e for e in logs if e["event"] in ("wallet.refund_answered", "wallet.refund_inquired")]
    assert [(e["event"], e["refund_key"], e["outcome"]) for e in answers] == [
        ("wallet.refund_answered", "ref-1", "succeeded"),
        ("wallet.refund_inquired", "ref-1", "succeeded"),
    ]


def test_a_refusal_reason_is_a_public_refund_reason(
    provider: WalletProvider, order: Order, paid: Attempt, refund_of: RefundOf
) -> None:
    answer = refund(provider, order, refund_of(paid, "301"))

    assert answer.reason == RefundReason.REFUND_AMOUNT_EXCEED
