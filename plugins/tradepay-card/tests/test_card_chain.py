"""The card provider in a host's chain, before a scripted backup: what the shipped rule table does with each
card answer (lost and stolen cards stop the chain; every other decline falls through)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tradepay import (
    CardNumber,
    CardSecret,
    Decision,
    MemoryLedger,
    Payment,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentStatus,
    PaymentType,
    ResultCode,
)
from tradepay.testing import ReferenceProvider, sample_context
from tradepay_card import CardProvider


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("4000000000000002", "CARD_DECLINED"),
        ("4000000000009995", "INSUFFICIENT_FUNDS"),
        ("4000000000000069", "EXPIRED_CARD"),
        ("4000000000000127", "INCORRECT_CVC"),
        ("4000000000000119", "PROCESSING_ERROR"),
        (None, "NO_CARD_ON_FILE"),
    ],
)
def test_declines_fall_through_to_the_next_provider(
    provider: CardProvider, tradepay_service: Callable[..., PaymentService], number: str | None, reason: str
) -> None:
    result, backup, payment = _pay_through_chain(provider, tradepay_service, number)
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "backup"
    assert backup.charged == 1000
    assert payment.status is PaymentStatus.SUCCEEDED
    card_attempt = payment.attempts[0]
    assert card_attempt.result is not None
    assert card_attempt.result.reason == reason
    assert card_attempt.decision is Decision.FALLTHROUGH  # no inquiry: the card said for certain nothing moved
    assert provider.store.movements() == []


@pytest.mark.parametrize(("number", "reason"), [("4000000000009987", "LOST_CARD"), ("4000000000009979", "STOLEN_CARD")])
def test_lost_and_stolen_cards_stop_the_chain(
    provider: CardProvider, tradepay_service: Callable[..., PaymentService], number: str, reason: str
) -> None:
    result, backup, payment = _pay_through_chain(provider, tradepay_service, number)
    assert result.result_code is ResultCode.FAILED
    assert result.reason == reason
    assert payment.attempts[0].rule == "risk-decline"
    assert backup.calls == []  # the backup was never asked
    assert payment.status is PaymentStatus.FAILED


def test_a_good_card_pays_and_stops(provider: CardProvider, tradepay_service: Callable[..., PaymentService]) -> None:
    result, backup, payment = _pay_through_chain(provider, tradepay_service, "4242424242424242")
    assert result.result_code is ResultCode.SUCCESS
    assert result.extended_info["provider"] == "card"
    assert result.extended_info["card_last4"] == "4242"
    assert backup.calls == []
    assert payment.status is PaymentStatus.SUCCEEDED
    assert [m.amount for m in provider.store.movements()] == [1000]


def _pay_through_chain(
    provider: CardProvider, tradepay_service: Callable[..., PaymentService], number: str | None
) -> tuple[PaymentResult, ReferenceProvider, Payment]:
    if number is not None:
        provider.add_card("alice", CardNumber(number), "12/30", CardSecret("123"))
    backup = ReferenceProvider(script=["success"])
    ledger = MemoryLedger()
    order = ledger.create_order(PaymentAmount("USD", "1000"), merchant_id="m-1", payer_id="alice")
    service = tradepay_service({"card": provider, "backup": backup}, ledger=ledger)
    result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
    payment = ledger.get_payment(result.extended_info["paymentId"])
    assert payment is not None
    return result, backup, payment
