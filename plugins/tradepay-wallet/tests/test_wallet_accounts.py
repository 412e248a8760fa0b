"""Top-ups, balances and history through the Python API; bad input is refused and stores nothing."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tradepay import InvalidInput
from tradepay_wallet import EntryKind, WalletProvider

MakeProvider = Callable[..., WalletProvider]
MAX_BALANCE = 10**18 - 1


def test_topups_open_accounts_per_currency_and_add_up(provider: WalletProvider) -> None:
    assert provider.topup("alice", "USD", 1000) == 1000
    assert provider.topup("alice", "USD", 250) == 1250
    assert provider.topup("alice", "JPY", 7) == 7

    assert provider.balances("alice") == {"JPY": 7, "USD": 1250}
    assert provider.balances("bob") == {}
    assert provider.balance("bob", "USD") == 0
    history = provider.history("alice")
    assert [(e.kind, e.currency, e.amount, e.balance_after) for e in history] == [
        (EntryKind.CREDIT, "USD", 1000, 1000),
        (EntryKind.CREDIT, "USD", 250, 1250),
        (EntryKind.CREDIT, "JPY", 7, 7),
    ]
    assert all(e.idempotency_key is None and e.payer == "alice" for e in history)
    assert history[0].id < history[1].id < history[2].id


def test_a_balance_can_reach_the_maximum_but_not_pass_it(provider: WalletProvider) -> None:
    assert provider.topup("alice", "USD", MAX_BALANCE) == MAX_BALANCE

    with pytest.raises(InvalidInput) as refused:
        provider.topup("alice", "USD", 1)

    assert refused.value.field == "amount"
    assert provider.balance("alice", "USD") == MAX_BALANCE
    assert len(provider.history("alice")) == 1


def test_a_topup_in_a_currency_the_wallet_does_not_accept_is_refused(make_provider: MakeProvider) -> None:
    provider = make_provider(currencies=["JPY"])

    with pytest.raises(InvalidInput, match="not accepted by this wallet") as refused:
        provider.topup("alice", "USD", 100)

    assert refused.value.field == "currency"
    assert provider.balances("alice") == {}


@pytest.mark.parametrize(
    ("payer", "currency", "amount", "field"),
    [
        ("", "USD", 100, "payer"),
        ("   ", "USD", 100, "payer"),
        ("ålice", "USD", 100, "payer"),
        ("alice\x00", "USD", 100, "payer"),
        ("a" * 65, "USD", 100, "payer"),
        ("alice'; DROP TABLE accounts; --", "USD", 100, "payer"),
        (7, "USD", 100, "payer"),
        ("alice", "", 100, "currency"),
        ("alice", "usd", 100, "currency"),
        ("alice", "XYZ", 100, "currency"),
        ("alice", "USD'; --", 100, "currency"),
        ("alice", None, 100, "currency"),
        ("alice", "USD", 0, "amount"),
        ("alice", "USD", -100, "amount"),
        ("alice", "USD", MAX_BALANCE + 1, "amount"),
        ("alice", "USD", 10.5, "amount"),
        ("alice", "USD", "100", "amount"),
        ("alice", "USD", True, "amount"),
        ("4000.0000.0000.0069", "USD", 100, "payer"),
        ("4242\u00a04242\u00a04242\u00a04242", "USD", 100, "payer"),
        ("alice\ud800", "USD", 100, "payer"),
        pytest.param("alice", "USD", 10**5000, "amount", id="huge-amount"),
    ],
)
def test_a_bad_topup_names_the_argument_and_stores_nothing(
    provider: WalletProvider, payer: Any, currency: Any, amount: Any, field: str
) -> None:
    with pytest.raises(InvalidInput) as refused:
        provider.topup(payer, currency, amount)

    assert refused.value.field == field
    assert provider.balances("alice") == {}
    assert provider.history("alice") == []


@pytest.mark.parametrize("payer", ["", "ålice", "'; DROP TABLE entries; --", "b" * 65])
def test_reading_a_bad_payer_is_refused(provider: WalletProvider, payer: str) -> None:
    for read in (provider.balances, provider.history):
        with pytest.raises(InvalidInput) as refused:
            read(payer)
        assert refused.value.field == "payer"
