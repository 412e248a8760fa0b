"""Card data is redacted however it is written and wherever it sits in an event, and no event (deep, cyclic,
huge) makes the log call fail."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import structlog
from hypothesis import given
from hypothesis import strategies as st

from tradepay import configure_logging, redact_card_data, redact_card_numbers

PAN = "4000000000000069"
MASK = "400000******0069"


@pytest.mark.parametrize(
    "written",
    [
        "4000.0000.0000.0069",
        "4000\u00a00000\u00a00000\u00a00069",  # no-break spaces
        "4000\u202f0000\u20070000\u20090069",  # narrow no-break, figure and thin spaces
        "4000\u30000000\u30000000\u30000069",  # ideographic spaces
        "".join(chr(0xFF10 + int(d)) for d in PAN),  # full-width digits
        "\uff14\uff10\uff10\uff10\uff0d\uff10\uff10\uff10\uff10-0000.0069",  # full width, mixed separators
        "4000\u200b0000\u200b0000\u200b0069",  # zero-width spaces
        "4000_0000_0000_0069",
        "4000 - 0000 - 0000 - 0069",
        "4000\t0000\n0000 0069",
        "4000\u20130000\u20130000\u20130069",  # en dashes
        repr("4000\u00a00000\u00a00000\u00a00069"),  # a repr: '4000\xa00000...'
        json.dumps("4000\u202f0000\u202f0000\u202f0069"),  # JSON: "4000\u202f0000..."
        "4000000000000069 123",  # the CVC next to it
        "cvc 123 4000 0000 0000 0069",
    ],
)
def test_every_spelling_of_a_card_number_is_masked(written: str) -> None:
    redacted = redact_card_numbers(f"card: {written}; thanks")
    assert MASK in redacted
    shown = "".join(ch for ch in redacted if ch.isdecimal())
    assert shown.replace("123", "", 1) == "4000000069"  # the first six and last four, and the CVC's own digits


def test_overlapping_candidates_are_masked_as_one() -> None:
    # 5555 4000 0000 0000 is Luhn-valid too: neither number may show more than its ends.
    assert redact_card_numbers("declined 5555 4000 0000 0000 0002") == "declined 555540**********0002"


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T12:34:56.789012Z",
        "app 2021000000000001",
        "pay_9f8e7d6c5b4a3921",
        "amounts 100.00 250.00 1000.00 99.99",
        "4242424242424241",  # not Luhn-valid
        "1234 5678 9012 3456",  # no network's prefix
        "id 42424242424242421",  # inside a longer number
    ],
)
def test_what_is_not_a_card_number_is_left_as_it_is(text: str) -> None:
    assert redact_card_numbers(text) is text


_ISSUERS = st.sampled_from(["4", "51", "55", "2221", "2720", "34", "37", "6011", "65", "3530", "62"])
_SEPARATORS = st.sampled_from([" ", "-", ".", "\u00a0", "\u202f", "\u3000", "_", "\u200b", " - ", "\\xa0", ""])


def _luhn_digit(body: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return str((10 - total % 10) % 10)


@st.composite
def card_numbers(draw: st.DrawFn) -> str:
    prefix = draw(_ISSUERS)
    length = draw(st.integers(13, 19))
    body = prefix + "".join(
        draw(
            st.lists(
                st.sampled_from("0123456789"), min_size=length - len(prefix) - 1, max_size=length - len(prefix) - 1
            )
        )
    )
    return body + _luhn_digit(body)


@given(
    pan=card_numbers(),
    cuts=st.lists(st.integers(1, 18), max_size=5),
    separator=_SEPARATORS,
    full_width=st.booleans(),
    before=st.text(st.characters(categories=["L", "P", "Zs"]), max_size=20),
    after=st.text(st.characters(categories=["L", "P", "Zs"]), max_size=20),
)
def test_a_card_number_in_any_grouping_shows_at_most_its_first_six_and_last_four(
    pan: str, cuts: list[int], separator: str, full_width: bool, before: str, after: str
) -> None:
    digits = "".join(chr(0xFF10 + int(d)) for d in pan) if full_width else pan
    points = sorted({c for c in cuts if c < len(pan)})
    groups = [digits[a:b] for a, b in zip([0, *points], [*points, len(pan)], strict=True)]
    redacted = redact_card_numbers(f"{before} {separator.join(groups)} {after}")
    shown = "".join(str(int(ch)) for ch in redacted if ch.isdecimal())
    assert shown == pan[:6] + pan[-4:]


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="json", level="debug", stream=stream, cache=False)
    yield stream
    structlog.configure(**saved)


def logged(stream: io.StringIO) -> dict[str, Any]:
    (line,) = stream.getvalue().splitlines()
    event: dict[str, Any] = json.loads(line)
    return event


@pytest.mark.parametrize(
    "key",
    [
        "cvc",
        "CVV",
        "card_cvc",
        "cardCvc",
        "CardCVV2",
        "card-cvv",
        "cvc2",
        "cardcvc",
        "security_code",
        "securityCode",
        "card_security_code",
        "card_verification_value",
        "pin",
        "pin_block",
        "PINBlock",
        "track2",
        "track_2",
        "Track2Data",
        "password",
        "user_password",
        "client_secret",
    ],
)
def test_secrets_are_dropped_under_any_spelling_of_their_key(json_log: io.StringIO, key: str) -> None:
    structlog.get_logger("test").info("card.added", **{key: "123"}, nested={key: 987}, items=[{key: ["0000"]}])
    event = logged(json_log)
    assert event[key] == "***"
    assert event["nested"] == {key: "***"}
    assert event["items"] == [{key: "***"}]


@pytest.mark.parametrize("key", ["pinned", "spin", "tracking_number", "description", "attempt", "encrypted", "trace"])
def test_ordinary_keys_are_not_taken_for_secrets(json_log: io.StringIO, key: str) -> None:
    structlog.get_logger("test").info("probe", **{key: "kept"})
    assert logged(json_log)[key] == "kept"


@pytest.mark.parametrize("key", ["pan", "card_number", "cardNumber", "card_no", "number", "primary_account_number"])
def test_card_number_keys_mask_any_long_number(json_log: io.StringIO, key: str) -> None:
    structlog.get_logger("test").info("probe", **{key: "4242424242424241"}, short={key: "4242"})  # not Luhn-valid
    event = logged(json_log)
    assert event[key] == "424242******4241"
    assert event["short"] == {key: "4242"}  # the last four may be shown


@dataclass
class Card:
    pan: str
    holder: str


class Refusal(Exception):
    pass


def test_card_numbers_inside_any_value_are_masked(json_log: io.StringIO) -> None:
    structlog.get_logger("test").info(
        "probe",
        as_set={PAN, "other"},
        as_frozenset=frozenset({PAN}),
        as_tuple=(1, (PAN,)),
        as_bytes=PAN.encode(),
        as_bytearray=bytearray(f"card {PAN}".encode()),
        as_memoryview=memoryview(PAN.encode()),
        as_int=int(PAN),
        as_float=float(PAN),
        as_object=Card(PAN, "Ada"),
        as_exception=Refusal(f"declined {PAN}"),
        keyed={PAN: "value", (PAN, 1): "tuple key"},
    )
    text = json_log.getvalue()
    assert PAN not in text
    event = logged(json_log)
    assert event["as_set"] in ([MASK, "other"], ["other", MASK])
    assert event["as_frozenset"] == [MASK]
    assert event["as_tuple"] == [1, [MASK]]
    assert event["as_int"] == MASK
    assert event["as_object"] == f"Card(pan='{MASK}', holder='Ada')"
    assert event["as_exception"] == f"Refusal('declined {MASK}')"
    assert event["keyed"] == {MASK: "value", f"('{MASK}', 1)": "tuple key"}


def test_a_deep_event_is_cut_and_still_written(json_log: io.StringIO) -> None:
    deep: list[Any] = [PAN]
    for _ in range(100_000):
        deep = [deep]
    structlog.get_logger("test").info("probe", deep=deep)
    event = logged(json_log)
    level = event["deep"]
    for _ in range(31):
        level = level[0]
    assert level == ["<nested too deeply>"]


def test_a_cyclic_event_is_cut_and_still_written(json_log: io.StringIO) -> None:
    cyclic: dict[str, Any] = {"card": PAN}
    cyclic["self"] = cyclic
    loop: list[Any] = []
    loop.append(loop)
    shared = [PAN]
    structlog.get_logger("test").info("probe", cyclic=cyclic, loop=loop, shared={"a": shared, "b": shared})
    event = logged(json_log)
    assert event["cyclic"] == {"card": MASK, "self": "<cycle>"}
    assert event["loop"] == ["<cycle>"]
    assert event["shared"] == {"a": [MASK], "b": [MASK]}  # the same list twice is not a cycle


def test_values_no_renderer_could_print_are_replaced(json_log: io.StringIO) -> None:
    class Unprintable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

    structlog.get_logger("test").info("probe", huge=10**5000, odd=Unprintable())
    event = logged(json_log)
    assert event["huge"] == "<int of 16610 bits>"
    assert event["odd"] == "<Unprintable whose repr failed>"


def test_the_console_renderer_writes_deep_and_cyclic_events_too() -> None:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="console", stream=stream, cache=False)
    try:
        cyclic: list[Any] = [PAN]
        cyclic.append(cyclic)
        structlog.get_logger("test").info("probe", cyclic=cyclic, card_cvc="123")
    finally:
        structlog.configure(**saved)
    text = stream.getvalue()
    assert f"cyclic=['{MASK}', '<cycle>']" in text
    assert "card_cvc=***" in text


def test_the_processor_leaves_exc_info_to_the_exception_formatter() -> None:
    event: dict[str, Any] = {"event": "x", "exc_info": True, "note": PAN}
    assert redact_card_data(None, "error", event) == {"event": "x", "exc_info": True, "note": MASK}


def test_ordinary_values_are_passed_through_untouched() -> None:
    status = object()
    event: dict[str, Any] = {
        "event": "payment.finished",
        "payment_id": "pay_9f8e7d6c5b4a3921",
        "app_id": "2021000000000001",
        "attempt": 2,
        "duration_ms": 12.5,
        "provider": None,
        "ok": True,
    }
    before = dict(event)
    assert redact_card_data(None, "info", event) == before
    assert all(event[k] is before[k] for k in before)
    assert status is not None
