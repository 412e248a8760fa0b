"""``tradepay agreement ...`` through click's test runner, on the provider's own store."""

from __future__ import annotations

import json
from collections.abc import Callable

import click
import pytest
from agreement_support import FakeClock
from click.testing import CliRunner, Result

from tradepay import Attempt, Order, PaymentAmount
from tradepay_agreement import AgreementProvider, AgreementStatus, AgreementStore


def command_line(provider: AgreementProvider) -> click.Group:
    @click.group()
    def tradepay() -> None:
        """The host's command line, as far as these tests need it."""

    provider.add_cli_commands(cli=tradepay)
    return tradepay


@pytest.fixture
def run(provider: AgreementProvider) -> Callable[..., Result]:
    """``run("sign", "alice", ...)``: run ``tradepay agreement ...`` and return click's result."""
    cli = command_line(provider)

    def invoke(*args: str) -> Result:
        return CliRunner().invoke(cli, ["agreement", *args])

    return invoke


def assert_refused(result: Result, *fragments: str, exit_code: int = 2) -> None:
    assert result.exit_code == exit_code, result.output
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in result.output


def test_sign_prints_only_the_agreement_id(run: Callable[..., Result], store: AgreementStore) -> None:
    result = run(
        "sign", "alice", "shop", "--currency", "USD", "--per-payment-limit", "500", "--cumulative-limit", "2000",
        "--count-limit", "3", "--expires-in", "3600",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    [agreement] = store.agreements()
    assert result.stdout == f"{agreement.agreement_id}\n"
    assert agreement.status is AgreementStatus.PENDING
    assert (agreement.per_payment_limit, agreement.cumulative_limit, agreement.count_limit) == (500, 2000, 3)
    assert agreement.expires_at is not None
    assert agreement.expires_at - agreement.signed_at == 3600


def test_activate_and_revoke(run: Callable[..., Result], store: AgreementStore) -> None:
    agreement_id = run("sign", "alice", "shop", "--currency", "USD").stdout.strip()

    activated = run("activate", agreement_id)
    revoked = run("revoke", agreement_id)

    assert (activated.exit_code, activated.stdout) == (0, f"{agreement_id} active\n")
    assert (revoked.exit_code, revoked.stdout) == (0, f"{agreement_id} revoked\n")
    assert store.get(agreement_id).status is AgreementStatus.REVOKED


@pytest.mark.parametrize(
    ("steps", "command", "message"),
    [
        (["activate"], "activate", "it is active (only pending agreements can be)"),
        (["revoke"], "activate", "it is revoked (only pending agreements can be)"),
        (["revoke"], "revoke", "it is revoked (only active or pending agreements can be)"),
    ],
)
def test_an_illegal_transition_is_a_clear_error(
    run: Callable[..., Result], store: AgreementStore, steps: list[str], command: str, message: str
) -> None:
    agreement_id = run("sign", "alice", "shop", "--currency", "USD").stdout.strip()
    for step in steps:
        run(step, agreement_id)
    before = store.get(agreement_id)

    result = run(command, agreement_id)

    assert_refused(result, f"Error: cannot {command} agreement {agreement_id}: {message}")
    assert store.get(agreement_id) == before


def test_an_expired_agreement_cannot_be_activated(
    run: Callable[..., Result], clock: FakeClock, store: AgreementStore
) -> None:
    agreement_id = run("sign", "alice", "shop", "--currency", "USD", "--expires-in", "60").stdout.strip()
    clock.advance(60)

    assert_refused(run("activate", agreement_id), "it is expired")
    assert_refused(run("revoke", agreement_id), "it is expired")
    assert store.get(agreement_id).status is AgreementStatus.EXPIRED


@pytest.mark.parametrize("agreement_id", ["agr_0000000000000000", "'; DELETE FROM agreements; --"])
@pytest.mark.parametrize("command", ["activate", "revoke"])
def test_an_unknown_agreement_names_the_argument(
    run: Callable[..., Result], store: AgreementStore, command: str, agreement_id: str
) -> None:
    run("sign", "alice", "shop", "--currency", "USD")

    assert_refused(run(command, agreement_id), "Invalid value for 'AGREEMENT_ID': no agreement")
    assert len(store.agreements()) == 1


def test_signing_over_a_live_agreement_is_refused(run: Callable[..., Result], store: AgreementStore) -> None:
    first = run("sign", "alice", "shop", "--currency", "USD").stdout.strip()

    assert_refused(run("sign", "alice", "shop", "--currency", "USD"), first, "revoke it")
    assert len(store.agreements()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["", "shop", "--currency", "USD"], "'PAYER'"),
        (["alice'; DROP TABLE agreements; --", "shop", "--currency", "USD"], "'PAYER'"),
        (["ålice", "shop", "--currency", "USD"], "'PAYER'"),
        (["a" * 65, "shop", "--currency", "USD"], "'PAYER'"),
        (["alice", "shop shop", "--currency", "USD"], "'MERCHANT'"),
        (["alice", "shop", "--currency", "usd"], "'--currency'"),
        (["alice", "shop", "--currency", ""], "'--currency'"),
        (["alice", "shop"], "Missing option '--currency'"),
        (["alice", "--currency", "USD"], "Missing argument 'MERCHANT'"),
        (["alice", "shop", "--currency", "USD", "--per-payment-limit", "0"], "'--per-payment-limit'"),
        (["alice", "shop", "--currency", "USD", "--per-payment-limit", "-5"], "'--per-payment-limit'"),
        (["alice", "shop", "--currency", "USD", "--per-payment-limit", "1.50"], "'--per-payment-limit'"),
        (["alice", "shop", "--currency", "USD", "--cumulative-limit", "9" * 19], "'--cumulative-limit'"),
        (["alice", "shop", "--currency", "USD", "--count-limit", "0"], "'--count-limit'"),
        (["alice", "shop", "--currency", "USD", "--count-limit", "many"], "'--count-limit'"),
        (["alice", "shop", "--currency", "USD", "--expires-in", "0"], "'--expires-in'"),
        (["alice", "shop", "--currency", "USD", "--expires-in", "-60"], "'--expires-in'"),
        (["alice", "shop", "--currency", "USD", "--expires-in", "soon"], "'--expires-in'"),
    ],
)
def test_bad_input_to_sign_names_the_argument_and_stores_nothing(
    run: Callable[..., Result], store: AgreementStore, args: list[str], fragment: str
) -> None:
    assert_refused(run("sign", *args), fragment)
    assert store.agreements() == []


