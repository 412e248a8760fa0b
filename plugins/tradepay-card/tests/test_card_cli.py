"""``tradepay card add|list|remove`` through click's CliRunner, on a group with the provider's commands added."""

from __future__ import annotations

import json

import click
import pytest
import structlog
from click.testing import CliRunner, Result

from tradepay import InvalidInput
from tradepay_card import CardProvider


@pytest.fixture
def cli(provider: CardProvider) -> click.Group:
    @click.group()
    def tradepay() -> None:
        """The host's command line, standing in for ``tradepay``."""

    provider.add_cli_commands(cli=tradepay)
    return tradepay


def _run(cli: click.Group, *args: str, stdin: str | None = None) -> Result:
    # Logs are captured apart, so that the output holds only what the command printed.
    with structlog.testing.capture_logs():
        return CliRunner().invoke(cli, list(args), input=stdin)


def test_add_list_remove(cli: click.Group, provider: CardProvider) -> None:
    added = _run(cli, "card", "add", "alice", "4242 4242 4242 4242", "--exp", "12/30", "--cvc", "123")
    assert added.exit_code == 0, added.output
    token = provider.cards("alice")[0].token
    assert added.output == f"added Visa **** 4242 exp 12/30 for alice as {token} (default card)\n"

    second = _run(cli, "card", "add", "alice", "378282246310005", "--exp", "01/31", "--cvc", "1234", "--json")
    assert second.exit_code == 0, second.output
    amex = json.loads(second.output)
    assert amex == {
        "token": amex["token"],
        "payer": "alice",
        "brand": "American Express",
        "last4": "0005",
        "expiry": "01/31",
        "scenario": "success",
        "default": True,
    }

    listed = _run(cli, "card", "list", "alice")
    assert listed.exit_code == 0
    assert listed.output.splitlines() == [
        f"{amex['token']}  American Express **** 0005 exp 01/31  scenario success  (default)",
        f"{token}  Visa **** 4242 exp 12/30  scenario success",
    ]

    removed = _run(cli, "card", "remove", "alice", amex["token"])
    assert removed.exit_code == 0
    assert removed.output == f"removed {amex['token']} for alice\n"
    as_json = json.loads(_run(cli, "card", "list", "alice", "--json").output)
    assert as_json == {
        "payer": "alice",
        "cards": [
            {
                "token": token,
                "payer": "alice",
                "brand": "Visa",
                "last4": "4242",
                "expiry": "12/30",
                "scenario": "success",
                "default": True,
            }
        ],
    }


def test_list_without_cards(cli: click.Group) -> None:
    assert _run(cli, "card", "list", "bob").output == "bob has no card on file\n"
    assert json.loads(_run(cli, "card", "list", "bob", "--json").output) == {"payer": "bob", "cards": []}


def test_the_cvc_is_prompted_for_when_left_out(cli: click.Group, provider: CardProvider) -> None:
    result = _run(cli, "card", "add", "alice", "5555555555554444", "--exp", "12/30", stdin="123\n")
    assert result.exit_code == 0, result.output
    assert "123" not in result.output  # hidden input is not echoed
    assert provider.cards("alice")[0].last4 == "4444"


def test_the_scenario_is_listed(cli: click.Group) -> None:
    _run(cli, "card", "add", "alice", "4000000000009995", "--exp", "12/30", "--cvc", "123")
    assert "scenario insufficient_funds  (default)" in _run(cli, "card", "list", "alice").output


VISA = ["4242424242424242", "--exp", "12/30", "--cvc", "123"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["add", "alice", "4242424242424241", "--exp", "12/30"], "Invalid value for 'NUMBER': fails the Luhn check"),
        (["add", "alice", "36227206271667", "--exp", "12/30"], "Invalid value for 'NUMBER': brand not accepted"),
        (["add", "alice", "4242424242424242", "--exp", "13/30"], "Invalid value for '--exp': month must be between"),
        (["add", "alice", "4242424242424242", "--exp", "01/20"], "Invalid value for '--exp': the card expired (01/20)"),
        (["add", "alice", "378282246310005", "--exp", "12/30"], "Invalid value for '--cvc': must be 4 digits for Amer"),
        (["add", "al ice", *VISA], "Invalid value for 'PAYER': may hold only letters"),
        (["add", "", *VISA], "Invalid value for 'PAYER': must not be empty"),
        (["add", "alice", "4242424242424242", "--cvc", "123"], "Missing option '--exp'"),
        (["list", "x" * 65], "Invalid value for 'PAYER': is longer than 64 characters"),
        (["list", "bob'; DROP TABLE cards; --"], "Invalid value for 'PAYER': may hold only letters"),
        (["remove", "alice", "card_nope"], "Invalid value for 'TOKEN': payer 'alice' has no active card with this"),
    ],
)
def test_bad_input_is_one_clear_line(cli: click.Group, provider: CardProvider, args: list[str], message: str) -> None:
    result = _run(cli, "card", *args, stdin="123\n")  # the CVC, where it is prompted for
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output
    assert "4242424242424241" not in result.output
    assert "4242424242424242" not in result.output
    assert provider.cards("alice") == []


@pytest.mark.parametrize(
    "args",
    [
        ["4000000000000069", "4242424242424242"],  # both numbers: the first used to be stored as the payer
        ["4242 4242 4242 4242", "alice"],
        ["4000.0000.0000.0069", "4242424242424242"],
    ],
)
def test_add_with_its_arguments_swapped_stores_nothing_and_shows_no_number(
    cli: click.Group, provider: CardProvider, args: list[str]
) -> None:
    result = _run(cli, "card", "add", *args, "--exp", "12/30", "--cvc", "123")
    assert result.exit_code == 2
    assert "Invalid value for 'PAYER': looks like a card number" in result.output
    assert "give the payer first, then NUMBER" in result.output
    for number in ("4000000000000069", "4242424242424242", "0000.0069", "4242 4242"):
        assert number not in result.output
    for payer in ("4000000000000069", "4242424242424242", "4000.0000.0000.0069", "4242 4242 4242 4242"):
        with pytest.raises(InvalidInput):
            provider.cards(payer)
    assert provider.cards("alice") == []


def test_list_refuses_a_card_number_for_the_payer_without_showing_it(cli: click.Group) -> None:
    result = _run(cli, "card", "list", "4242-4242-4242-4242")
    assert result.exit_code == 2
    assert "Invalid value for 'PAYER': looks like a card number" in result.output
    assert "4242-4242" not in result.output
