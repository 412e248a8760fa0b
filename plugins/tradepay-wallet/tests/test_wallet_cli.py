"""`tradepay wallet ...` through click's test runner, on a group with the provider's commands added."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Callable

import click
import pytest
from click.testing import CliRunner, Result

from tradepay import Attempt, Order, Refund
from tradepay_wallet import FaultKind, FaultProfile, WalletProvider


@pytest.fixture
def invoke(provider: WalletProvider) -> Callable[..., Result]:
    """Run ``tradepay wallet ARGS...`` against ``provider``."""

    @click.group()
    def tradepay() -> None:
        """The host's command line, standing in."""

    provider.add_cli_commands(tradepay)

    def run(*args: str) -> Result:
        return CliRunner().invoke(tradepay, ["wallet", *args])

    return run


def assert_usage_error(result: Result, *says: str) -> None:
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    for text in says:
        assert text in result.output


def test_topup_then_balance(invoke: Callable[..., Result], provider: WalletProvider) -> None:
    result = invoke("topup", "alice", "USD", "1000")
    assert result.exit_code == 0, result.output
    assert result.stdout == "Credited USD 10.00 to alice; balance USD 10.00.\n"
    invoke("topup", "alice", "JPY", "500")

    shown = invoke("balance", "alice")
    assert shown.stdout.splitlines() == ["JPY 500", "USD 10.00"]  # one formatter: major units, the code once
    as_json = invoke("balance", "alice", "--json")
    assert json.loads(as_json.stdout) == {
        "payer": "alice",
        "balances": [{"currency": "JPY", "value": "500"}, {"currency": "USD", "value": "1000"}],
    }
    assert provider.balances("alice") == {"JPY": 500, "USD": 1000}


def test_balance_and_history_of_a_payer_without_account(invoke: Callable[..., Result]) -> None:
    assert invoke("balance", "nobody").stdout == "nobody has no wallet account.\n"
    assert json.loads(invoke("balance", "nobody", "--json").stdout) == {"payer": "nobody", "balances": []}
    assert invoke("history", "nobody").stdout == "nobody has no wallet history.\n"
    assert json.loads(invoke("history", "nobody", "--json").stdout) == {"payer": "nobody", "entries": []}


def test_history_shows_debits_credits_and_reversals_with_keys(
    invoke: Callable[..., Result], provider: WalletProvider, order: Order, attempt: Callable[[str], Attempt]
) -> None:
    invoke("topup", "alice", "USD", "1000")
    asyncio.run(provider.pay(order, attempt("pay-1-1")))
    asyncio.run(provider.cancel(order, attempt("pay-1-1")))

    entries = json.loads(invoke("history", "alice", "--json").stdout)["entries"]
    usd = [{"currency": "USD", "value": value} for value in ("1000", "300", "700")]
    assert [(e["kind"], e["amount"], e["balanceAfter"], e["idempotencyKey"], e["tradeNo"]) for e in entries] == [
        ("credit", usd[0], usd[0], None, None),
        ("debit", usd[1], usd[2], "pay-1-1", "T-1"),
        ("reversal", usd[1], usd[0], "pay-1-1", "T-1"),
    ]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["recordedAt"]) for e in entries)
    header, *lines = invoke("history", "alice").stdout.splitlines()
    assert header.split() == ["ID", "TIME", "(UTC)", "KIND", "AMOUNT", "BALANCE", "KEY", "TRADE", "NO"]
    assert len(lines) == 3
    assert lines[1].split()[3:] == ["debit", "-USD", "3.00", "USD", "7.00", "pay-1-1", "T-1"]
    assert lines[2].split()[3:] == ["reversal", "+USD", "3.00", "USD", "10.00", "pay-1-1", "T-1"]


def test_history_shows_refunds_with_their_refund_keys(
    invoke: Callable[..., Result],
    provider: WalletProvider,
    order: Order,
    attempt: Callable[[str], Attempt],
    refund_of: Callable[..., Refund],
) -> None:
    invoke("topup", "alice", "USD", "1000")
    asyncio.run(provider.pay(order, attempt("pay-1-1")))
    refund = refund_of(attempt("pay-1-1"), "120")
    asyncio.run(provider.refund(order, refund.attempt, refund))

    entries = json.loads(invoke("history", "alice", "--json").stdout)["entries"]
    assert [(e["kind"], e["amount"], e["balanceAfter"], e["idempotencyKey"]) for e in entries][-1] == (
        "refund",
        {"currency": "USD", "value": "120"},
        {"currency": "USD", "value": "820"},
        "ref-1",
    )
    last = invoke("history", "alice").stdout.splitlines()[-1].split()
    assert last[3:7] == ["refund", "+USD", "1.20", "USD"]  # ID, date, time, then kind, amount, balance ...
    assert "ref-1" in last  # the KEY column


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["", "USD", "100"], "'PAYER'"),
        (["ålice", "USD", "100"], "'PAYER'"),
        (["x'; DROP TABLE accounts; --", "USD", "100"], "'PAYER'"),
        (["alice", "usd", "100"], "'CURRENCY'"),
        (["alice", "EURO", "100"], "'CURRENCY'"),
        (["alice", "USD", "0"], "'AMOUNT'"),
        (["alice", "USD", "1.50"], "'AMOUNT'"),
        (["alice", "USD", "0100"], "'AMOUNT'"),
        (["alice", "USD", "\u0661\u0660\u0660"], "'AMOUNT'"),  # Arabic-Indic 100
        (["alice", "USD", "1" * 19], "'AMOUNT'"),
        (["alice", "USD", "lots"], "'AMOUNT'"),
        (["alice", "USD", "--", "-100"], "'AMOUNT'"),
        (["alice", "USD"], "AMOUNT"),
    ],
)
def test_a_bad_topup_is_a_usage_error_naming_the_argument(
    invoke: Callable[..., Result], provider: WalletProvider, args: list[str], names: str
) -> None:
    assert_usage_error(invoke("topup", *args), names)
    assert provider.balances("alice") == {}


