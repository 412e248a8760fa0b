"""Refunds: money given back under the agreement a paid key debited, once per refund key, never more than was
paid, with the agreement's usage given back too.

Every test runs on SQLite and on PostgreSQL (conftest.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest
from agreement_support import refund_of, usage_left_by_refunds

from tradepay import Attempt, Order, PaymentAmount, Refund, RefundAnswer, RefundOutcome, ResultCode
from tradepay_agreement import Agreement, AgreementProvider, RefundKeyStatus, RefundReason

T = TypeVar("T")
Active = Callable[..., Agreement]


def order_of(attempt: Attempt, value: str = "1000") -> Order:
    return Order(attempt.payment_id, PaymentAmount("USD", value), "shop", "alice")


def pay(provider: AgreementProvider, attempt: Attempt, value: str = "1000") -> tuple[str, str | None]:
    result = provider.pay(order=order_of(attempt, value), attempt=attempt)
    return result.result_code.value, result.reason


def refund(provider: AgreementProvider, refund: Refund) -> RefundAnswer:
    return provider.refund(order=order_of(refund.attempt), attempt=refund.attempt, refund=refund)


def inquire(provider: AgreementProvider, refund: Refund) -> RefundOutcome:
    return provider.inquire_refund(order=order_of(refund.attempt), attempt=refund.attempt, refund=refund)


def answered(answer: RefundAnswer) -> tuple[str, str | None]:
    return answer.outcome.value, answer.reason


def usage(provider: AgreementProvider, agreement: Agreement) -> tuple[int, int]:
    now = provider.store.get(agreement.agreement_id)
    assert (now.used_amount, now.used_count) == usage_left_by_refunds(provider.store, agreement.agreement_id)
    return now.used_amount, now.used_count


def unchecked(value: T, **fields: object) -> T:
    """A copy of the frozen ``value`` with ``fields`` replaced, without the checks its constructor may make."""
    copy = object.__new__(type(value))
    for name in value.__slots__:  # type: ignore[attr-defined]
        object.__setattr__(copy, name, fields.get(name, getattr(value, name)))
    return copy


@pytest.fixture
def agreement(active: Active) -> Agreement:
    """alice's active agreement with shop, in USD, without limits."""
    return active()


@pytest.fixture
def paid(provider: AgreementProvider, agreement: Agreement, make_attempt: Callable[[], Attempt]) -> Attempt:
    """USD 10.00 debited under alice's agreement."""
    paying = make_attempt()
    assert pay(provider, paying) == (ResultCode.SUCCESS.value, None)
    return paying


