"""``tradepay card add|list|remove``: cards on file, from the command line.

The card number and CVC are wrapped in :class:`tradepay.CardNumber` / :class:`tradepay.CardSecret` by their
parameter callbacks, during argument parsing, so that every later message and traceback sees a mask.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from tradepay import (
    CardNumber,
    CardSecret,
    echo_json,
    echo_records,
    echo_text,
    holds_card_number,
    json_option,
    usage_errors,
)

if TYPE_CHECKING:
    from ._provider import CardProvider
    from ._store import Card

__all__ = ["card_group"]

# The fields of the Python API that no parameter is named after (the others name theirs: usage_errors).
_PARAM_HINTS: Final = {"card number": "NUMBER"}


# Both parameters are UNPROCESSED: click's STRING type would call str() on an already wrapped value, and click
# processes a prompted value twice (once in the prompt, once after), so each callback must also wrap only once.


def _card_number(ctx: click.Context, param: click.Parameter, value: str | CardNumber) -> CardNumber:
    """Wrap the NUMBER argument as soon as click has read it."""
    return value if isinstance(value, CardNumber) else CardNumber(value)


def _card_secret(ctx: click.Context, param: click.Parameter, value: str | CardSecret) -> CardSecret:
    """Wrap the --cvc option (given or prompted for) as soon as click has read it."""
    return value if isinstance(value, CardSecret) else CardSecret(value)


def card_group(provider: CardProvider) -> click.Group:
    """The ``card`` command group, bound to ``provider`` (and so to its store)."""

    @click.group(name="card")
    def card() -> None:
        """Cards on file, charged through the mock card network."""

    @card.command(name="add")
    @click.argument("payer")
    @click.argument("number", type=click.UNPROCESSED, callback=_card_number)
    @click.option("--exp", "expiry", required=True, metavar="MM/YY", help="Expiry month, for example 12/30.")
    @click.option(
        "--cvc",
        type=click.UNPROCESSED,
        callback=_card_secret,
        metavar="CVC",
        prompt="CVC",
        hide_input=True,
        help="The 3-digit (Amex: 4-digit) code; prompted for, hidden, when left out. Checked, never stored.",
    )
    @json_option("Print the card as JSON.")
    def add(payer: str, number: CardNumber, expiry: str, cvc: CardSecret, as_json: bool) -> None:
        """Put a card on file for PAYER; it becomes the payer's default card."""
        if holds_card_number(payer):  # the two arguments swapped: say so, and never show the number
            raise click.BadParameter(
                "looks like a card number, which is never stored as a payer: give the payer first, then NUMBER",
                param_hint=["PAYER"],
            )
        with usage_errors(_PARAM_HINTS):
            added = provider.add_card(payer, number, expiry, cvc)
        if as_json:
            echo_json({**added.to_dict(), "default": True})
        else:
            echo_text(f"added {_describe(added)} for {payer} as {added.token} (default card)")

    @card.command(name="list")
    @click.argument("payer")
    @json_option("Print the cards as JSON.")
    def list_(payer: str, as_json: bool) -> None:
        """List PAYER's cards on file, the default card (the most recently added) first."""
        with usage_errors(_PARAM_HINTS):
            cards = list(enumerate(provider.cards(payer)))  # the first one is the default card
        echo_records(
            cards,
            as_json=as_json,
            to_json=lambda listed: {**listed[1].to_dict(), "default": listed[0] == 0},
            line=_listed,
            empty=f"{payer} has no card on file",
            envelope=lambda rows: {"payer": payer, "cards": rows},
        )

    @card.command(name="remove")
    @click.argument("payer")
    @click.argument("token")
    def remove(payer: str, token: str) -> None:
        """Remove PAYER's card TOKEN; the next most recently added card becomes the default."""
        with usage_errors(_PARAM_HINTS):
            provider.remove_card(payer, token)
        echo_text(f"removed {token} for {payer}")

    return card


def _describe(card: Card) -> str:
    return f"{card.brand.value} **** {card.last4} exp {card.expiry}"


def _listed(listed: tuple[int, Card]) -> str:
    number, card = listed
    default = "  (default)" if number == 0 else ""
    return f"{card.token}  {_describe(card)}  scenario {card.scenario.value}{default}"
