"""pay, inquire and cancel: every answer, idempotency, tombstones and reversal, on a real SQLite file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import pluggy
import pytest
from agreement_support import ONLY_POSTGRES, FakeClock, other_transaction, usage_from_debits, wait_until_blocked_by
from structlog.typing import EventDict

from tradepay import (
    APIContext,
    Attempt,
    ErrorCode,
    Order,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ProviderStatus,
    ResultCode,
)
from tradepay_agreement import Agreement, AgreementProvider, AgreementStore

MakeOrder = Callable[..., Order]
MakeAttempt = Callable[[], Attempt]


def assert_declined(result: PaymentResult, reason: str, error: ErrorCode = ErrorCode.APP_SERVICE_ERROR) -> None:
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is error
    assert result.reason == reason


def usage(store: AgreementStore, agreement: Agreement) -> tuple[int, int]:
    """The agreement's counters, after checking that they equal the sum of its standing debits."""
    now = store.get(agreement.agreement_id)
    assert (now.used_amount, now.used_count) == usage_from_debits(store, agreement.agreement_id)
    return now.used_amount, now.used_count


# --- success -------------------------------------------------------------------------------------------------


def test_pay_debits_the_active_agreement(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = active()

    first = provider.pay(order=make_order("250"), attempt=make_attempt())
    second = provider.pay(order=make_order("100"), attempt=make_attempt())

    for result in (first, second):
        assert result.result_code is ResultCode.SUCCESS
        assert result.result_error is None
        assert dict(result.extended_info) == {"agreement_id": agreement.agreement_id}
    assert first.result_message == f"USD 2.50 debited under {agreement.agreement_id}"
    assert usage(provider.store, agreement) == (350, 2)


def test_limits_are_inclusive(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = active(per_payment_limit=300, cumulative_limit=500, count_limit=2)

    assert provider.pay(order=make_order("300"), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    assert provider.pay(order=make_order("200"), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    assert usage(provider.store, agreement) == (500, 2)


def test_the_hooks_are_called_by_pluggy_with_the_hosts_arguments(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    active()
    manager = pluggy.PluginManager("tradepay")
    manager.register(provider, name="agreement")
    order, attempt = make_order(), make_attempt()
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
    context = APIContext(source="test")

    [result] = manager.hook.pay(payment_request=request, api_context=context, order=order, attempt=attempt)
    [status] = manager.hook.inquire(order=order, attempt=attempt)
    [capabilities] = manager.hook.capabilities()

    assert result.result_code is ResultCode.SUCCESS
    assert status is ProviderStatus.PAID
    assert capabilities.currencies is None
    assert capabilities.max_amount is None


# --- declines: nothing moves ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["none", "pending", "revoked", "expired"])
def test_no_active_agreement_is_auth_pending_agreement(
    provider: AgreementProvider, clock: FakeClock, make_order: MakeOrder, make_attempt: MakeAttempt, status: str
) -> None:
    store = provider.store
    if status != "none":
        agreement = store.sign("alice", "shop", "USD", expires_in=60)
        if status == "revoked":
            store.revoke(agreement.agreement_id)
        elif status == "expired":
            store.activate(agreement.agreement_id)
            clock.advance(60)

    result = provider.pay(order=make_order(), attempt=make_attempt())

    assert_declined(result, "AUTH_PENDING_AGREEMENT", ErrorCode.AUTH_PENDING_AGREEMENT)
    assert result.extended_info["agreement_status"] == status
    assert all(a.used_count == 0 for a in store.agreements())


def test_an_agreement_with_another_merchant_or_payer_does_not_pay(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    active(payer="alice", merchant="other-shop")
    active(payer="bob", merchant="shop")

    result = provider.pay(order=make_order(payer="alice", merchant="shop"), attempt=make_attempt())

    assert_declined(result, "AUTH_PENDING_AGREEMENT", ErrorCode.AUTH_PENDING_AGREEMENT)
    assert result.extended_info["agreement_status"] == "none"


@pytest.mark.parametrize(
    ("limits", "paid_before", "order", "reason"),
    [
        ({}, [], ("100", "EUR"), "CURRENCY_NOT_SUPPORTED"),
        ({"per_payment_limit": 300}, [], ("301", "USD"), "PAYMENT_AMOUNT_EXCEED_LIMIT"),
        ({"cumulative_limit": 500}, ["300"], ("201", "USD"), "USER_AMOUNT_EXCEED_LIMIT"),
        ({"count_limit": 2}, ["100", "100"], ("1", "USD"), "PAYMENT_COUNT_EXCEED_LIMIT"),
    ],
)
def test_a_broken_rule_declines_with_its_reason_and_debits_nothing(
    provider: AgreementProvider,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    limits: dict[str, int],
    paid_before: list[str],
    order: tuple[str, str],
    reason: str,
) -> None:
    agreement = active(**limits)
    for value in paid_before:
        assert provider.pay(order=make_order(value), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    before = usage(provider.store, agreement)
    attempt = make_attempt()

    result = provider.pay(order=make_order(*order), attempt=attempt)

    assert_declined(result, reason)
    assert usage(provider.store, agreement) == before
    assert provider.inquire(order=make_order(*order), attempt=attempt) is ProviderStatus.NOT_PAID


def test_rules_are_checked_in_the_documented_order(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    active(per_payment_limit=100, cumulative_limit=100, count_limit=1)
    assert provider.pay(order=make_order("100"), attempt=make_attempt()).result_code is ResultCode.SUCCESS

    # Every rule is broken at once: the first one named in the documentation decides the reason.
    assert_declined(provider.pay(order=make_order("101", "EUR"), attempt=make_attempt()), "CURRENCY_NOT_SUPPORTED")
    assert_declined(provider.pay(order=make_order("101"), attempt=make_attempt()), "PAYMENT_AMOUNT_EXCEED_LIMIT")
    assert_declined(provider.pay(order=make_order("100"), attempt=make_attempt()), "USER_AMOUNT_EXCEED_LIMIT")


def test_the_settings_decline_what_the_provider_does_not_pay(
    make_provider: Callable[..., AgreementProvider], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    provider = make_provider(currencies=["USD"], max_amount=1000)
    agreement = provider.store.activate(provider.store.sign("alice", "shop", "USD").agreement_id)

    assert_declined(provider.pay(order=make_order("100", "EUR"), attempt=make_attempt()), "CURRENCY_NOT_SUPPORTED")
    assert_declined(provider.pay(order=make_order("1001"), attempt=make_attempt()), "PAYMENT_AMOUNT_EXCEED_LIMIT")
    assert provider.pay(order=make_order("1000"), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    assert usage(provider.store, agreement) == (1000, 1)
    capabilities = provider.capabilities()
    assert (capabilities.currencies, capabilities.max_amount) == (frozenset({"USD"}), 1000)


@pytest.mark.parametrize("key", ["", "k" * 257, "bad\x00key", "bad\ud800key", None])
def test_a_bad_idempotency_key_is_declined_and_never_stored(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, key: object
) -> None:
    agreement = active()
    # The host's Attempt refuses such a key itself; the provider must refuse it too, from any caller.
    attempt = object.__new__(Attempt)
    for name, value in {"payment_id": "pay_1", "number": 1, "provider": "agreement", "idempotency_key": key}.items():
        object.__setattr__(attempt, name, value)

    assert_declined(provider.pay(order=make_order(), attempt=attempt), "INVALID_REQUEST")
    assert provider.inquire(order=make_order(), attempt=attempt) is ProviderStatus.NOT_PAID
    assert provider.cancel(order=make_order(), attempt=attempt) is True
    assert usage(provider.store, agreement) == (0, 0)


# --- idempotency ---------------------------------------------------------------------------------------------


def test_the_same_key_twice_debits_once_and_answers_the_same(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = active()
    order, attempt = make_order("300"), make_attempt()

    first = provider.pay(order=order, attempt=attempt)
    second = provider.pay(order=order, attempt=attempt)

    assert first.result_code is ResultCode.SUCCESS
    assert second == first
    assert usage(provider.store, agreement) == (300, 1)


def test_a_repeated_decline_is_the_first_answer_even_after_the_agreement_changes(
    provider: AgreementProvider, make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = provider.store.sign("alice", "shop", "USD")
    order, attempt = make_order(), make_attempt()
    first = provider.pay(order=order, attempt=attempt)
    provider.store.activate(agreement.agreement_id)

    assert provider.pay(order=order, attempt=attempt) == first
    assert usage(provider.store, agreement) == (0, 0)


@pytest.mark.parametrize(
    "changed",
    [
        {"value": "301"},
        {"currency": "EUR"},
        {"payer": "bob"},
        {"merchant": "other-shop"},
    ],
)
def test_a_repeat_with_other_parameters_is_inconsistent_and_moves_nothing(
    provider: AgreementProvider,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    changed: dict[str, str],
) -> None:
    agreement = active()
    active(payer="bob")
    attempt = make_attempt()
    first = provider.pay(order=make_order("300"), attempt=attempt)

    repeat = provider.pay(order=make_order(**{"value": "300", **changed}), attempt=attempt)

    assert_declined(repeat, "REPEAT_REQ_INCONSISTENT")
    assert sum(a.used_count for a in provider.store.agreements()) == 1
    assert usage(provider.store, agreement) == (300, 1)
    assert provider.pay(order=make_order("300"), attempt=attempt) == first


def test_threads_sharing_one_provider_never_exceed_the_count_limit(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder
) -> None:
    agreement = active(count_limit=5)
    workers = 8
    barrier = threading.Barrier(workers)
    orders = [make_order() for _ in range(workers)]

    def pay(number: int) -> PaymentResult:
        barrier.wait(timeout=30)
        return provider.pay(order=orders[number], attempt=Attempt(f"t{number}", 1, "agreement", f"t{number}-1"))

    with ThreadPoolExecutor(workers) as pool:
        results = list(pool.map(pay, range(workers)))

    assert sorted(r.reason or "PAID" for r in results) == ["PAID"] * 5 + ["PAYMENT_COUNT_EXCEED_LIMIT"] * 3
    assert usage(provider.store, agreement) == (500, 5)


# --- inquiry and tombstones ----------------------------------------------------------------------------------


def test_inquire_says_paid_only_for_a_debit_that_stands(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    active(count_limit=1)
    paid_order, paid_attempt = make_order(), make_attempt()
    declined_order, declined_attempt = make_order(), make_attempt()
    provider.pay(order=paid_order, attempt=paid_attempt)
    provider.pay(order=declined_order, attempt=declined_attempt)

    assert provider.inquire(order=paid_order, attempt=paid_attempt) is ProviderStatus.PAID
    assert provider.inquire(order=paid_order, attempt=paid_attempt) is ProviderStatus.PAID
    assert provider.inquire(order=declined_order, attempt=declined_attempt) is ProviderStatus.NOT_PAID
    provider.cancel(order=paid_order, attempt=paid_attempt)
    assert provider.inquire(order=paid_order, attempt=paid_attempt) is ProviderStatus.NOT_PAID


@pytest.mark.parametrize("first", ["inquire", "cancel"])
def test_an_unseen_key_is_voided_so_a_late_pay_moves_nothing(
    provider: AgreementProvider,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    logs: list[EventDict],
    first: str,
) -> None:
    agreement = active()
    order, attempt = make_order(), make_attempt()

    if first == "inquire":
        assert provider.inquire(order=order, attempt=attempt) is ProviderStatus.NOT_PAID
    else:
        assert provider.cancel(order=order, attempt=attempt) is True
    late = provider.pay(order=order, attempt=attempt)

    assert_declined(late, "ATTEMPT_VOIDED")
    assert provider.pay(order=order, attempt=attempt) == late
    assert usage(provider.store, agreement) == (0, 0)
    assert provider.inquire(order=order, attempt=attempt) is ProviderStatus.NOT_PAID
    assert [e["event"] for e in logs].count("agreement.attempt_voided") == 1


# --- cancel ------------------------------------------------------------------------------------------------


def test_cancel_gives_amount_and_count_back_exactly_once(
    provider: AgreementProvider,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    logs: list[EventDict],
) -> None:
    agreement = active(cumulative_limit=500, count_limit=2)
    kept_order, kept = make_order("200"), make_attempt()
    order, attempt = make_order("300"), make_attempt()
    provider.pay(order=kept_order, attempt=kept)
    provider.pay(order=order, attempt=attempt)
    assert usage(provider.store, agreement) == (500, 2)

    assert provider.cancel(order=order, attempt=attempt) is True
    assert usage(provider.store, agreement) == (200, 1)
    assert provider.cancel(order=order, attempt=attempt) is True
    assert usage(provider.store, agreement) == (200, 1)
    assert [e["event"] for e in logs].count("agreement.payment_reversed") == 1

    # The freed room is usable again; the reversed key answers ATTEMPT_REVERSED (not its first 9000, which
    # would report money that was given back) and debits nothing.
    assert provider.pay(order=make_order("300"), attempt=make_attempt()).result_code is ResultCode.SUCCESS
    repeat = provider.pay(order=order, attempt=attempt)
    assert repeat.result_code is ResultCode.FAILED
    assert repeat.reason == "ATTEMPT_REVERSED"
    assert usage(provider.store, agreement) == (500, 2)


def test_cancel_of_a_declined_key_is_true_and_changes_nothing(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = active(count_limit=1)
    provider.pay(order=make_order(), attempt=make_attempt())
    order, attempt = make_order(), make_attempt()
    declined = provider.pay(order=order, attempt=attempt)

    assert provider.cancel(order=order, attempt=attempt) is True
    assert usage(provider.store, agreement) == (100, 1)
    assert provider.pay(order=order, attempt=attempt) == declined


def test_cancel_after_the_agreement_was_revoked_still_gives_back(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    agreement = active()
    order, attempt = make_order(), make_attempt()
    provider.pay(order=order, attempt=attempt)
    provider.store.revoke(agreement.agreement_id)

    assert provider.cancel(order=order, attempt=attempt) is True
    assert usage(provider.store, agreement) == (0, 0)


def test_payments_are_logged_with_their_fields(
    provider: AgreementProvider,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    logs: list[EventDict],
) -> None:
    agreement = active(count_limit=1)
    order, attempt = make_order(), make_attempt()
    provider.pay(order=order, attempt=attempt)
    provider.pay(order=order, attempt=attempt)
    provider.pay(order=make_order(), attempt=make_attempt())

    events = [e for e in logs if e["event"].startswith("agreement.payment_")]
    assert [e["event"] for e in events] == [
        "agreement.payment_debited",
        "agreement.payment_repeated",
        "agreement.payment_declined",
    ]
    assert events[0]["payer"] == "alice"
    assert events[0]["trade_no"] == order.trade_no
    assert events[0]["idempotency_key"] == attempt.idempotency_key
    assert events[0]["amount"] == 100
    assert events[2]["reason"] == "PAYMENT_COUNT_EXCEED_LIMIT"
    assert agreement.access_token not in str(logs)


def test_the_used_amount_never_passes_what_the_database_can_count(
    provider: AgreementProvider, active: Callable[..., Agreement], make_order: MakeOrder, make_attempt: MakeAttempt
) -> None:
    """No cumulative limit, but the counter is a 64-bit integer: the payment that would overflow it declines."""
    agreement = active()
    biggest = "999999999999999999"
    for _ in range(9):
        assert provider.pay(order=make_order(biggest), attempt=make_attempt()).result_code is ResultCode.SUCCESS

    assert_declined(provider.pay(order=make_order(biggest), attempt=make_attempt()), "USER_AMOUNT_EXCEED_LIMIT")
    assert usage(provider.store, agreement) == (9 * int(biggest), 9)


# --- PostgreSQL races, staged: another transaction holds the key until the provider waits for it -------------


@ONLY_POSTGRES
def test_a_payment_that_loses_the_race_for_its_key_rolls_back_and_answers_as_a_repeat(
    provider: AgreementProvider,
    database: str,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
) -> None:
    agreement = active(count_limit=1)
    order, attempt = make_order(), make_attempt()
    with other_transaction(database) as other, ThreadPoolExecutor(1) as pool:
        # Another process's inquiry tombstones the key and has not committed yet.
        other.execute(
            "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
            " created_at, updated_at) VALUES (%s, 'voided', 'alice', 'shop', %s, 100, 'USD', 0, 0)",
            (attempt.idempotency_key, order.trade_no),
        )
        paying = pool.submit(provider.pay, order=order, attempt=attempt)
        wait_until_blocked_by(other)  # the payment checked, debited the counters, and waits to insert its key
        other.commit()
        result = paying.result(timeout=30)

    assert_declined(result, "ATTEMPT_VOIDED")
    assert usage(provider.store, agreement) == (0, 0)  # its counter update was rolled back with it
    assert provider.pay(order=make_order(), attempt=make_attempt()).result_code is ResultCode.SUCCESS


@ONLY_POSTGRES
def test_a_cancel_that_loses_the_race_to_tombstone_a_key_reverses_the_winners_debit(
    provider: AgreementProvider,
    database: str,
    active: Callable[..., Agreement],
    make_order: MakeOrder,
    make_attempt: MakeAttempt,
    logs: list[EventDict],
) -> None:
    agreement = active()
    order, attempt = make_order("300"), make_attempt()
    with other_transaction(database) as other, ThreadPoolExecutor(1) as pool:
        # Another process's payment debits the key and has not committed yet.
        other.execute(
            "UPDATE agreements SET used_amount = used_amount + 300, used_count = used_count + 1"
            " WHERE agreement_id = %s",
            (agreement.agreement_id,),
        )
        other.execute(
            "INSERT INTO attempts (idempotency_key, status, payer_id, merchant_id, trade_no, amount, currency,"
            " agreement_id, result_code, result_message, extended_info, created_at, updated_at)"
            " VALUES (%s, 'debited', 'alice', 'shop', %s, 300, 'USD', %s, '9000', 'paid', '{}', 0, 0)",
            (attempt.idempotency_key, order.trade_no, agreement.agreement_id),
        )
        cancelling = pool.submit(provider.cancel, order=order, attempt=attempt)
        wait_until_blocked_by(other)  # the cancel saw no row and waits to insert its tombstone
        other.commit()
        assert cancelling.result(timeout=30) is True

    assert usage(provider.store, agreement) == (0, 0)
    assert provider.inquire(order=order, attempt=attempt) is ProviderStatus.NOT_PAID
    assert [e["event"] for e in logs].count("agreement.attempt_voided") == 0
    assert [e["event"] for e in logs].count("agreement.payment_reversed") == 1