def test_a_refund_goes_back_under_the_agreement_and_gives_its_amount_back(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    answer = refund(provider, refund_of(paid, "300", "ref-1"))

    assert answered(answer) == ("succeeded", None)
    assert answer.message == f"USD 3.00 refunded under {agreement.agreement_id}"
    assert usage(provider, agreement) == (700, 1)  # the payment still counts: it is refunded in part
    assert [(r.refund_key, r.status, r.amount) for r in provider.store.refunds(paid.idempotency_key)] == [
        ("ref-1", RefundKeyStatus.SUCCEEDED, 300)
    ]


def test_a_payment_refunded_in_full_gives_its_count_back(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    refund(provider, refund_of(paid, "300", "ref-1"))
    refund(provider, refund_of(paid, "700", "ref-2"))

    assert usage(provider, agreement) == (0, 0)


def test_refunds_free_the_agreements_limits_again(
    provider: AgreementProvider, active: Active, make_attempt: Callable[[], Attempt]
) -> None:
    agreement = active(cumulative_limit=1000, count_limit=1)
    first = make_attempt()
    assert pay(provider, first) == ("9000", None)
    assert pay(provider, make_attempt(), "1") == ("4000", "USER_AMOUNT_EXCEED_LIMIT")

    refund(provider, refund_of(first, "400", "ref-1"))
    assert pay(provider, make_attempt(), "400") == ("4000", "PAYMENT_COUNT_EXCEED_LIMIT")
    refund(provider, refund_of(first, "600", "ref-2"))

    assert pay(provider, make_attempt(), "1000") == ("9000", None)
    assert usage(provider, agreement) == (1000, 1)


def test_a_refund_goes_back_under_an_agreement_revoked_since(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    provider.store.revoke(agreement.agreement_id)

    assert answered(refund(provider, refund_of(paid, "1000", "ref-1"))) == ("succeeded", None)
    assert usage(provider, agreement) == (0, 0)


def test_partial_refunds_add_up_to_the_payment_and_no_further(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    assert answered(refund(provider, refund_of(paid, "300", "ref-1"))) == ("succeeded", None)
    assert answered(refund(provider, refund_of(paid, "700", "ref-2"))) == ("succeeded", None)

    over = refund(provider, refund_of(paid, "1", "ref-3"))

    assert answered(over) == ("failed", RefundReason.REFUND_AMOUNT_EXCEED.value)
    assert over.message == "USD 0.01 is more than the USD 0 left to refund"
    assert usage(provider, agreement) == (0, 0)


def test_a_refund_above_what_is_left_moves_nothing_and_says_what_is_left(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    refund(provider, refund_of(paid, "300", "ref-1"))

    over = refund(provider, refund_of(paid, "701", "ref-2"))

    assert answered(over) == ("failed", "REFUND_AMOUNT_EXCEED")
    assert over.message == "USD 7.01 is more than the USD 7.00 left to refund"
    assert usage(provider, agreement) == (700, 1)
    assert answered(refund(provider, refund_of(paid, "700", "ref-3"))) == ("succeeded", None)


def test_a_repeated_refund_key_answers_the_first_answer_and_gives_back_once(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    first = refund(provider, refund_of(paid, "300", "ref-1"))

    again = [refund(provider, refund_of(paid, "300", "ref-1")) for _ in range(3)]

    assert again == [first] * 3
    assert usage(provider, agreement) == (700, 1)


def test_a_repeated_failed_refund_stays_failed_when_it_could_now_succeed(
    provider: AgreementProvider, agreement: Agreement, make_attempt: Callable[[], Attempt]
) -> None:
    later = make_attempt()
    early = refund_of(later, "300", "ref-1")
    assert answered(refund(provider, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    pay(provider, later)

    assert answered(refund(provider, early)) == ("failed", "ATTEMPT_NOT_CHARGED")
    assert inquire(provider, early) is RefundOutcome.FAILED
    assert usage(provider, agreement) == (1000, 1)


@pytest.mark.parametrize(
    ("amount", "currency", "other_payment"),
    [("200", "USD", False), ("300", "EUR", False), ("300", "USD", True)],
    ids=["another-amount", "another-currency", "another-payment"],
)
def test_a_refund_key_asked_again_differently_is_refused_and_keeps_its_first_answer(
    provider: AgreementProvider,
    agreement: Agreement,
    paid: Attempt,
    make_attempt: Callable[[], Attempt],
    amount: str,
    currency: str,
    other_payment: bool,
) -> None:
    other = make_attempt()
    pay(provider, other)
    first = refund(provider, refund_of(paid, "300", "ref-1"))
    asked = unchecked(refund_of(other if other_payment else paid, "1", "ref-1"), amount=PaymentAmount(currency, amount))

    changed = refund(provider, asked)

    assert answered(changed) == ("failed", "REPEAT_REQ_INCONSISTENT")
    assert refund(provider, refund_of(paid, "300", "ref-1")) == first
    assert usage(provider, agreement) == (1700, 2)


def test_a_refund_of_a_key_the_provider_never_debited_fails(
    provider: AgreementProvider, active: Active, make_attempt: Callable[[], Attempt]
) -> None:
    agreement = active(per_payment_limit=500)
    declined = make_attempt()
    assert pay(provider, declined) == ("4000", "PAYMENT_AMOUNT_EXCEED_LIMIT")
    voided = make_attempt()
    provider.inquire(order=order_of(voided), attempt=voided)

    answers = [
        refund(provider, refund_of(key, "100", f"ref-{n}")) for n, key in enumerate([declined, voided, make_attempt()])
    ]

    assert {answered(a) for a in answers} == {("failed", "ATTEMPT_NOT_CHARGED")}
    assert answers[0].message == "this payment key was debited under no agreement here"
    assert usage(provider, agreement) == (0, 0)


def test_a_refund_of_a_reversed_payment_fails(provider: AgreementProvider, agreement: Agreement, paid: Attempt) -> None:
    assert provider.cancel(order=order_of(paid), attempt=paid) is True

    assert answered(refund(provider, refund_of(paid, "300", "ref-1"))) == ("failed", "ATTEMPT_REVERSED")
    assert usage(provider, agreement) == (0, 0)


def test_a_refund_in_another_currency_than_the_payment_fails(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    asked = unchecked(refund_of(paid, "300", "ref-1"), amount=PaymentAmount("EUR", "300"))

    answer = refund(provider, asked)

    assert answered(answer) == ("failed", "INVALID_REQUEST")
    assert answer.message == "the refund is in EUR, the payment was in USD"
    assert usage(provider, agreement) == (1000, 1)


def test_a_cancel_after_partial_refunds_gives_back_only_what_is_left(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    refund(provider, refund_of(paid, "300", "ref-1"))

    assert provider.cancel(order=order_of(paid), attempt=paid) is True

    assert usage(provider, agreement) == (0, 0)


def test_a_cancel_after_a_full_refund_gives_back_nothing_more(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt, make_attempt: Callable[[], Attempt]
) -> None:
    pay(provider, make_attempt(), "500")
    refund(provider, refund_of(paid, "1000", "ref-1"))

    assert provider.cancel(order=order_of(paid), attempt=paid) is True

    assert usage(provider, agreement) == (500, 1)


def test_an_inquiry_reports_what_became_of_a_refund(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    refund(provider, refund_of(paid, "300", "ref-1"))
    refund(provider, refund_of(paid, "5000", "ref-2"))

    assert inquire(provider, refund_of(paid, "300", "ref-1")) is RefundOutcome.SUCCEEDED
    assert inquire(provider, refund_of(paid, "5000", "ref-2")) is RefundOutcome.FAILED


def test_an_inquiry_of_an_unknown_refund_voids_it_and_a_late_refund_moves_nothing(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt
) -> None:
    late = refund_of(paid, "300", "ref-1")

    assert inquire(provider, late) is RefundOutcome.FAILED
    answer = refund(provider, late)

    assert answered(answer) == ("failed", "REFUND_VOIDED")
    assert usage(provider, agreement) == (1000, 1)
    assert [r.status for r in provider.store.refunds()] == [RefundKeyStatus.VOIDED]
    # The voided key holds nothing back: the whole payment can still be refunded under another key.
    assert answered(refund(provider, refund_of(paid, "1000", "ref-2"))) == ("succeeded", None)


@pytest.mark.parametrize(
    ("payment_key", "refund_key"),
    [("pay-1", ""), ("pay-1", "x" * 257), ("pay-1", "ref\x00-1"), ("pay-1", "ref-\ud800"), ("", "ref-1")],
    ids=["empty", "too-long", "nul", "surrogate", "empty-payment-key"],
)
def test_a_key_that_cannot_be_recorded_is_refused_and_nothing_is_stored(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt, payment_key: str, refund_key: str
) -> None:
    # The host never builds such keys (and may refuse them itself): the provider must refuse them from any caller.
    attempt = unchecked(paid, idempotency_key=payment_key or "")
    bad = unchecked(refund_of(paid, "300", "ref-1"), refund_id=refund_key, attempt=attempt)

    assert answered(refund(provider, bad)) == ("failed", "INVALID_REQUEST")
    assert inquire(provider, bad) is RefundOutcome.FAILED
    assert provider.store.refunds() == []
    assert usage(provider, agreement) == (1000, 1)


def test_refund_answers_are_logged(
    provider: AgreementProvider, agreement: Agreement, paid: Attempt, logs: list[dict[str, object]]
) -> None:
    refund(provider, refund_of(paid, "300", "ref-1"))
    inquire(provider, refund_of(paid, "300", "ref-1"))

    answers = [e for e in logs if e["event"] in ("agreement.refund_answered", "agreement.refund_inquired")]
    assert [(e["event"], e["refund_key"], e["outcome"]) for e in answers] == [
        ("agreement.refund_answered", "ref-1", "succeeded"),
        ("agreement.refund_inquired", "ref-1", "succeeded"),
    ]