def test_sign_refuses_a_currency_the_provider_does_not_pay(make_provider: Callable[..., AgreementProvider]) -> None:
    provider = make_provider(currencies=["USD", "JPY"])
    result = CliRunner().invoke(command_line(provider), ["agreement", "sign", "alice", "shop", "--currency", "EUR"])

    assert_refused(result, "'--currency'", "pays only in JPY, USD")
    assert provider.store.agreements() == []


def test_list_shows_usage_and_only_the_last_four_of_the_token(
    run: Callable[..., Result], provider: AgreementProvider, store: AgreementStore
) -> None:
    first = run("sign", "alice", "shop", "--currency", "USD", "--count-limit", "5").stdout.strip()
    run("activate", first)
    second = run("sign", "bob", "shop", "--currency", "JPY").stdout.strip()
    for number, value in enumerate(["250", "100"]):
        order = Order(f"T{number}", PaymentAmount("USD", value), "shop", "alice")
        provider.pay(order=order, attempt=Attempt(f"p{number}", 1, "agreement", f"p{number}-1"))
    tokens = {a.agreement_id: a.access_token for a in store.agreements()}

    table = run("list")

    assert table.exit_code == 0, table.output
    header, alice, bob = table.stdout.splitlines()
    assert header.split() == [
        "AGREEMENT", "PAYER", "MERCHANT", "STATUS", "CURRENCY", "PER-PAYMENT", "CUMULATIVE", "COUNT", "USED-AMOUNT",
        "USED-COUNT", "TOKEN", "EXPIRES", "(UTC)",
    ]  # fmt: skip
    assert alice.split() == [first, "alice", "shop", "active", "USD", "-", "-", "5", "USD", "3.50", "2",
                             "****" + tokens[first][-4:], "-"]  # fmt: skip
    assert bob.split()[:5] == [second, "bob", "shop", "pending", "JPY"]
    for token in tokens.values():
        assert token not in table.output
        assert token[:-4] not in table.output


def test_list_json_and_payer_filter(run: Callable[..., Result], store: AgreementStore, clock: FakeClock) -> None:
    alice = run("sign", "alice", "shop", "--currency", "USD", "--expires-in", "60").stdout.strip()
    run("sign", "bob", "shop", "--currency", "USD")
    clock.advance(60)

    result = run("list", "alice", "--json")

    assert result.exit_code == 0, result.output
    [shown] = json.loads(result.stdout)
    token = store.get(alice).access_token
    assert shown == {
        "agreementId": alice,
        "payerId": "alice",
        "merchantId": "shop",
        "scope": "AGREEMENT_PAY",
        "currency": "USD",
        "status": "expired",
        "perPaymentLimit": None,
        "cumulativeLimit": None,
        "countLimit": None,
        "usedAmount": {"currency": "USD", "value": "0"},
        "usedCount": 0,
        "tokenLast4": token[-4:],
        "signedAt": "2027-01-15T08:00:00.000Z",
        "expiresAt": "2027-01-15T08:01:00.000Z",
    }
    assert token not in result.output


def test_list_of_nothing(run: Callable[..., Result]) -> None:
    assert run("list").stdout == "no agreements\n"
    assert run("list", "carol").stdout == "no agreements for payer carol\n"
    assert json.loads(run("list", "--json").stdout) == []


def test_list_shows_limits_in_major_units_and_json_as_amounts(run: Callable[..., Result]) -> None:
    run("sign", "alice", "shop", "--currency", "USD", "--per-payment-limit", "500", "--cumulative-limit", "2000")

    [row] = run("list").stdout.splitlines()[1:]
    [shown] = json.loads(run("list", "--json").stdout)

    assert row.split()[4:10] == ["USD", "USD", "5.00", "USD", "20.00", "-"]
    assert shown["perPaymentLimit"] == {"currency": "USD", "value": "500"}
    assert shown["cumulativeLimit"] == {"currency": "USD", "value": "2000"}
