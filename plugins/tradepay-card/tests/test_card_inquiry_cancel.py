"""inquire() and cancel(): what a key moved, tombstones for unseen keys, and a reversal made exactly once."""

from __future__ import annotations

import pytest
from card_support import make_attempt, make_order, query

from tradepay import CardNumber, CardSecret, ErrorCode, ProviderStatus, ResultCode
from tradepay_card import Card, CardProvider, Movement


def _status(provider: CardProvider, key: str) -> str | None:
    rows = query(provider, "SELECT status FROM attempts WHERE idempotency_key = ?", (key,))
    return None if not rows else str(rows[0][0])


def test_inquire_a_paid_key(provider: CardProvider, visa: Card) -> None:
    provider.pay(order=make_order(), attempt=make_attempt())
    assert provider.inquire(order=make_order(), attempt=make_attempt()) is ProviderStatus.PAID
    assert provider.inquire(order=make_order(), attempt=make_attempt()) is ProviderStatus.PAID  # no side effect
    assert len(provider.store.movements()) == 1


@pytest.mark.parametrize("number", ["4000000000000002", "4000000000000119", "4000000000009979"])
def test_inquire_a_declined_key(provider: CardProvider, number: str) -> None:
    provider.add_card("alice", CardNumber(number), "12/30", CardSecret("123"))
    provider.pay(order=make_order(), attempt=make_attempt())
    assert provider.inquire(order=make_order(), attempt=make_attempt()) is ProviderStatus.NOT_PAID
    assert _status(provider, "pay-1-1") == "declined"


def test_inquire_an_unseen_key_leaves_a_tombstone_that_refuses_a_late_pay(provider: CardProvider, visa: Card) -> None:
    assert provider.inquire(order=make_order(), attempt=make_attempt()) is ProviderStatus.NOT_PAID
    assert _status(provider, "pay-1-1") == "voided"
    late = provider.pay(order=make_order(), attempt=make_attempt())
    assert late.result_code is ResultCode.FAILED
    assert late.result_error is not None
    assert late.result_error.error_code is ErrorCode.APP_SERVICE_ERROR
    assert late.reason == "ATTEMPT_VOIDED"
    assert provider.store.movements() == []
    assert provider.inquire(order=make_order(), attempt=make_attempt()) is ProviderStatus.NOT_PAID
    # The tombstone is per key: the next attempt of the payment may pay.
    assert provider.pay(order=make_order(), attempt=make_attempt("pay-1-2")).result_code is ResultCode.SUCCESS


def test_cancel_reverses_a_paid_key_exactly_once(provider: CardProvider, visa: Card) -> None:
    order, attempt = make_order("2500"), make_attempt()
    assert provider.pay(order=order, attempt=attempt).result_code is ResultCode.SUCCESS
    assert provider.cancel(order=order, attempt=attempt) is True
    assert provider.cancel(order=order, attempt=attempt) is True
    assert provider.store.movements() == [
        Movement("pay-1-1", "charge", visa.token, "USD", 2500),
        Movement("pay-1-1", "refund", visa.token, "USD", 2500),
    ]
    assert _status(provider, "pay-1-1") == "reversed"
    assert provider.inquire(order=order, attempt=attempt) is ProviderStatus.NOT_PAID
    # A repeat of a reversed key must not report the money it no longer holds, nor charge again.
    repeat = provider.pay(order=order, attempt=attempt)
    assert (repeat.result_code, repeat.reason) == (ResultCode.FAILED, "ATTEMPT_REVERSED")
    assert len(provider.store.movements()) == 2


def test_the_refund_row_is_unique_in_the_database(provider: CardProvider, visa: Card) -> None:
    provider.pay(order=make_order(), attempt=make_attempt())
    provider.cancel(order=make_order(), attempt=make_attempt())
    # Even a bug that gave the charge back twice could not write a second refund: the schema forbids it.
    with pytest.raises(provider.store.integrity_errors), provider.store.transaction() as ledger:
        ledger.move("pay-1-1", "refund", visa.token, "USD", 1000)
    assert [m.kind for m in provider.store.movements()] == ["charge", "refund"]


def test_cancel_a_declined_key_moves_nothing(provider: CardProvider) -> None:
    provider.add_card("alice", CardNumber("4000000000009995"), "12/30", CardSecret("123"))
    first = provider.pay(order=make_order(), attempt=make_attempt())
    assert provider.cancel(order=make_order(), attempt=make_attempt()) is True
    assert _status(provider, "pay-1-1") == "declined"
    assert provider.store.movements() == []
    assert provider.pay(order=make_order(), attempt=make_attempt()) == first


def test_cancel_an_unseen_key_leaves_a_tombstone(provider: CardProvider, visa: Card) -> None:
    assert provider.cancel(order=make_order(), attempt=make_attempt()) is True
    assert _status(provider, "pay-1-1") == "voided"
    assert provider.pay(order=make_order(), attempt=make_attempt()).reason == "ATTEMPT_VOIDED"
    assert provider.cancel(order=make_order(), attempt=make_attempt()) is True
    assert provider.store.movements() == []
