"""pay(): the mock network's answer per test card, the default card, limits and idempotency."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from card_support import OpenCard, make_attempt, make_order, query

from tradepay import (
    Attempt,
    CardNumber,
    CardSecret,
    ErrorCode,
    Order,
    ProviderStatus,
    ResultCode,
)
from tradepay_card import Card, CardProvider, Movement

DECLINES = [
    ("4000000000000002", "CARD_DECLINED", "generic_decline", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000009995", "INSUFFICIENT_FUNDS", "insufficient_funds", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000009987", "LOST_CARD", "lost_card", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000009979", "STOLEN_CARD", "stolen_card", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000000069", "EXPIRED_CARD", "expired_card", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000000127", "INCORRECT_CVC", "incorrect_cvc", ErrorCode.APP_SERVICE_ERROR),
    ("4000000000000119", "PROCESSING_ERROR", "processing_error", ErrorCode.SYSTEM_ERROR),
]


def _enrol(provider: CardProvider, number: str, payer: str = "alice") -> Card:
    return provider.add_card(payer, CardNumber(number), "12/30", CardSecret("123"))


def _attempt_rows(provider: CardProvider) -> list[tuple[str, str]]:
    return query(provider, "SELECT idempotency_key, status FROM attempts ORDER BY idempotency_key")


@pytest.mark.parametrize(
    "number", ["4242424242424242", "5555555555554444", "378282246310005", "6011111111111117", "4000000000000077"]
)
def test_success_moves_money_under_the_key(open_card: OpenCard, number: str) -> None:
    provider = open_card()
    card = provider.add_card("alice", CardNumber(number), "12/30", CardSecret("1234" if number[0] == "3" else "123"))
    result = provider.pay(order=make_order("1999", "EUR"), attempt=make_attempt("pay-1-1"))
    assert result.result_code is ResultCode.SUCCESS
    assert result.result_error is None
    assert dict(result.extended_info) == {"card_brand": card.brand.value, "card_last4": number[-4:]}
    assert provider.store.movements() == [Movement("pay-1-1", "charge", card.token, "EUR", 1999)]


@pytest.mark.parametrize(("number", "reason", "decline_code", "error_code"), DECLINES)
def test_declines_move_nothing(
    provider: CardProvider, number: str, reason: str, decline_code: str, error_code: ErrorCode
) -> None:
    _enrol(provider, number)
    result = provider.pay(order=make_order(), attempt=make_attempt())
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is error_code
    assert dict(result.extended_info) == {
        "reason": reason,
        "decline_code": decline_code,
        "card_brand": "Visa",
        "card_last4": number[-4:],
        "failure_scope": "payment",  # about this card: never counted towards the provider's circuit breaker
    }
    assert provider.store.movements() == []
    assert _attempt_rows(provider) == [("pay-1-1", "declined")]


def test_no_card_on_file(provider: CardProvider) -> None:
    result = provider.pay(order=make_order(), attempt=make_attempt())
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.APP_SERVICE_ERROR
    assert dict(result.extended_info) == {"reason": "NO_CARD_ON_FILE", "failure_scope": "payment"}
    assert provider.store.movements() == []


def test_the_default_card_is_the_most_recently_added_active_one(provider: CardProvider) -> None:
    good = _enrol(provider, "4242424242424242")
    stolen = _enrol(provider, "4000000000009979")
    assert provider.pay(order=make_order(), attempt=make_attempt("pay-1-1")).reason == "STOLEN_CARD"
    provider.remove_card("alice", stolen.token)
    assert provider.pay(order=make_order(), attempt=make_attempt("pay-1-2")).result_code is ResultCode.SUCCESS
    provider.remove_card("alice", good.token)
    assert provider.pay(order=make_order(), attempt=make_attempt("pay-1-3")).reason == "NO_CARD_ON_FILE"
    assert provider.store.movements() == [Movement("pay-1-2", "charge", good.token, "USD", 1000)]


def test_another_payers_card_is_never_used(provider: CardProvider) -> None:
    _enrol(provider, "4242424242424242", payer="bob")
    result = provider.pay(order=make_order(payer="alice"), attempt=make_attempt())
    assert result.reason == "NO_CARD_ON_FILE"


def test_a_card_that_expired_since_enrolment_is_declined(open_card: OpenCard) -> None:
    provider = open_card()
    _enrol(provider, "4242424242424242")
    provider.close()
    later = open_card(today=date(2031, 1, 1))
    result = later.pay(order=make_order(), attempt=make_attempt())
    assert result.reason == "EXPIRED_CARD"
    assert result.extended_info["decline_code"] == "expired_card"
    assert later.store.movements() == []


def test_a_repeat_answers_the_first_answer_and_moves_nothing_more(provider: CardProvider, visa: Card) -> None:
    first = provider.pay(order=make_order(), attempt=make_attempt())
    _enrol(provider, "4000000000000002")  # a new default card must not change the stored answer
    again = provider.pay(order=make_order(), attempt=make_attempt())
    assert again == first
    assert provider.store.movements() == [Movement("pay-1-1", "charge", visa.token, "USD", 1000)]


def test_a_repeated_decline_stays_a_decline(provider: CardProvider) -> None:
    _enrol(provider, "4000000000009995")
    first = provider.pay(order=make_order(), attempt=make_attempt())
    _enrol(provider, "4242424242424242")  # the payer now has a good default card; the key's answer stays
    assert provider.pay(order=make_order(), attempt=make_attempt()) == first
    assert provider.store.movements() == []


@pytest.mark.parametrize(
    "order",
    [make_order(amount="1001"), make_order(currency="EUR"), make_order(payer="bob")],
    ids=["amount", "currency", "payer"],
)
def test_a_repeat_with_other_parameters_is_refused(provider: CardProvider, visa: Card, order: Order) -> None:
    _enrol(provider, "4242424242424242", payer="bob")
    first = provider.pay(order=make_order(), attempt=make_attempt())
    result = provider.pay(order=order, attempt=make_attempt())
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.APP_SERVICE_ERROR
    assert result.reason == "REPEAT_REQ_INCONSISTENT"
    assert provider.store.movements() == [Movement("pay-1-1", "charge", visa.token, "USD", 1000)]
    assert provider.pay(order=make_order(), attempt=make_attempt()) == first  # the stored answer is untouched


def test_limits_from_settings(open_card: OpenCard) -> None:
    provider = open_card(currencies=["USD", "JPY"], max_amount=5000)
    visa = _enrol(provider, "4242424242424242")
    currency = provider.pay(order=make_order(currency="EUR"), attempt=make_attempt("pay-1-1"))
    above = provider.pay(order=make_order(amount="5001"), attempt=make_attempt("pay-2-1"))
    at = provider.pay(order=make_order(amount="5000"), attempt=make_attempt("pay-3-1"))
    yen = provider.pay(order=make_order(amount="1", currency="JPY"), attempt=make_attempt("pay-4-1"))
    assert (currency.result_code, currency.reason) == (ResultCode.FAILED, "CURRENCY_NOT_SUPPORTED")
    assert (above.result_code, above.reason) == (ResultCode.FAILED, "PAYMENT_AMOUNT_EXCEED_LIMIT")
    assert at.result_code is ResultCode.SUCCESS
    assert yen.result_code is ResultCode.SUCCESS
    assert provider.store.movements() == [
        Movement("pay-3-1", "charge", visa.token, "USD", 5000),
        Movement("pay-4-1", "charge", visa.token, "JPY", 1),
    ]


def test_the_largest_amount_is_stored_exactly(provider: CardProvider, visa: Card) -> None:
    # 18 digits, the most the core accepts: beyond a 32-bit column, and beyond a float's exact integers.
    largest = "999999999999999999"
    assert provider.pay(order=make_order(largest), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    assert provider.pay(order=make_order(largest), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    assert provider.store.movements() == [Movement("pay-1-1", "charge", visa.token, "USD", int(largest))]
    off_by_one = provider.pay(order=make_order("999999999999999998"), attempt=make_attempt())
    assert off_by_one.reason == "REPEAT_REQ_INCONSISTENT"


def test_the_answer_survives_a_restart(open_card: OpenCard) -> None:
    provider = open_card()
    _enrol(provider, "4000000000000119")
    first = provider.pay(order=make_order(), attempt=make_attempt())
    provider.close()
    reopened = open_card()
    assert reopened.pay(order=make_order(), attempt=make_attempt()) == first
    assert first.result_error is not None
    assert first.result_error.error_code is ErrorCode.SYSTEM_ERROR


@pytest.mark.parametrize("key", ["", "   ", "k" * 257, "pay\x00-1", 42])
def test_an_unusable_key_is_refused_and_nothing_is_stored(provider: CardProvider, key: Any) -> None:
    _enrol(provider, "4242424242424242")
    # The host's Attempt refuses such a key itself; the card provider must refuse it too, from any caller.
    bad = object.__new__(Attempt)
    for name, value in {"payment_id": "pay", "number": 1, "provider": "card", "idempotency_key": key}.items():
        object.__setattr__(bad, name, value)

    result = provider.pay(order=make_order(), attempt=bad)
    assert (result.result_code, result.reason) == (ResultCode.FAILED, "INVALID_REQUEST")
    assert provider.inquire(order=make_order(), attempt=bad) is ProviderStatus.NOT_PAID
    assert provider.cancel(order=make_order(), attempt=bad) is True
    assert _attempt_rows(provider) == []
    assert provider.store.movements() == []
