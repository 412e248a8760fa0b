"""pay, inquire and cancel on one process: debits, declines, idempotency, tombstones and reversals."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable, MutableMapping
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    Attempt,
    Capabilities,
    ConfigError,
    ErrorCode,
    Order,
    PaymentResult,
    ProviderConfig,
    ProviderStatus,
    ResultCode,
)
from tradepay_wallet import EntryKind, WalletProvider

AttemptOf = Callable[[str], Attempt]
MakeOrder = Callable[..., Order]
MakeProvider = Callable[..., WalletProvider]
#: For tests of the SQLite file itself (test_wallet_store.py has the PostgreSQL side).
SQLITE_ONLY = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)


def pay(provider: WalletProvider, order: Order, attempt: Attempt) -> PaymentResult:
    return asyncio.run(provider.pay(order, attempt))


def assert_declined(result: PaymentResult, reason: str) -> None:
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.APP_SERVICE_ERROR
    assert result.reason == reason


def test_pay_debits_the_order_amount_and_answers_success(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 1000)

    result = pay(provider, order, attempt("pay-1-1"))

    assert result.result_code is ResultCode.SUCCESS
    assert result.result_error is None
    assert provider.balance("alice", "USD") == 700
    debit = provider.history("alice")[-1]
    assert (debit.kind, debit.amount, debit.balance_after) == (EntryKind.DEBIT, 300, 700)
    assert (debit.idempotency_key, debit.trade_no) == ("pay-1-1", "T-1")


def test_a_payment_of_the_whole_balance_leaves_zero(
    provider: WalletProvider, make_order: MakeOrder, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 300)
    assert pay(provider, make_order("300"), attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert provider.balances("alice") == {"USD": 0}


def test_a_repeated_key_answers_the_first_answer_and_debits_once(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 1000)

    first = pay(provider, order, attempt("pay-1-1"))
    again = pay(provider, order, attempt("pay-1-1"))

    assert again == first
    assert provider.balance("alice", "USD") == 700
    assert [e.kind for e in provider.history("alice")] == [EntryKind.CREDIT, EntryKind.DEBIT]


def test_a_repeated_declined_key_stays_declined_after_a_topup(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    first = pay(provider, order, attempt("pay-1-1"))
    provider.topup("alice", "USD", 1000)

    again = pay(provider, order, attempt("pay-1-1"))

    assert again == first
    assert_declined(again, "USER_BALANCE_NOT_ENOUGH")
    assert provider.balance("alice", "USD") == 1000


@pytest.mark.parametrize(
    ("topups", "why"),
    [
        ([], "no account at all"),
        ([("USD", 299)], "one minor unit short"),
        ([("EUR", 5000)], "money only in another currency"),
    ],
)
def test_not_enough_balance_declines_and_moves_nothing(
    provider: WalletProvider, order: Order, attempt: AttemptOf, topups: list[tuple[str, int]], why: str
) -> None:
    for currency, amount in topups:
        provider.topup("alice", currency, amount)
    before = provider.balances("alice")

    result = pay(provider, order, attempt("pay-1-1"))

    assert_declined(result, "USER_BALANCE_NOT_ENOUGH")
    assert provider.balances("alice") == before, why
    assert all(e.kind is EntryKind.CREDIT for e in provider.history("alice"))


@pytest.mark.parametrize(
    "changed",
    [
        {"amount": "301"},
        {"currency": "EUR"},
        {"payer": "bob"},
        {"trade_no": "T-2"},
    ],
)
def test_a_repeat_that_differs_is_refused_and_moves_nothing(
    provider: WalletProvider, make_order: MakeOrder, attempt: AttemptOf, changed: dict[str, str]
) -> None:
    for payer in ("alice", "bob"):
        for currency in ("USD", "EUR"):
            provider.topup(payer, currency, 1000)
    assert pay(provider, make_order(), attempt("pay-1-1")).result_code is ResultCode.SUCCESS

    result = pay(provider, make_order(**changed), attempt("pay-1-1"))

    assert_declined(result, "REPEAT_REQ_INCONSISTENT")
    assert provider.balances("alice") == {"EUR": 1000, "USD": 700}
    assert provider.balances("bob") == {"EUR": 1000, "USD": 1000}
    assert asyncio.run(provider.inquire(make_order(), attempt("pay-1-1"))) is ProviderStatus.PAID


def test_settings_limits_decline_without_moving_money(
    make_provider: MakeProvider, make_order: MakeOrder, attempt: AttemptOf
) -> None:
    provider = make_provider(currencies=["USD", "JPY"], max_amount=300)
    provider.topup("alice", "USD", 1000)
    provider.topup("alice", "JPY", 1000)

    assert pay(provider, make_order("300"), attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert_declined(pay(provider, make_order("301"), attempt("pay-2-1")), "PAYMENT_AMOUNT_EXCEED_LIMIT")
    assert_declined(pay(provider, make_order("100", "EUR"), attempt("pay-3-1")), "CURRENCY_NOT_SUPPORTED")
    assert provider.balances("alice") == {"JPY": 1000, "USD": 700}


def test_capabilities_reflect_the_settings(make_provider: MakeProvider) -> None:
    assert make_provider().capabilities() == Capabilities()
    limited = make_provider(currencies=["USD", "JPY"], max_amount=5000).capabilities()
    assert limited == Capabilities(currencies=frozenset({"USD", "JPY"}), max_amount=5000)


def test_inquire_says_paid_only_for_money_that_moved(
    provider: WalletProvider, make_order: MakeOrder, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 500)
    pay(provider, make_order("300"), attempt("pay-1-1"))
    pay(provider, make_order("300", trade_no="T-2"), attempt("pay-2-1"))

    assert asyncio.run(provider.inquire(make_order("300"), attempt("pay-1-1"))) is ProviderStatus.PAID
    declined = asyncio.run(provider.inquire(make_order("300", trade_no="T-2"), attempt("pay-2-1")))
    assert declined is ProviderStatus.NOT_PAID
    # Inquiry is idempotent and moves nothing.
    assert asyncio.run(provider.inquire(make_order("300"), attempt("pay-1-1"))) is ProviderStatus.PAID
    assert provider.balance("alice", "USD") == 200


@pytest.mark.parametrize("first", ["inquire", "cancel"])
def test_a_key_voided_by_inquiry_or_cancel_can_never_pay(
    provider: WalletProvider, order: Order, attempt: AttemptOf, first: str
) -> None:
    provider.topup("alice", "USD", 1000)
    if first == "inquire":
        assert asyncio.run(provider.inquire(order, attempt("pay-1-1"))) is ProviderStatus.NOT_PAID
    else:
        assert asyncio.run(provider.cancel(order, attempt("pay-1-1"))) is True

    late = pay(provider, order, attempt("pay-1-1"))

    assert_declined(late, "ATTEMPT_VOIDED")
    assert provider.balance("alice", "USD") == 1000
    assert asyncio.run(provider.inquire(order, attempt("pay-1-1"))) is ProviderStatus.NOT_PAID


def test_cancel_of_a_paid_key_credits_the_money_back_exactly_once(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 1000)
    pay(provider, order, attempt("pay-1-1"))

    assert asyncio.run(provider.cancel(order, attempt("pay-1-1"))) is True
    assert asyncio.run(provider.cancel(order, attempt("pay-1-1"))) is True

    assert provider.balance("alice", "USD") == 1000
    kinds = [(e.kind, e.amount, e.idempotency_key) for e in provider.history("alice")]
    assert kinds == [
        (EntryKind.CREDIT, 1000, None),
        (EntryKind.DEBIT, 300, "pay-1-1"),
        (EntryKind.REVERSAL, 300, "pay-1-1"),
    ]
    assert asyncio.run(provider.inquire(order, attempt("pay-1-1"))) is ProviderStatus.NOT_PAID
    # A late repeat of the reversed key must not report the money as taken again.
    assert_declined(pay(provider, order, attempt("pay-1-1")), "ATTEMPT_REVERSED")
    assert provider.balance("alice", "USD") == 1000


def test_cancel_of_a_declined_key_is_true_and_moves_nothing(
    provider: WalletProvider, order: Order, attempt: AttemptOf
) -> None:
    provider.topup("alice", "USD", 100)
    assert_declined(pay(provider, order, attempt("pay-1-1")), "USER_BALANCE_NOT_ENOUGH")

    assert asyncio.run(provider.cancel(order, attempt("pay-1-1"))) is True
    assert provider.balance("alice", "USD") == 100
    assert len(provider.history("alice")) == 1


def test_the_hooks_do_their_database_work_off_the_event_loop(
    provider: WalletProvider, order: Order, attempt: AttemptOf, monkeypatch: pytest.MonkeyPatch
) -> None:
    provider.topup("alice", "USD", 1000)
    calls: list[tuple[str, int]] = []
    # White box on purpose: record the thread of every store call the hooks make.
    store = provider.store

    def spying(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def spy(*args: Any) -> Any:
            calls.append((name, threading.get_ident()))
            return real(*args)

        return spy

    for name in ("take_fault", "pay", "inquire", "reverse"):
        monkeypatch.setattr(store, name, spying(name, getattr(store, name)))

    async def hooks() -> int:
        await provider.pay(order, attempt("pay-1-1"))
        await provider.inquire(order, attempt("pay-1-1"))
        await provider.cancel(order, attempt("pay-1-1"))
        return threading.get_ident()

    loop_thread = asyncio.run(hooks())

    assert [name for name, _ in calls] == ["take_fault", "pay", "inquire", "reverse"]
    assert loop_thread not in {thread for _, thread in calls}
    assert provider.balance("alice", "USD") == 1000


def test_two_providers_on_one_database_share_accounts_and_keys(
    make_provider: MakeProvider, order: Order, attempt: AttemptOf
) -> None:
    first, second = make_provider(), make_provider()
    first.topup("alice", "USD", 1000)

    assert pay(second, order, attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert pay(first, order, attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert first.balance("alice", "USD") == 700


@SQLITE_ONLY
def test_the_state_file_is_wal_and_versioned(provider: WalletProvider) -> None:
    with sqlite3.connect(provider.settings.database) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    conn.close()


@SQLITE_ONLY
def test_a_file_from_a_newer_wallet_is_refused(make_provider: MakeProvider, provider: WalletProvider) -> None:
    provider.close()
    with sqlite3.connect(provider.settings.database) as conn:
        conn.execute("PRAGMA user_version = 99")
    conn.close()

    with pytest.raises(ConfigError, match="schema version 99, newer") as refused:
        make_provider()
    assert refused.value.key == "providers.wallet.database"


@SQLITE_ONLY
def test_a_file_that_is_not_sqlite_is_refused(make_provider: MakeProvider, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not a database, but long enough to look like a header" * 20)

    with pytest.raises(ConfigError) as refused:
        make_provider(database="notes.txt")
    assert refused.value.key == "providers.wallet.database"


@pytest.mark.parametrize("key", ["", "   ", "k" * 257, "pay\x00-1", 42])
def test_an_unusable_key_is_refused_and_nothing_is_stored(provider: WalletProvider, order: Order, key: Any) -> None:
    provider.topup("alice", "USD", 1000)
    # The host's Attempt refuses such a key itself; the wallet must refuse it too, from any caller.
    bad = object.__new__(Attempt)
    for name, value in {"payment_id": "pay", "number": 1, "provider": "wallet", "idempotency_key": key}.items():
        object.__setattr__(bad, name, value)

    assert_declined(pay(provider, order, bad), "INVALID_REQUEST")
    assert asyncio.run(provider.inquire(order, bad)) is ProviderStatus.NOT_PAID
    assert asyncio.run(provider.cancel(order, bad)) is True
    assert provider.balance("alice", "USD") == 1000
    assert len(provider.history("alice")) == 1


def test_the_provider_reopens_after_close(provider: WalletProvider, order: Order, attempt: AttemptOf) -> None:
    provider.topup("alice", "USD", 1000)
    provider.close()
    assert pay(provider, order, attempt("pay-1-1")).result_code is ResultCode.SUCCESS
    assert provider.balance("alice", "USD") == 700


def test_a_debit_is_logged_with_its_payer_trade_and_key(
    provider: WalletProvider, order: Order, attempt: AttemptOf, logs: list[MutableMapping[str, Any]]
) -> None:
    provider.topup("alice", "USD", 1000)
    pay(provider, order, attempt("pay-1-1"))

    debits = [e for e in logs if e["event"] == "wallet.debited"]
    assert len(debits) == 1
    expected = {"payer": "alice", "trade_no": "T-1", "idempotency_key": "pay-1-1", "amount": 300, "currency": "USD"}
    assert debits[0].items() >= expected.items()


def test_the_host_builds_the_provider_from_its_config(tmp_path: Any) -> None:
    provider = WalletProvider(ProviderConfig(name="main-wallet", settings={}, data_dir=tmp_path))
    try:
        assert provider.settings.database == tmp_path / "wallet.sqlite3"
        assert isinstance(provider.settings.database, Path)
        assert provider.settings.database.exists()
    finally:
        provider.close()
