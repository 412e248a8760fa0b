"""Enrolment: what a card must be to go on file, and what is kept of it (never the number or the CVC)."""

from __future__ import annotations

import pytest
from card_support import TODAY, query

from tradepay import CardNumber, CardSecret, InvalidInput
from tradepay_card import Brand, CardProvider, Expiry, Scenario, check_card, parse_expiry

FUTURE = Expiry(year=2030, month=12)
#: Unicode's full-width digits: str.isdigit() accepts them, a card number must not.
FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + digit) for digit in range(10)))


def _count_cards(provider: CardProvider) -> int:
    # Read apart from the provider's own connection: what is stored, not what the provider believes.
    count: int = query(provider, "SELECT count(*) FROM cards")[0][0]
    return count


@pytest.mark.parametrize(
    ("number", "brand"),
    [
        ("4242424242424242", Brand.VISA),
        ("4222222222222", Brand.VISA),  # 13 digits
        ("5555555555554444", Brand.MASTERCARD),
        ("5105105105105100", Brand.MASTERCARD),
        ("2223003122003222", Brand.MASTERCARD),
        ("2720992720992729", Brand.MASTERCARD),
        ("378282246310005", Brand.AMEX),
        ("340000000000009", Brand.AMEX),
        ("6011111111111117", Brand.DISCOVER),
        ("6500000000000002", Brand.DISCOVER),
        ("3566002020360505", Brand.JCB),
        ("3528000000000007", Brand.JCB),
        ("3589000000000003", Brand.JCB),
        ("6200000000000005", Brand.UNIONPAY),
        ("6200000000000000000", Brand.UNIONPAY),  # 19 digits
    ],
)
def test_accepted_brands(number: str, brand: Brand) -> None:
    cvc = CardSecret("1234" if brand is Brand.AMEX else "123")
    details = check_card(CardNumber(number), FUTURE, cvc, today=TODAY)
    assert details.brand is brand
    assert details.last4 == number[-4:]
    assert details.scenario is Scenario.SUCCESS


@pytest.mark.parametrize(
    "number",
    [
        "36227206271667",  # Diners Club
        "2220990000000002",  # just below the Mastercard 2-series
        "2721000000000004",  # just above it
        "3527000000000008",  # just below JCB
        "3590000000000000",  # just above JCB
        "6010000000000005",  # 601x other than 6011
        "1111111111111117",
        "9000000000000001",
    ],
)
def test_other_brands_are_refused(number: str) -> None:
    with pytest.raises(InvalidInput, match=r"^card number: brand not accepted \(accepted: Visa, Mastercard, "):
        check_card(CardNumber(number), FUTURE, CardSecret("123"), today=TODAY)


