"""Log events carry the payment's fields; card data never reaches a rendered line."""

from __future__ import annotations

import contextvars
import io
import json
import pickle
from typing import Any

import pytest
import structlog

from tradepay import CardNumber, CardSecret, configure_logging, mask_card_number, redact_card_numbers
from tradepay.testing import ReferenceProvider

PAN = "4242424242424242"


@pytest.fixture
def json_log() -> Any:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="json", level="debug", stream=stream, cache=False)
    yield stream
    structlog.configure(**saved)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_payment_events_carry_payment_app_provider_attempt_result_and_duration(
    bench_factory: Any, json_log: io.StringIO
) -> None:
    bench = bench_factory(a=ReferenceProvider(script=["decline"]), b=ReferenceProvider())
    result = bench.pay()
    events = {e["event"]: e for e in lines(json_log)}
    finished = events["payment.finished"]
    assert finished["payment_id"] == result.extended_info["paymentId"]
    assert finished["app_id"] == "2021000000000001"
    assert finished["provider"] == "b"
    assert finished["attempt"] == 2
    assert finished["result"] == "9000"
    assert finished["duration_ms"] >= 0
    attempts = [e for e in lines(json_log) if e["event"] == "attempt.finished"]
    assert [(e["provider"], e["attempt"], e["result"], e["rule"]) for e in attempts] == [
        ("a", 1, "4000", "app-service-error"),
        ("b", 2, "9000", "success"),
    ]
    assert all(e["payment_id"] == finished["payment_id"] and "duration_ms" in e for e in attempts)


def test_card_numbers_are_masked_and_secrets_dropped_everywhere(json_log: io.StringIO) -> None:
    log = structlog.get_logger("test")
    log.info(
        "card.added",
        number=PAN,
        cvc="123",
        note=f"card {PAN} and 5555-5555-5555-4444 and 4000 0000 0000 0002",
        nested={"pin": "0000", "list": [PAN]},
        secret_card=CardNumber(PAN),
        code=CardSecret("987"),
    )
    try:
        raise ValueError(f"declined card {PAN} cvc 123")
    except ValueError:
        log.exception("card.failed")
    text = json_log.getvalue()
    # Short secrets are looked for as whole JSON values: bare digits may occur in any timestamp.
    for secret in (PAN, "5555555555554444", "5555-5555-5555-4444", "4000 0000 0000 0002", '"123"', '"0000"', '"987"'):
        assert secret not in text, secret
    event = lines(json_log)[0]
    assert event["number"] == "424242******4242"
    assert event["cvc"] == "***"
    assert event["nested"] == {"pin": "***", "list": ["424242******4242"]}
    assert event["secret_card"] == "424242******4242"
    assert "424242******4242" in json.dumps(lines(json_log)[1])


def test_redaction_runs_after_the_context_is_merged(json_log: io.StringIO) -> None:
    def handle_request() -> None:
        structlog.contextvars.bind_contextvars(request_card=PAN, security_code="321")
        structlog.get_logger("test").info("request.handled")

    contextvars.copy_context().run(handle_request)
    event = lines(json_log)[0]
    assert event["request_card"] == "424242******4242"
    assert event["security_code"] == "***"
    assert list(event)[-1] == "timestamp"  # stamped after the redaction, which need not read it


def test_rendered_tracebacks_have_no_local_variables(json_log: io.StringIO) -> None:
    def charge() -> None:
        secret_local = "local-secret-7f3a9"  # a local that must never be rendered
        raise RuntimeError(f"network down ({len(secret_local)})")

    try:
        charge()
    except RuntimeError:
        structlog.get_logger("test").exception("charge.failed")
    text = json_log.getvalue()
    assert "network down" in text
    assert "local-secret-7f3a9" not in text
    assert "locals" not in text


def test_console_output_redacts_too() -> None:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="console", level="info", stream=stream, cache=False)
    try:
        try:
            raise ValueError(f"bad card {PAN}")
        except ValueError:
            structlog.get_logger("t").exception("failed", pan=PAN, cvv="999")
    finally:
        structlog.configure(**saved)
    text = stream.getvalue()
    assert PAN not in text
    assert "cvv=999" not in text
    assert "cvv=***" in text
    assert "424242******4242" in text


def test_the_level_filters(bench_factory: Any) -> None:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="json", level="warning", stream=stream, cache=False)
    try:
        bench_factory(a=ReferenceProvider()).pay()
    finally:
        structlog.configure(**saved)
    assert stream.getvalue() == ""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4242424242424242", "424242******4242"),
        ("pay 4242 4242 4242 4242 now", "pay 424242******4242 now"),
        ("4242424242424241", "4242424242424241"),  # not Luhn-valid: an order number, left alone
        ("tel 12345", "tel 12345"),
        ("378282246310005", "378282*****0005"),
    ],
)
def test_redaction_masks_only_card_numbers(text: str, expected: str) -> None:
    assert redact_card_numbers(text) == expected


def test_card_types_mask_every_rendering() -> None:
    card, cvc = CardNumber(PAN), CardSecret("123")
    rendered = f"{card} {card!r} {cvc} {cvc!r} {[card, cvc]}"
    assert PAN not in rendered
    assert "123" not in rendered
    assert card.reveal() == PAN
    assert card.last4 == "4242"
    assert mask_card_number("4242-4242-4242-4242") == "424242******4242"
    with pytest.raises(TypeError):
        pickle.dumps(card)


@pytest.mark.parametrize("number", ["2021000000000001", "1234567812345670", "9999999999999995"])
def test_luhn_valid_ids_without_an_issuer_prefix_are_not_masked(number: str) -> None:
    assert redact_card_numbers(f"app {number}") == f"app {number}"


@pytest.mark.parametrize("number", ["2221000000000009", "5555555555554444", "6011111111111117", "3530111333300000"])
def test_every_network_prefix_is_masked(number: str) -> None:
    assert number not in redact_card_numbers(number)
