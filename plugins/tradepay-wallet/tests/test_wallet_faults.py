"""Fault profiles: each kind's behaviour, what it moves (nothing, except late_success), scope and counting."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, MutableMapping
from typing import Any

import pytest

from tradepay import (
    Attempt,
    ErrorCode,
    InvalidInput,
    Order,
    PaymentResult,
    ProviderStatus,
    ResultCode,
    ResultError,
)
from tradepay_wallet import MALFORMED_ANSWER, FaultKind, FaultProfile, WalletProvider

AttemptOf = Callable[[str], Attempt]
MakeOrder = Callable[..., Order]
MakeProvider = Callable[..., WalletProvider]


@pytest.fixture
def funded(provider: WalletProvider) -> WalletProvider:
    """The default provider, with alice and bob holding USD 10.00 each."""
    provider.topup("alice", "USD", 1000)
    provider.topup("bob", "USD", 1000)
    return provider


def pay(provider: WalletProvider, order: Order, attempt: Attempt) -> PaymentResult:
    return asyncio.run(provider.pay(order, attempt))


def inquire(provider: WalletProvider, order: Order, attempt: Attempt) -> ProviderStatus:
    return asyncio.run(provider.inquire(order, attempt))


def test_latency_pauses_then_pays(funded: WalletProvider, order: Order, attempt: AttemptOf) -> None:
    funded.set_fault("alice", "latency", seconds=0.05, times=1)

    started = time.monotonic()
    result = pay(funded, order, attempt("pay-1-1"))

    assert time.monotonic() - started >= 0.05
    assert result.result_code is ResultCode.SUCCESS
    assert funded.balance("alice", "USD") == 700


def test_hang_is_cancelled_by_the_deadline_and_debits_nothing(
    funded: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    funded.set_fault("alice", "hang")

    async def with_deadline() -> PaymentResult:
        return await asyncio.wait_for(funded.pay(order, attempt("pay-1-1")), timeout=0.05)

    with pytest.raises(TimeoutError):
        asyncio.run(with_deadline())

    assert funded.balance("alice", "USD") == 1000
    # The host's inquiry voids the key, so the hung request can never charge later.
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.NOT_PAID
    funded.clear_fault("alice")
    assert pay(funded, order, attempt("pay-1-1")).reason == "ATTEMPT_VOIDED"
    assert funded.balance("alice", "USD") == 1000


def test_exception_raises_and_debits_nothing(funded: WalletProvider, order: Order, attempt: AttemptOf) -> None:
    funded.set_fault("alice", "exception")

    with pytest.raises(RuntimeError, match="nothing was debited"):
        pay(funded, order, attempt("pay-1-1"))

    assert funded.balance("alice", "USD") == 1000
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.NOT_PAID


def test_malformed_returns_something_else_and_debits_nothing(
    funded: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    funded.set_fault("alice", FaultKind.MALFORMED)

    result: object = pay(funded, order, attempt("pay-1-1"))

    assert not isinstance(result, PaymentResult)
    assert result == MALFORMED_ANSWER
    assert funded.balance("alice", "USD") == 1000
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.NOT_PAID


@pytest.mark.parametrize(
    ("code", "error", "reason"),
    [("4000", 1005, None), ("4000", 1002, "RISK_REJECT"), ("8000", 1000, None), ("6002", 1003, None)],
)
def test_error_answers_the_scripted_codes_and_debits_nothing(
    funded: WalletProvider, order: Order, attempt: AttemptOf, code: str, error: int, reason: str | None
) -> None:
    funded.set_fault("alice", "error", result_code=code, error_code=error, reason=reason)

    result = pay(funded, order, attempt("pay-1-1"))

    assert result.result_code == code
    assert result.result_error is not None
    assert result.result_error.error_code == error
    assert result.reason == reason
    assert funded.balance("alice", "USD") == 1000
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.NOT_PAID


def test_user_cancel_answers_6001_and_debits_nothing(funded: WalletProvider, order: Order, attempt: AttemptOf) -> None:
    funded.set_fault("alice", "user_cancel", times=1)

    result = pay(funded, order, attempt("pay-1-1"))

    assert result.result_code is ResultCode.USER_CANCEL
    assert result.result_error == ResultError(ErrorCode.USER_CANCEL, "the user left the cashier")
    assert result.reason == "USER_CANCEL"
    assert funded.balance("alice", "USD") == 1000
    # The key keeps its answer: a retry of the same attempt is still the user's cancel.
    assert pay(funded, order, attempt("pay-1-1")) == result
    assert funded.balance("alice", "USD") == 1000


def test_late_success_debits_answers_unknown_and_inquiry_finds_it_paid(
    funded: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    funded.set_fault("alice", "late_success", times=1)

    result = pay(funded, order, attempt("pay-1-1"))

    assert result.result_code is ResultCode.UNKNOWN
    assert result.result_error == ResultError(ErrorCode.TIMEOUT, "timeout")
    assert funded.balance("alice", "USD") == 700
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.PAID
    # The stored answer is the truth: a retry of the key learns it was paid, and moves nothing.
    assert pay(funded, order, attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert funded.balance("alice", "USD") == 700


def test_late_success_then_cancel_credits_back_exactly_once(
    funded: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    funded.set_fault("alice", "late_success")
    pay(funded, order, attempt("pay-1-1"))

    for _ in range(3):
        assert asyncio.run(funded.cancel(order, attempt("pay-1-1"))) is True

    assert funded.balance("alice", "USD") == 1000
    assert [e.kind.value for e in funded.history("alice")] == ["credit", "debit", "reversal"]
    assert inquire(funded, order, attempt("pay-1-1")) is ProviderStatus.NOT_PAID


def test_late_success_without_the_money_declines_honestly(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    provider.set_fault("alice", "late_success")
    assert pay(provider, order, attempt("pay-1-1")).reason == "USER_BALANCE_NOT_ENOUGH"


def test_times_counts_down_then_the_profile_is_gone(
    funded: WalletProvider, make_order: MakeOrder, attempt: AttemptOf
) -> None:
    funded.set_fault("alice", "user_cancel", times=2)

    codes = [pay(funded, make_order("100", trade_no=f"T-{n}"), attempt(f"pay-{n}-1")).result_code for n in range(3)]

    assert codes == [ResultCode.USER_CANCEL, ResultCode.USER_CANCEL, ResultCode.SUCCESS]
    assert funded.faults() == []
    assert funded.balance("alice", "USD") == 900


def test_a_profile_without_times_is_sticky(funded: WalletProvider, make_order: MakeOrder, attempt: AttemptOf) -> None:
    funded.set_fault("alice", "user_cancel")

    for n in range(4):
        assert pay(funded, make_order("100", trade_no=f"T-{n}"), attempt(f"pay-{n}-1")).reason == "USER_CANCEL"

    assert [p.times for p in funded.faults()] == [None]
    assert funded.balance("alice", "USD") == 1000


def test_a_payers_own_profile_wins_over_the_all_payers_one(
    funded: WalletProvider, make_order: MakeOrder, attempt: AttemptOf
) -> None:
    funded.set_fault("*", "exception")
    funded.set_fault("alice", "user_cancel", times=1)

    assert pay(funded, make_order(), attempt("pay-1-1")).reason == "USER_CANCEL"
    with pytest.raises(RuntimeError):
        pay(funded, make_order(payer="bob", trade_no="T-2"), attempt("pay-2-1"))
    # alice's one-shot profile is used up: the all-payers profile applies to her again.
    with pytest.raises(RuntimeError):
        pay(funded, make_order(trade_no="T-3"), attempt("pay-3-1"))
    assert funded.balances("alice") == funded.balances("bob") == {"USD": 1000}


def test_profiles_live_in_the_state_file(make_provider: MakeProvider, order: Order, attempt: AttemptOf) -> None:
    scripting, paying = make_provider(), make_provider()
    scripting.topup("alice", "USD", 1000)
    scripting.set_fault("alice", "user_cancel", times=1)

    assert pay(paying, order, attempt("pay-1-1")).reason == "USER_CANCEL"
    assert scripting.faults() == []


def test_set_fault_replaces_and_clear_removes(funded: WalletProvider) -> None:
    funded.set_fault("alice", "exception")
    funded.set_fault("alice", "latency", seconds=1.5, times=3)
    funded.set_fault("*", "hang")

    assert funded.faults() == [
        FaultProfile("*", FaultKind.HANG),
        FaultProfile("alice", FaultKind.LATENCY, seconds=1.5, times=3),
    ]
    assert funded.clear_fault("alice") is True
    assert funded.clear_fault("alice") is False
    assert funded.clear_faults() == 1
    assert funded.faults() == []


def test_a_fault_is_logged(
    funded: WalletProvider, order: Order, attempt: AttemptOf, logs: list[MutableMapping[str, Any]]
) -> None:
    funded.set_fault("*", "user_cancel")
    pay(funded, order, attempt("pay-1-1"))

    faults = [e for e in logs if e["event"] == "wallet.fault"]
    assert [(e["fault"], e["fault_payer"], e["payer"], e["idempotency_key"]) for e in faults] == [
        ("user_cancel", "*", "alice", "pay-1-1")
    ]


@pytest.mark.parametrize(
    ("payer", "kind", "options", "field"),
    [
        ("alice", "explode", {}, "kind"),
        ("alice", "latency", {}, "seconds"),
        ("alice", "latency", {"seconds": 0}, "seconds"),
        ("alice", "latency", {"seconds": -1.0}, "seconds"),
        ("alice", "latency", {"seconds": float("inf")}, "seconds"),
        ("alice", "latency", {"seconds": float("nan")}, "seconds"),
        ("alice", "latency", {"seconds": True}, "seconds"),
        ("alice", "latency", {"seconds": 3601}, "seconds"),
        ("alice", "hang", {"seconds": 1.0}, "seconds"),
        ("alice", "error", {}, "error"),
        ("alice", "error", {"result_code": "4000"}, "error"),
        ("alice", "error", {"result_code": "9000", "error_code": 1002}, "result_code"),
        ("alice", "error", {"result_code": "1234", "error_code": 1002}, "result_code"),
        ("alice", "error", {"result_code": "4000", "error_code": 1004}, "error_code"),
        ("alice", "error", {"result_code": "4000", "error_code": 1002, "reason": " "}, "reason"),
        ("alice", "exception", {"result_code": "4000"}, "result_code"),
        ("alice", "exception", {"reason": "RISK_REJECT"}, "reason"),
        ("alice", "exception", {"times": 0}, "times"),
        ("alice", "exception", {"times": -1}, "times"),
        ("alice", "exception", {"times": True}, "times"),
        ("alice", "exception", {"times": 1.5}, "times"),
        ("", "exception", {}, "payer"),
        ("al ice", "exception", {}, "payer"),
        ("ålice", "exception", {}, "payer"),
        ("x'; DROP TABLE faults; --", "exception", {}, "payer"),
        ("x" * 65, "exception", {}, "payer"),
        (None, "exception", {}, "payer"),
        ("4000.0000.0000.0069", "exception", {}, "payer"),
        ("alice", "error", {"result_code": "4000", "error_code": 1002, "reason": "4000.0000.0000.0069"}, "reason"),
        ("alice", "error", {"result_code": "4000", "error_code": 1002, "reason": "RISK\ud800"}, "reason"),
        ("alice", "error", {"result_code": "4000", "error_code": 1002, "reason": "RISK\x00"}, "reason"),
        ("alice", "error", {"result_code": "4000", "error_code": 1002, "reason": "R" * 65}, "reason"),
        pytest.param("alice", "error", {"result_code": "4000", "error_code": 10**5000}, "error_code", id="huge-code"),
        pytest.param("alice", "latency", {"seconds": 10**5000}, "seconds", id="huge-seconds"),
        pytest.param("alice", "exception", {"times": 10**5000}, "times", id="huge-times"),
        pytest.param("alice", "x" * 10**6, {}, "kind", id="huge-kind"),
    ],
)
def test_an_invalid_profile_is_refused_and_nothing_is_stored(
    provider: WalletProvider, payer: Any, kind: str, options: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        provider.set_fault(payer, kind, **options)

    assert refused.value.field == field
    assert provider.faults() == []
    # The refusal quotes no whole input and no card number.
    assert len(str(refused.value)) < 300
    assert "0069" not in str(refused.value)