def test_a_topup_past_the_maximum_balance_is_refused(invoke: Callable[..., Result], provider: WalletProvider) -> None:
    assert invoke("topup", "alice", "USD", "9" * 18).exit_code == 0
    assert_usage_error(invoke("topup", "alice", "USD", "1"), "'AMOUNT'", "maximum")
    assert provider.balance("alice", "USD") == 10**18 - 1


def test_fault_set_list_and_clear(invoke: Callable[..., Result], provider: WalletProvider) -> None:
    assert invoke("fault", "list").stdout == "No fault profiles: every payer is served normally.\n"
    set_error = invoke(
        "fault", "set", "alice", "error", "--result-code", "4000", "--error-code", "1005", "--reason", "RISK_REJECT"
    )
    assert set_error.exit_code == 0, set_error.output
    assert set_error.stdout == "Fault set: alice: error, result 4000 error 1005, reason RISK_REJECT, sticky.\n"
    invoke("fault", "set", "*", "latency", "--seconds", "0.5", "--times", "2")

    assert invoke("fault", "list").stdout.splitlines() == [
        "*: latency, 0.5 s, next 2 call(s)",
        "alice: error, result 4000 error 1005, reason RISK_REJECT, sticky",
    ]
    assert json.loads(invoke("fault", "list", "--json").stdout) == [
        {"payer": "*", "kind": "latency", "seconds": 0.5, "resultCode": None, "errorCode": None, "reason": None,
         "times": 2},
        {"payer": "alice", "kind": "error", "seconds": None, "resultCode": "4000", "errorCode": 1005,
         "reason": "RISK_REJECT", "times": None},
    ]  # fmt: skip
    assert invoke("fault", "clear", "alice").stdout == "Removed the fault profile of alice.\n"
    assert invoke("fault", "clear", "alice").stdout == "alice had no fault profile.\n"
    assert provider.faults() == [FaultProfile("*", FaultKind.LATENCY, seconds=0.5, times=2)]
    invoke("fault", "set", "bob", "hang")
    assert invoke("fault", "clear", "--all").stdout == "Removed 2 fault profile(s).\n"
    assert provider.faults() == []


@pytest.mark.parametrize(
    ("args", "names"),
    [
        (["alice", "explode"], "'KIND'"),
        (["alice", "latency"], "'--seconds'"),
        (["alice", "latency", "--seconds", "soon"], "'--seconds'"),
        (["alice", "latency", "--seconds", "-1"], "'--seconds'"),
        (["alice", "hang", "--seconds", "1"], "'--seconds'"),
        (["alice", "error", "--result-code", "4000"], "'--result-code' / '--error-code'"),
        (["alice", "error", "--result-code", "9000", "--error-code", "1002"], "'--result-code'"),
        (["alice", "error", "--result-code", "4000", "--error-code", "1004"], "'--error-code'"),
        (["alice", "error", "--result-code", "4000", "--error-code", "x"], "'--error-code'"),
        (["alice", "exception", "--times", "0"], "'--times'"),
        (["alice", "exception", "--reason", "X"], "'--reason'"),
        (["", "exception"], "'PAYER'"),
        (["'; DELETE FROM faults; --", "exception"], "'PAYER'"),
    ],
)
def test_a_bad_fault_is_a_usage_error_naming_the_option(
    invoke: Callable[..., Result], provider: WalletProvider, args: list[str], names: str
) -> None:
    assert_usage_error(invoke("fault", "set", *args), names)
    assert provider.faults() == []


@pytest.mark.parametrize("args", [[], ["alice", "--all"]])
def test_fault_clear_needs_a_payer_or_all(invoke: Callable[..., Result], args: list[str]) -> None:
    assert_usage_error(invoke("fault", "clear", *args), "give either PAYER or --all")


def test_fault_clear_of_a_bad_payer_is_a_usage_error(invoke: Callable[..., Result]) -> None:
    assert_usage_error(invoke("fault", "clear", "not a payer"), "'PAYER'")


def test_a_reason_with_terminal_control_characters_is_refused_and_never_echoed_raw(
    invoke: Callable[..., Result], provider: WalletProvider
) -> None:
    reason = "\x1b]0;owned\x07RISK\x1b[2J"
    done = invoke("fault", "set", "alice", "error", "--result-code", "4000", "--error-code", "1002", "--reason", reason)

    assert done.exit_code == 2, done.output
    assert "Invalid value for '--reason'" in done.output
    assert "\x1b" not in done.output
    assert "\x07" not in done.output
    assert provider.faults() == []  # a fault reason is an identifier: nothing was stored
