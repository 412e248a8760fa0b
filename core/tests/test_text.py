"""Text the ledger can store, identifiers that cannot hold a card number, and messages that never echo whole
inputs: the rules themselves, and every public model's text fields applying them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradepay import (
    APIContext,
    Config,
    ConfigError,
    InvalidInput,
    MemoryLedger,
    MiniProgramMetaData,
    Order,
    OrderStatus,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    check_identifier,
    check_text,
    echo_value,
    holds_card_number,
)

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:
    from core.tests.nasty_text import CARD_NUMBERS, CARD_TEXTS, NOT_CARD_IDENTIFIERS, TEXT_FIELDS, result_with
else:
    from nasty_text import CARD_NUMBERS, CARD_TEXTS, NOT_CARD_IDENTIFIERS, TEXT_FIELDS, result_with

USD = PaymentAmount("USD", "100")


def digits_of(text: str) -> str:
    return "".join(str(int(ch)) for ch in text if ch.isdecimal())


def assert_safe_message(message: str, *, secret: str | None = None) -> None:
    """A message that is short, printable (nothing a terminal obeys), encodable, and shows no card number."""
    assert len(message) <= 1024
    assert message.isprintable()
    message.encode("utf-8")
    assert not holds_card_number(message), message
    if secret is not None:
        assert digits_of(secret) not in digits_of(message)


# --- the card-number rule ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", CARD_TEXTS)
def test_every_spelling_of_a_card_number_is_one(text: str) -> None:
    assert holds_card_number(text)


@pytest.mark.parametrize("text", NOT_CARD_IDENTIFIERS)
def test_ids_dates_and_glued_digits_are_not_card_numbers(text: str) -> None:
    assert not holds_card_number(text)
    assert check_identifier(text, "payer_id") == text


def test_the_luhn_check_is_not_asked_for() -> None:
    # 4242 4242 4242 4241 fails the Luhn check: a mistyped card number still gives away fifteen digits.
    assert holds_card_number("4242424242424241")


# --- identifiers ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", CARD_TEXTS)
def test_an_identifier_refuses_a_card_number_without_echoing_it(text: str) -> None:
    with pytest.raises(InvalidInput, match="looks like a card number") as info:
        check_identifier(text, "payer_id")
    assert info.value.field == "payer_id"
    assert_safe_message(str(info.value), secret=text)


@pytest.mark.parametrize("field", ["trade_no", "merchant_id", "payer_id"])
@pytest.mark.parametrize("number", CARD_NUMBERS)
def test_an_order_refuses_a_card_number_in_each_identifier(field: str, number: str) -> None:
    values = {"trade_no": "T1", "merchant_id": "shop-1", "payer_id": "alice", field: f"{number[:4]}.{number[4:]}"}
    with pytest.raises(InvalidInput, match="looks like a card number") as info:
        Order(values["trade_no"], USD, values["merchant_id"], values["payer_id"])
    assert info.value.field == field
    assert_safe_message(str(info.value), secret=number)


def test_the_ledger_stores_no_order_whose_payer_is_a_card_number() -> None:
    ledger = MemoryLedger()
    with pytest.raises(InvalidInput) as info:
        ledger.create_order(USD, merchant_id="shop-1", payer_id="4000.0000.0000.0069", trade_no="T1")
    assert info.value.field == "payer_id"
    assert ledger.get_order("T1") is None


def test_an_order_string_naming_a_card_number_is_refused_without_echoing_it() -> None:
    ledger = MemoryLedger(merchant_secrets={"shop-1": "a-long-secret-for-shop-1"})
    request = PaymentRequest(PaymentType.ORDER_STRING, "merchantId=4242-4242-4242-4242&tradeNO=T1&sign=00")
    with pytest.raises(InvalidInput) as info:
        ledger.resolve_order(request, APIContext("miniprogram"))
    assert info.value.field == "payment_string.merchantId"
    assert_safe_message(str(info.value), secret="4242424242424242")


def test_the_configuration_refuses_a_merchant_named_by_a_card_number() -> None:
    raw = {"chain": {"providers": ["wallet"]}, "merchants": {"4242 4242 4242 4242": {"secret": "s" * 32}}}
    with pytest.raises(ConfigError, match="looks like a card number") as info:
        Config.from_mapping(raw)
    assert_safe_message(str(info.value), secret="4242424242424242")


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "must be a string"),
        ("", "must not be empty"),
        ("T" * 65, "longer than 64"),
        ("T 1", "may hold only"),
        ("T\u00e91", "may hold only"),
        ("\ud800", "may hold only"),
        ("T\x001", "may hold only"),
    ],
)
def test_an_identifier_is_short_plain_text(value: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=reason) as info:
        check_identifier(value, "trade_no")
    assert info.value.field == "trade_no"


# --- storable text: every text field of every public model ------------------------------------------------------


@pytest.mark.parametrize(("field", "build"), TEXT_FIELDS, ids=[f"{i}-{f}" for i, (f, _b) in enumerate(TEXT_FIELDS)])
@pytest.mark.parametrize("text", ["\ud800", "a\udfffb", "T\x001", "x" * 5000], ids=["surrogate", "pair", "nul", "huge"])
def test_every_text_field_refuses_what_the_ledger_cannot_store(
    field: str, build: Callable[[str], object], text: str
) -> None:
    with pytest.raises(InvalidInput) as info:
        build(text)
    assert info.value.field == field
    assert_safe_message(str(info.value))


def test_the_refusal_says_where_the_bad_character_is_without_quoting_it() -> None:
    with pytest.raises(InvalidInput) as info:
        MiniProgramMetaData(app_id="2021\ud800")
    assert str(info.value) == (
        "mini_program_info.app_id: must not contain lone surrogates (text that is not valid Unicode);"
        " the first is at character 4"
    )


@pytest.mark.parametrize("text", ["\U0001f4b3 paid", "e\u0301", "\u202eRTL", "\uffff", "\U0010ffff", "'; DROP --"])
def test_unicode_the_ledger_can_store_is_accepted(text: str) -> None:
    assert check_text(text, "result_message") == text
    assert result_with(result_message=text).result_message == text


# --- echoed values ----------------------------------------------------------------------------------------------


def test_an_echo_is_short_and_says_how_long_the_value_was() -> None:
    shown = echo_value("x" * 1_000_000)
    assert shown == f"{'x' * 40!r}... (1000000 characters)"


@pytest.mark.parametrize("text", CARD_TEXTS)
def test_an_echo_masks_every_spelling_of_a_card_number(text: str) -> None:
    assert_safe_message(echo_value(text), secret=text)
    assert_safe_message(echo_value(f"{'x' * 30} {text}"), secret=text)  # straddling the cut


def test_an_echo_escapes_what_a_terminal_would_obey() -> None:
    assert echo_value("\x1b]0;owned\x07") == "'\\x1b]0;owned\\x07'"
    assert echo_value("a\ud800") == "'a\\ud800'"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (7, "7"),
        (4242424242424242, "424242******4242"),
        (10**5000, "an integer of 16610 bits"),
        (1.5, "1.5"),
        (None, "None"),
        (True, "True"),
        (b"4242424242424242", "a value of type bytes"),
        (["x"] * 10**6, "a value of type list"),
    ],
    ids=["int", "card-int", "huge-int", "float", "none", "bool", "bytes", "list"],
)
def test_an_echo_of_anything_else_is_bounded(value: object, shown: str) -> None:
    assert echo_value(value) == shown


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda value: PaymentRequest(value, "T1"), "type"),
        (lambda value: PaymentResult(value), "result_code"),
        (lambda value: Order("T1", USD, "shop-1", "alice", status=value), "status"),
        (lambda value: PaymentRequest(PaymentType.ORDER_ID, "T1", extended_info={value: 5}), None),  # type: ignore[dict-item]
    ],
    ids=["type", "result_code", "status", "extended_info"],
)
@pytest.mark.parametrize(
    "value", ["x" * 1_000_000, "4242 4242 4242 4242", "\x1b[2J\x1b]0;owned\x07"], ids=["huge", "card", "terminal"]
)
def test_a_refusal_never_echoes_a_whole_value(build: Callable[[object], object], field: str | None, value: str) -> None:
    with pytest.raises(InvalidInput) as info:
        build(value)
    if field is not None:
        assert info.value.field == field
    assert len(str(info.value)) < 200
    assert_safe_message(str(info.value), secret=value if "4242" in value else None)


def test_an_order_status_outside_the_enum_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="status: 'bogus' is not one of 'open', 'paid', 'closed'") as info:
        Order("T1", USD, "shop-1", "alice", status="bogus")  # type: ignore[arg-type]
    assert info.value.field == "status"
    assert Order("T1", USD, "shop-1", "alice", status="paid").status is OrderStatus.PAID  # type: ignore[arg-type]


@pytest.mark.parametrize("error", [InvalidInput, ConfigError])
def test_an_error_is_safe_to_print_whatever_its_raiser_put_in_it(error: type[InvalidInput | ConfigError]) -> None:
    raised = error("x" * 10_000, f"{'y' * 10**6} 4242.4242.4242.4242 \x1b]0;owned\x07")
    assert len(str(raised)) <= 1024
    assert_safe_message(str(raised), secret="4242424242424242")
    # The pieces too: a caller that re-raises with ``exc.reason`` stays safe.
    assert_safe_message(raised.reason)
    assert len(raised.reason) <= 600
