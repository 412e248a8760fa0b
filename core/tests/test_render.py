"""The command line's one way of printing: amounts, times, tables, text from outside, JSON."""

from __future__ import annotations

import io
import json
from typing import Literal

import pytest
import structlog

from tradepay import (
    InvalidInput,
    PaymentAmount,
    configure_logging,
    echo_json,
    echo_text,
    format_amount,
    format_table,
    format_time,
    json_amount,
    json_time,
    printable,
)


@pytest.mark.parametrize(
    ("currency", "minor_units", "shown"),
    [
        ("USD", 2500, "USD 25.00"),
        ("USD", "2500", "USD 25.00"),
        ("USD", 5, "USD 0.05"),
        ("USD", 0, "USD 0.00"),
        ("USD", -150, "USD -1.50"),
        ("JPY", 2500, "JPY 2500"),
        ("KWD", 2500, "KWD 2.500"),
        ("UYW", 1, "UYW 0.0001"),
    ],
)
def test_an_amount_is_shown_in_major_units_with_the_code_once(currency: str, minor_units: int, shown: str) -> None:
    assert format_amount(currency, minor_units) == shown


def test_payment_amount_prints_through_the_same_formatter() -> None:
    assert str(PaymentAmount("USD", "3750")) == format_amount("USD", 3750) == "USD 37.50"


def test_an_unknown_currency_is_refused_naming_it() -> None:
    with pytest.raises(InvalidInput, match="'XYZ' is not an ISO 4217 currency code"):
        format_amount("XYZ", 1)


def test_an_amount_for_a_program_is_the_spis_payment_amount() -> None:
    assert json_amount("USD", 2500) == {"currency": "USD", "value": "2500"}
    assert json_amount("USD", "0") == {"currency": "USD", "value": "0"}


def test_times_say_their_time_zone() -> None:
    assert format_time(0) == "1970-01-01 00:00:00 UTC"
    assert json_time(1_800_000_000.1234) == "2027-01-15T08:00:00.123Z"
    assert json_time(None) is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("paid from wallet balance", "paid from wallet balance"),
        ("two\nlines", "two\nlines"),
        ("\x1b]0;owned\x07", "\\x1b]0;owned\\x07"),
        ("\x1b[2J\r", "\\x1b[2J\\r"),
        ("tab\there", "tab\\there"),
        ("\x9b31m", "\\x9b31m"),  # the one-byte CSI of C1
        ("\u202egnp.exe", "\\u202egnp.exe"),  # a right-to-left override
        ("line\u2028separator", "line\\u2028separator"),
        ("café 支付 \u00a0", "café 支付 \u00a0"),  # letters of any script are text
    ],
)
def test_control_characters_are_escaped_and_text_is_kept(text: str, shown: str) -> None:
    assert printable(text) == shown


def test_echo_text_escapes(capsys: pytest.CaptureFixture[str]) -> None:
    echo_text("reason \x1b]0;owned\x07")
    echo_text("on stderr \x1b[2J", err=True)

    out, err = capsys.readouterr()
    assert (out, err) == ("reason \\x1b]0;owned\\x07\n", "on stderr \\x1b[2J\n")


def test_echo_json_is_indented_sorted_and_ascii(capsys: pytest.CaptureFixture[str]) -> None:
    data = {"b": "\x1b]0;owned\x07", "a": ["支付", None]}
    echo_json(data)

    out = capsys.readouterr().out
    assert out == json.dumps(data, indent=2, sort_keys=True) + "\n"
    assert out.isascii()
    assert "\x1b" not in out
    assert json.loads(out) == data


def test_a_table_has_its_header_and_aligned_columns() -> None:
    table = format_table(("ID", "STATUS"), [("pay_1", "succeeded"), ("pay_22", "failed\x1b[2J")])

    assert table.splitlines() == [
        "ID      STATUS",
        "pay_1   succeeded",
        "pay_22  failed\\x1b[2J",
    ]


@pytest.mark.parametrize("fmt", ["console", "json"])
def test_logged_text_carries_no_control_characters(fmt: Literal["console", "json"]) -> None:
    saved = structlog.get_config()
    stream = io.StringIO()
    try:
        configure_logging(fmt=fmt, stream=stream, cache=False)
        structlog.get_logger("tradepay").info("attempt.finished", reason="\x1b]0;owned\x07RISK")
    finally:
        structlog.configure(**saved)

    line = stream.getvalue()
    assert "\x1b" not in line
    assert "\x07" not in line
    assert "owned" in line