@pytest.mark.parametrize(
    ("number", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("4242424242424241", "fails the Luhn check"),
        ("4242 4242 4242 4241", "fails the Luhn check"),
        ("424242424242", "must have 13 to 19 digits"),
        ("42424242424242424242", "must have 13 to 19 digits"),
        ("4" * 10_000, "must have 13 to 19 digits"),
        ("4242_4242_4242_4242", "may hold only digits, grouped by single spaces or dashes"),
        ("4242--4242-4242-4242", "may hold only digits, grouped by single spaces or dashes"),
        ("-4242424242424242", "may hold only digits, grouped by single spaces or dashes"),
        ("4242.4242.4242.4242", "may hold only digits, grouped by single spaces or dashes"),
        ("4242424242424242".translate(FULLWIDTH), "may hold only digits, grouped by single spaces or dashes"),
        ("4242424242424242'; DROP TABLE cards; --", "may hold only digits, grouped by single spaces or dashes"),
    ],
)
def test_bad_numbers_are_refused_without_echoing_them(provider: CardProvider, number: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        provider.add_card("alice", CardNumber(number), "12/30", CardSecret("123"))
    assert caught.value.field == "card number"
    assert str(caught.value) == f"card number: {message}"
    assert _count_cards(provider) == 0


def test_grouped_numbers_are_accepted(provider: CardProvider) -> None:
    spaced = provider.add_card("alice", CardNumber(" 4242 4242 4242 4242 "), "12/30", CardSecret("123"))
    dashed = provider.add_card("alice", CardNumber("5555-5555-5555-4444"), "12/30", CardSecret("123"))
    assert (spaced.brand, spaced.last4) == (Brand.VISA, "4242")
    assert (dashed.brand, dashed.last4) == (Brand.MASTERCARD, "4444")


@pytest.mark.parametrize(
    ("number", "cvc", "message"),
    [
        ("4242424242424242", "12", "must be 3 digits for Visa"),
        ("4242424242424242", "1234", "must be 3 digits for Visa"),
        ("4242424242424242", "", "must be 3 digits for Visa"),
        ("4242424242424242", "12a", "must be 3 digits for Visa"),
        ("4242424242424242", "123".translate(FULLWIDTH), "must be 3 digits for Visa"),
        ("378282246310005", "123", "must be 4 digits for American Express"),
        ("378282246310005", "12345", "must be 4 digits for American Express"),
    ],
)
def test_bad_cvcs_are_refused(provider: CardProvider, number: str, cvc: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        provider.add_card("alice", CardNumber(number), "12/30", CardSecret(cvc))
    assert str(caught.value) == f"cvc: {message}"
    assert _count_cards(provider) == 0


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("13/30", "month must be between 01 and 12"),
        ("00/30", "month must be between 01 and 12"),
        ("1/30", "must be MM/YY, for example 12/30"),
        ("12/2030", "must be MM/YY, for example 12/30"),
        ("12-30", "must be MM/YY, for example 12/30"),
        ("", "must be MM/YY, for example 12/30"),
        ("12/30".translate(FULLWIDTH), "must be MM/YY, for example 12/30"),
        ("05/26", "the card expired (05/26)"),  # TODAY is in June 2026
        ("12/25", "the card expired (12/25)"),
    ],
)
def test_bad_expiries_are_refused(provider: CardProvider, text: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        provider.add_card("alice", CardNumber("4242424242424242"), text, CardSecret("123"))
    assert str(caught.value) == f"expiry: {message}"
    assert _count_cards(provider) == 0


def test_a_card_expiring_this_month_is_still_valid(provider: CardProvider) -> None:
    card = provider.add_card("alice", CardNumber("4242424242424242"), " 06/26 ", CardSecret("123"))
    assert card.expiry == Expiry(year=2026, month=6)
    assert str(card.expiry) == "06/26"
    assert parse_expiry("01/00") == Expiry(year=2000, month=1)


@pytest.mark.parametrize(
    "payer",
    [
        "",
        "a" * 65,
        "ålice",
        "alice bob",
        "alice'; DROP TABLE cards; --",
        "al\x00ice",
        "al\ud800ice",
        42,
        None,
        b"alice",
        "4000000000000069",
        "4000.0000.0000.0069",
        "\uff14\uff10\uff10\uff10" * 4,
    ],
)
def test_bad_payer_ids_are_refused(provider: CardProvider, payer: object) -> None:
    with pytest.raises(InvalidInput) as caught:
        provider.add_card(payer, CardNumber("4242424242424242"), "12/30", CardSecret("123"))  # type: ignore[arg-type]
    assert caught.value.field == "payer"
    assert "0069" not in str(caught.value)
    assert _count_cards(provider) == 0


def test_plain_strings_are_refused_for_number_and_cvc(provider: CardProvider) -> None:
    # The number and CVC must be wrapped from the moment they enter, so a plain str is a caller's bug.
    with pytest.raises(InvalidInput, match=r"^card number: must be a tradepay.CardNumber, got str$"):
        provider.add_card("alice", "4242424242424242", "12/30", CardSecret("123"))  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^cvc: must be a tradepay.CardSecret, got str$"):
        provider.add_card("alice", CardNumber("4242424242424242"), "12/30", "123")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"^card number: must hold a string, got int$"):
        provider.add_card("alice", CardNumber(4242424242424242), "12/30", CardSecret("123"))  # type: ignore[arg-type]
    assert _count_cards(provider) == 0


def test_only_token_brand_last4_expiry_and_scenario_are_stored(provider: CardProvider) -> None:
    card = provider.add_card("alice", CardNumber("4000 0000 0000 9995"), "11/29", CardSecret("321"))
    with provider.store.database.read() as conn:
        cursor = conn.execute("SELECT * FROM cards")
        columns = [column[0] for column in cursor.description]
        row = tuple(cursor.fetchone())
    assert columns == [
        "id",
        "token",
        "payer_id",
        "brand",
        "last4",
        "exp_year",
        "exp_month",
        "scenario",
        "active",
        "added_at",
        "removed_at",
    ]
    assert row[1:9] == (card.token, "alice", "Visa", "9995", 2029, 11, "insufficient_funds", 1)
    assert card.token.startswith("card_")
    assert len(card.token) == len("card_") + 24


def test_cards_are_listed_default_first_and_removed(provider: CardProvider) -> None:
    first = provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    second = provider.add_card("alice", CardNumber("5555555555554444"), "12/30", CardSecret("123"))
    provider.add_card("bob", CardNumber("378282246310005"), "12/30", CardSecret("1234"))
    assert [c.token for c in provider.cards("alice")] == [second.token, first.token]
    provider.remove_card("alice", second.token)
    assert [c.token for c in provider.cards("alice")] == [first.token]
    with pytest.raises(InvalidInput, match=r"^token: payer 'alice' has no active card with this token$"):
        provider.remove_card("alice", second.token)  # already removed
    with pytest.raises(InvalidInput, match=r"^token: "):
        provider.remove_card("bob", first.token)  # someone else's card
    with pytest.raises(InvalidInput, match=r"^token: "):
        provider.remove_card("alice", "card_x' OR '1'='1")
    assert [c.token for c in provider.cards("alice")] == [first.token]
    assert provider.cards("nobody") == []
