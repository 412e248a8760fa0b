"""Refunds: money given back to the card a paid key charged, once per refund key, never more than was paid.

Every test runs on SQLite and on PostgreSQL (conftest.py).
"""

from __future__ import annotations

from datetime import date
from typing import TypeVar

import pytest
import structlog
from card_support import OpenCard, make_attempt, make_order, make_refund, query

from tradepay import Attempt, CardNumber, CardSecret, Order, Refund, RefundAnswer, RefundOutcome, ResultCode
from tradepay_card import HANG_SECONDS, Card, CardProvider, Movement, RefundKeyStatus, RefundReason

T = TypeVar("T")


def refund(provider: CardProvider, refund: Refund, order: Order | None = None) -> RefundAnswer:
    return provider.refund(order=order or make_order(), attempt=refund.attempt, refund=refund)


def inquire(provider: CardProvider, refund: Refund) -> RefundOutcome:
    return provider.inquire_refund(order=make_order(), attempt=refund.attempt, refund=refund)


def answered(answer: RefundAnswer) -> tuple[str, str | None]:
    return answer.outcome.value, answer.reason


def refunded(provider: CardProvider, payment_key: str = "pay-1-1") -> list[tuple[str, RefundKeyStatus, int]]:
    return [(r.refund_key, r.status, r.amount) for r in provider.store.refunds(payment_key)]


def unchecked(value: T, **fields: object) -> T:
    """A copy of the frozen ``value`` with ``fields`` replaced, without the checks its constructor may make."""
    copy = object.__new__(type(value))
    for name in value.__slots__:  # type: ignore[attr-defined]
        object.__setattr__(copy, name, fields.get(name, getattr(value, name)))
    return copy


def add(provider: CardProvider, number: str, payer: str = "alice") -> Card:
    return provider.add_card(payer, CardNumber(number), "12/30", CardSecret("123"))


@pytest.fixture
def paid(provider: CardProvider, visa: Card) -> Attempt:
    """alice's Visa 4242 was charged USD 10.00 under pay-1-1."""
    paying = make_attempt("pay-1-1")
    assert provider.pay(order=make_order(), attempt=paying).result_code is ResultCode.SUCCESS
    return paying


def test_a_refund_goes_back_to_the_card_the_payment_charged(provider: CardProvider, paid: Attempt) -> None:
    answer = refund(provider, make_refund(paid, "300"))

    assert answered(answer) == ("succeeded", None)
    assert answer.message == "USD 3.00 refunded to Visa ending 4242"
    assert refunded(provider) == [("ref-1", RefundKeyStatus.SUCCEEDED, 300)]
    assert query(provider, "SELECT refund_key, payment_key, trade_no FROM refunds") == [("ref-1", "pay-1-1", "T-1")]


def test_a_refund_goes_to_the_charged_card_even_after_another_became_the_default(
    provider: CardProvider, paid: Attempt, visa: Card
) -> None:
    provider.remove_card("alice", visa.token)
    add(provider, "5555555555554444")

    answer = refund(provider, make_refund(paid, "300"))

    assert answer.message == "USD 3.00 refunded to Visa ending 4242"
    assert provider.store.charged_card("pay-1-1") == visa


def test_a_refund_goes_back_to_a_card_that_expired_since(open_card: OpenCard, visa: Card) -> None:
    before = open_card()
    before.pay(order=make_order(), attempt=make_attempt("pay-1-1"))
    after = open_card(today=date(2031, 1, 1))

    assert answered(refund(after, make_refund(make_attempt("pay-1-1"), "300"))) == ("succeeded", None)


def test_partial_refunds_add_up_to_the_payment_and_no_further(provider: CardProvider, paid: Attempt) -> None:
    assert answered(refund(provider, make_refund(paid, "300", key="ref-1"))) == ("succeeded", None)
    assert answered(refund(provider, make_refund(paid, "700", key="ref-2"))) == ("succeeded", None)

    over = refund(provider, make_refund(paid, "1", key="ref-3"))

    assert answered(over) == ("failed", "REFUND_AMOUNT_EXCEED")
    assert over.message == "USD 0.01 is more than the USD 0 left to refund"
    assert refunded(provider) == [
        ("ref-1", RefundKeyStatus.SUCCEEDED, 300),
        ("ref-2", RefundKeyStatus.SUCCEEDED, 700),
        ("ref-3", RefundKeyStatus.FAILED, 1),
    ]


