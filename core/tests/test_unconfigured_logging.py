"""A program that uses the library without configuring logging: nothing on standard output, and whatever
reaches the standard library's ``logging`` is redacted (structlog's recommended integration for libraries)."""

from __future__ import annotations

import contextvars
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import structlog

import tradepay
import tradepay._logging
from tradepay import get_logger

PAN = "4242424242424242"

PROGRAM = """
import logging, sys
{setup}
import tradepay
from tradepay import PaymentAmount, PaymentRequest, PaymentType, hookimpl
from tradepay.testing import ReferenceProvider, build_service, sample_context


class Observer:
    @hookimpl
    def payment_finished(self):
        raise ValueError("the observer saw card 4242 4242 4242 4242")


with build_service({{"a": ReferenceProvider()}}, plugins={{"observer": Observer()}}) as service:
    order = service.host.ledger.create_order(PaymentAmount("USD", "100"), merchant_id="shop-1", payer_id="alice")
    result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
    assert result.result_code.value == "9000", result
tradepay.get_logger("tradepay").warning("probe", note="card 4000.0000.0000.0069", card_cvc="123")
"""
STDLIB_TEXT = "logging.basicConfig(level=logging.INFO, stream=sys.stderr, format='%(levelname)s %(name)s %(message)s')"
STDLIB_JSON = """
import structlog
handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(structlog.stdlib.ProcessorFormatter(processors=[
    structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()]))
logging.getLogger().addHandler(handler)
logging.getLogger().setLevel(logging.INFO)
"""


def run(setup: str) -> subprocess.CompletedProcess[str]:
    program = PROGRAM.format(setup=textwrap.dedent(setup))
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done


def test_a_program_that_configures_nothing_prints_nothing() -> None:
    done = run("")
    assert done.stdout == ""
    assert done.stderr == ""


def test_with_stdlib_logging_configured_the_events_arrive_redacted() -> None:
    done = run(STDLIB_TEXT)
    assert done.stdout == ""
    err = done.stderr
    assert "INFO tradepay attempt.finished payment_id='pay_" in err
    assert "INFO tradepay payment.finished" in err
    assert "ERROR tradepay observer.failed hook='payment_finished' plugin='observer'" in err
    assert "ValueError: the observer saw card 424242******4242" in err  # the traceback, redacted
    assert "WARNING tradepay probe note='card 400000******0069' card_cvc='***'" in err
    for secret in ("4242 4242 4242 4242", "4000.0000.0000.0069", "'123'"):
        assert secret not in err


def test_structlogs_processor_formatter_gets_the_events_as_mappings() -> None:
    done = run(STDLIB_JSON)
    assert done.stdout == ""
    events = [json.loads(line) for line in done.stderr.splitlines()]
    finished = next(e for e in events if e["event"] == "payment.finished")
    assert finished["level"] == "info"
    assert finished["logger"] == "tradepay"
    assert finished["status"] == "succeeded"
    assert finished["app_id"] == "2021000000000001"
    probe = next(e for e in events if e["event"] == "probe")
    assert probe["note"] == "card 400000******0069"
    assert probe["card_cvc"] == "***"


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stdlib() -> Iterator[Capture]:
    """No structlog configuration (as in a program that made none), and a handler on the ``tradepay`` logger."""
    saved = structlog.get_config()
    structlog.reset_defaults()
    logger = logging.getLogger("tradepay")
    capture = Capture()
    logger.addHandler(capture)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        yield capture
    finally:
        logger.removeHandler(capture)
        logger.setLevel(level)
        structlog.configure(**saved)


def test_an_event_is_a_mapping_with_a_readable_line(stdlib: Capture) -> None:
    get_logger("tradepay").bind(payment_id="pay_1").info("payment.finished", card=PAN, cvv="999")
    (record,) = stdlib.records
    assert record.levelno == logging.INFO
    assert record.name == "tradepay"
    assert isinstance(record.msg, dict)
    assert dict(record.msg) == {
        "payment_id": "pay_1",
        "card": "424242******4242",
        "cvv": "***",
        "event": "payment.finished",
        "logger": "tradepay",
        "level": "info",
    }
    assert record.getMessage() == "payment.finished payment_id='pay_1' card='424242******4242' cvv='***'"


def test_context_and_tracebacks_are_redacted_after_they_are_merged_and_formatted(stdlib: Capture) -> None:
    def charge() -> None:
        local_pan = "5555555555554444"  # a local variable: never rendered
        raise RuntimeError(f"declined {local_pan[:4]} 4000 0000 0000 0002")

    def log_failure() -> None:
        structlog.contextvars.bind_contextvars(request_card=PAN)
        try:
            charge()
        except RuntimeError:
            get_logger("tradepay").exception("charge.failed")

    contextvars.copy_context().run(log_failure)
    (record,) = stdlib.records
    assert isinstance(record.msg, dict)
    event: dict[str, Any] = dict(record.msg)
    assert event["request_card"] == "424242******4242"
    assert "RuntimeError: declined 555540**********0002" in event["exception"]  # one mask over both
    assert "5555555555554444" not in event["exception"]
    assert not record.exc_info  # formatted already: no handler renders it again, with or without locals
    assert record.getMessage().endswith(event["exception"])


def test_events_below_the_level_cost_nothing(stdlib: Capture) -> None:
    looked: list[str] = []

    class Watched:
        def __repr__(self) -> str:
            looked.append("repr")
            return "Watched()"

    get_logger("tradepay").debug("below", value=Watched())
    assert stdlib.records == []
    assert looked == []  # not even redacted
    get_logger("tradepay").info("at", value=Watched())
    assert len(stdlib.records) == 1
    assert looked  # looked at (redacted, then rendered by the handlers) once it is at the level


def test_a_failing_handler_is_left_to_the_standard_librarys_error_handling(
    stdlib: Capture, capsys: pytest.CaptureFixture[str]
) -> None:
    class Full(logging.StreamHandler):  # type: ignore[type-arg]
        def flush(self) -> None:
            raise OSError(28, "No space left on device")

    handler = Full(sys.stderr)
    logging.getLogger("tradepay").addHandler(handler)
    try:
        get_logger("tradepay").info("payment.finished")
    finally:
        logging.getLogger("tradepay").removeHandler(handler)
    assert len(stdlib.records) == 1
    assert "--- Logging error ---" in capsys.readouterr().err


def test_a_failing_filter_is_contained(stdlib: Capture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tradepay._logging, "_LOSSES", tradepay._logging._Losses())

    def broken(record: logging.LogRecord) -> bool:
        raise KeyError("the application's filter failed")

    logging.getLogger("tradepay").addFilter(broken)
    try:
        get_logger("tradepay").info("payment.finished")
    finally:
        logging.getLogger("tradepay").removeFilter(broken)
    assert tradepay.log_failures() == 1
    assert stdlib.records == []


def test_each_logger_made_gets_a_null_handler_once(stdlib: Capture) -> None:
    get_logger("tradepay_example_plugin").info("first")
    get_logger("tradepay_example_plugin").info("second")
    handlers = logging.getLogger("tradepay_example_plugin").handlers
    assert [type(h) for h in handlers] == [logging.NullHandler]


@pytest.mark.parametrize("name", ["", 42, None])
def test_a_logger_needs_a_name(name: Any) -> None:
    with pytest.raises(tradepay.InvalidInput, match=r"^name: must be a non-empty string"):
        get_logger(name)