def test_a_refund_above_what_is_left_moves_nothing_and_says_what_is_left(provider: CardProvider, paid: Attempt) -> None:
    refund(provider, make_refund(paid, "300", key="ref-1"))

    over = refund(provider, make_refund(paid, "701", key="ref-2"))

    assert answered(over) == ("failed", "REFUND_AMOUNT_EXCEED")
    assert over.message == "USD 7.01 is more than the USD 7.00 left to refund"
    assert answered(refund(provider, make_refund(paid, "700", key="ref-3"))) == ("succeeded", None)


def test_a_repeated_refund_key_answers_the_first_answer_and_refunds_once(provider: CardProvider, paid: Attempt) -> None:
    first = refund(provider, make_refund(paid, "300"))

    again = [refund(provider, make_refund(paid, "300")) for _ in range(3)]

    assert again == [first] * 3
    assert refunded(provider) == [("ref-1", RefundKeyStatus.SUCCEEDED, 300)]


def test_a_repeated_failed_refund_stays_failed_when_it_could_now_succeed(provider: CardProvider, visa: Card) -> None:
    early = make_refund(make_attempt("pay-1-1"), "300")
    assert answered(refund(provider, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    provider.pay(order=make_order(), attempt=make_attempt("pay-1-1"))

    assert answered(refund(provider, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    assert inquire(provider, early) is RefundOutcome.FAILED
    assert refunded(provider) == [("ref-1", RefundKeyStatus.FAILED, 300)]


@pytest.mark.parametrize(
    ("amount", "currency", "payment_key"),
    [("200", "USD", "pay-1-1"), ("300", "EUR", "pay-1-1"), ("300", "USD", "pay-2-1")],
    ids=["another-amount", "another-currency", "another-payment"],
)
def test_a_refund_key_asked_again_differently_is_refused_and_keeps_its_first_answer(
    provider: CardProvider, paid: Attempt, amount: str, currency: str, payment_key: str
) -> None:
    provider.pay(order=make_order(trade_no="T-2"), attempt=make_attempt("pay-2-1"))
    first = refund(provider, make_refund(paid, "300"))

    changed = refund(provider, make_refund(make_attempt(payment_key), amount, currency=currency))

    assert answered(changed) == ("failed", "REPEAT_REQ_INCONSISTENT")
    assert refund(provider, make_refund(paid, "300")) == first
    assert provider.store.refunds() == provider.store.refunds("pay-1-1")
    assert refunded(provider) == [("ref-1", RefundKeyStatus.SUCCEEDED, 300)]


def test_a_refund_of_a_key_the_provider_never_charged_fails(provider: CardProvider) -> None:
    add(provider, "4000000000009995")  # insufficient funds: the charge is declined
    declined = make_attempt("pay-1-1")
    assert provider.pay(order=make_order(), attempt=declined).reason == "INSUFFICIENT_FUNDS"
    voided = make_attempt("pay-2-1")
    provider.inquire(order=make_order(), attempt=voided)

    answers = [
        refund(provider, make_refund(key, "100", key=f"ref-{n}"))
        for n, key in enumerate([declined, voided, make_attempt("pay-3-1")])
    ]

    assert {answered(a) for a in answers} == {("failed", "ATTEMPT_NOT_CHARGED")}
    assert answers[0].message == "this payment key charged no card here"
    assert all(r.status is RefundKeyStatus.FAILED for r in provider.store.refunds())


def test_a_refund_of_a_reversed_payment_fails(provider: CardProvider, paid: Attempt) -> None:
    assert provider.cancel(order=make_order(), attempt=paid) is True

    assert answered(refund(provider, make_refund(paid, "300"))) == ("failed", "ATTEMPT_REVERSED")


def test_a_refund_in_another_currency_than_the_payment_fails(provider: CardProvider, paid: Attempt) -> None:
    answer = refund(provider, make_refund(paid, "300", currency="EUR"))

    assert answered(answer) == ("failed", "INVALID_REQUEST")
    assert answer.message == "the refund is in EUR, the payment was in USD"


def test_a_cancel_after_partial_refunds_gives_back_only_what_is_left(
    provider: CardProvider, paid: Attempt, visa: Card
) -> None:
    refund(provider, make_refund(paid, "300"))

    assert provider.cancel(order=make_order(), attempt=paid) is True

    assert provider.store.movements("pay-1-1") == [
        Movement("pay-1-1", "charge", visa.token, "USD", 1000),
        Movement("pay-1-1", "refund", visa.token, "USD", 700),
    ]


def test_a_cancel_after_a_full_refund_gives_back_nothing_more(
    provider: CardProvider, paid: Attempt, visa: Card
) -> None:
    refund(provider, make_refund(paid, "1000"))

    assert provider.cancel(order=make_order(), attempt=paid) is True

    assert provider.store.movements("pay-1-1") == [Movement("pay-1-1", "charge", visa.token, "USD", 1000)]
    assert answered(refund(provider, make_refund(paid, "1", key="ref-2"))) == ("failed", "ATTEMPT_REVERSED")


def test_an_inquiry_reports_what_became_of_a_refund(provider: CardProvider, paid: Attempt) -> None:
    refund(provider, make_refund(paid, "300", key="ref-1"))
    refund(provider, make_refund(paid, "5000", key="ref-2"))

    assert inquire(provider, make_refund(paid, "300", key="ref-1")) is RefundOutcome.SUCCEEDED
    assert inquire(provider, make_refund(paid, "5000", key="ref-2")) is RefundOutcome.FAILED


def test_an_inquiry_of_an_unknown_refund_voids_it_and_a_late_refund_moves_nothing(
    provider: CardProvider, paid: Attempt
) -> None:
    late = make_refund(paid, "300")

    assert inquire(provider, late) is RefundOutcome.FAILED
    answer = refund(provider, late)

    assert answered(answer) == ("failed", "REFUND_VOIDED")
    assert refunded(provider) == [("ref-1", RefundKeyStatus.VOIDED, 300)]
    # The voided key holds nothing back: the whole payment can still be refunded under another key.
    assert answered(refund(provider, make_refund(paid, "1000", key="ref-2"))) == ("succeeded", None)


@pytest.mark.parametrize(
    ("payment_key", "refund_key"),
    [("pay-1-1", ""), ("pay-1-1", "x" * 257), ("pay-1-1", "ref\x00-1"), ("pay-1-1", "ref-\ud800"), ("", "ref-1")],
    ids=["empty", "too-long", "nul", "surrogate", "empty-payment-key"],
)
def test_a_key_that_cannot_be_recorded_is_refused_and_nothing_is_stored(
    provider: CardProvider, paid: Attempt, payment_key: str, refund_key: str
) -> None:
    # The host never builds such keys (and may refuse them itself): the provider must refuse them from any caller.
    bad = unchecked(make_refund(paid), refund_id=refund_key, attempt=unchecked(paid, idempotency_key=payment_key))

    assert answered(refund(provider, bad)) == ("failed", "INVALID_REQUEST")
    assert inquire(provider, bad) is RefundOutcome.FAILED
    assert provider.store.refunds() == []


def test_a_refund_fails_card_declines_every_refund_and_says_so_again(provider: CardProvider) -> None:
    add(provider, "4000 0000 0000 5126")
    paying = make_attempt("pay-1-1")
    assert provider.pay(order=make_order(), attempt=paying).result_code is ResultCode.SUCCESS

    first = refund(provider, make_refund(paying, "300"))

    assert answered(first) == ("failed", RefundReason.REFUND_DECLINED.value)
    assert first.message == "the card network declined the refund"
    assert refund(provider, make_refund(paying, "300")) == first
    assert inquire(provider, make_refund(paying, "300")) is RefundOutcome.FAILED
    assert answered(refund(provider, make_refund(paying, "300", key="ref-2"))) == ("failed", "REFUND_DECLINED")


def test_a_refund_hangs_card_never_answers_a_refund_and_an_inquiry_then_voids_it(open_card: OpenCard) -> None:
    slept: list[float] = []
    provider = open_card(sleep=slept.append)
    add(provider, "4000 0000 0000 7726")
    paying = make_attempt("pay-1-1")
    assert provider.pay(order=make_order(), attempt=paying).result_code is ResultCode.SUCCESS
    hung = make_refund(paying, "300")

    with pytest.raises(RuntimeError, match="the refund was never answered; nothing was refunded"):
        refund(provider, hung)

    assert slept == [HANG_SECONDS]
    assert provider.store.refunds() == []
    assert inquire(provider, hung) is RefundOutcome.FAILED
    assert refunded(provider) == [("ref-1", RefundKeyStatus.VOIDED, 300)]


def test_refund_answers_are_logged(provider: CardProvider, paid: Attempt) -> None:
    with structlog.testing.capture_logs() as logs:
        refund(provider, make_refund(paid, "300"))
        inquire(provider, make_refund(paid, "300"))

    answers = [e for e in logs if e["event"] in ("card.refund_answered", "card.refund_inquired")]
    assert [(e["event"], e["refund_key"], e["outcome"]) for e in answers] == [
        ("card.refund_answered", "ref-1", "succeeded"),
        ("card.refund_inquired", "ref-1", "succeeded"),
    ]
