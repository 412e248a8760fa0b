"""Logging never decides a payment.

Whatever the log stream does (a full disk, a lone surrogate written to a UTF-8 file) and whatever a structlog
processor raises, at any event of a payment: every form of ``PaymentService`` answers exactly once, the ledger
holds the payment's true state (never ``processing``; ``needs_reconciliation`` where a provider may have
charged), a repeat is answered from the ledger without calling a provider, and the bridge, reconciliation and
the host's close do not raise either.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog

import tradepay
import tradepay._logging
from tradepay import (
    Attempt,
    ErrorCode,
    Order,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentType,
    ResultCode,
    configure_logging,
    hookimpl,
    trade_pay,
    trade_pay_async,
)
from tradepay.testing import AsyncReferenceProvider, ReferenceProvider, sample_context

CORE = Path(tradepay.__file__).parent

#: Every event the core logs on the way of a payment (chain and service), each with a scenario below.
PAYMENT_EVENTS = (
    "payment.refused",
    "payment.repeated",
    "provider.skipped",
    "attempt.finished",
    "payment.finished",
    "provider.call_failed",
    "observer.failed",
    "callback.failed",
    "payment.interrupted",
    "payment.crashed",
    "order.resolve_failed",
)
#: The other events of the core, each with a test of its own here.
OTHER_EVENTS = (
    "payment.not_started",
    "payment.failed_uncharged",
    "trade_pay.failed",
    "payment.reconciled",
    "provider.close_failed",
    "http.request",
    "server.failed",
    # The notification worker's: tests/test_notify_delivery.py breaks them.
    "notify.worker_started",
    "notify.worker_stopped",
    "notify.worker_failed",
    "notify.delivered",
    "notify.failed",
    "notify.record_failed",
)
FORMS = ("callback", "async", "blocking")


def _disk_full() -> Exception:
    return OSError(28, "No space left on device")


def _lone_surrogate() -> Exception:
    return UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogates not allowed")


def _event_of(line: str) -> object:
    """The ``event`` of a JSON log line (either form of the renderer: the line is parsed, never matched)."""
    try:
        parsed = json.loads(line)
    except ValueError:
        return None
    return parsed.get("event") if isinstance(parsed, dict) else None


class BrokenStream(io.StringIO):
    """A log stream that raises ``error()`` on every line of ``event`` (of every event when ``None``)."""

    def __init__(self, event: str | None, error: Callable[[], Exception]) -> None:
        super().__init__()
        self.event = event
        self.error = error
        self.failures = 0
        self.lines: list[str] = []

    def write(self, text: str) -> int:
        if self.event is None or _event_of(text) == self.event:
            self.failures += 1
            raise self.error()
        self.lines.append(text)
        return len(text)


class BrokenProcessor:
    """A structlog processor that raises on ``event`` (on every event when ``None``)."""

    def __init__(self, event: str | None) -> None:
        self.event = event
        self.failures = 0

    def __call__(self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if self.event is None or event_dict.get("event") == self.event:
            self.failures += 1
            raise ValueError("a processor of the application failed")
        return event_dict


Breakage = BrokenStream | BrokenProcessor
HOWS = ("disk_full", "lone_surrogate", "processor")


@pytest.fixture
def break_logging() -> Iterator[Callable[[str | None, str], Breakage]]:
    """Configure logging to break at one event (or every event) in one of the ways of ``HOWS``."""
    saved = structlog.get_config()

    def install(event: str | None, how: str) -> Breakage:
        if how == "processor":
            processor = BrokenProcessor(event)
            structlog.configure(
                processors=[processor, structlog.processors.JSONRenderer()],
                logger_factory=structlog.PrintLoggerFactory(io.StringIO()),
                cache_logger_on_first_use=False,
            )
            return processor
        stream = BrokenStream(event, _disk_full if how == "disk_full" else _lone_surrogate)
        configure_logging(fmt="json", level="debug", stream=stream, cache=False)
        return stream

    yield install
    structlog.configure(**saved)


class Recorder:
    """A callback that records each answer (and raises after recording it when told to)."""

    def __init__(self, raises: bool = False) -> None:
        self.results: list[PaymentResult] = []
        self.raises = raises
        self.done = threading.Event()

    def __call__(self, result: PaymentResult) -> None:
        self.results.append(result)
        self.done.set()
        if self.raises:
            raise RuntimeError("the super app's callback failed")


def pay(form: str, bench: Any, request: PaymentRequest, *, callback_raises: bool = False) -> PaymentResult:
    """Pay ``request`` in ``form`` and return the one answer (a form that raises fails the test here)."""
    context = sample_context(bench.payer)
    if form == "blocking":
        return bench.service.pay_blocking(request, context)  # type: ignore[no-any-return]
    if form == "async":
        return asyncio.run(bench.service.pay_async(request, context))  # type: ignore[no-any-return]
    recorder = Recorder(raises=callback_raises)
    bench.service.pay(request, context, recorder)
    assert recorder.done.wait(10)
    bench.service.close()  # drains the service's loop: a second answer would have been delivered by now
    assert len(recorder.results) == 1, recorder.results
    return recorder.results[0]


class FlakyInquiry(ReferenceProvider):
    """Its first inquiry raises; the next ones tell the truth."""

    failures = 1

    @hookimpl
    def inquire(self, attempt: Attempt) -> Any:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("inquiry endpoint down")
        return super().inquire(attempt)


class BrokenObserver:
    @hookimpl
    def payment_finished(self) -> None:
        raise RuntimeError("the observer's database is down")


class BrokenOrderBook:
    @hookimpl
    def resolve_order(self) -> Order | None:
        raise RuntimeError("the catalogue database is down")


@dataclass
class Scenario:
    """A payment that logs ``event``, and what it must end with whatever the logging does."""

    build: Callable[[Any], tuple[Any, PaymentRequest]]
    code: ResultCode
    status: PaymentStatus | None  # None: refused before anything was stored
    charged: int
    callback_raises: bool = False
    first: bool = False  # pay once, normally, before the payment under test (which is then a repeat)


def _order_request(bench: Any) -> PaymentRequest:
    return PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no)


def _paid(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(a=ReferenceProvider())
    return bench, _order_request(bench)


def _skipped(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(euro=ReferenceProvider(currencies=["EUR"]), a=ReferenceProvider())
    return bench, _order_request(bench)


def _unknown_order(factory: Any) -> tuple[Any, PaymentRequest]:
    return factory(a=ReferenceProvider()), PaymentRequest(PaymentType.ORDER_ID, "T-no-such-order")


def _inquiry_fails(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(a=FlakyInquiry(script=["late_success"]), chain={"inquiry_attempts": 3})
    return bench, _order_request(bench)


def _observer_fails(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(a=ReferenceProvider(), _plugins={"broken": BrokenObserver()})
    return bench, _order_request(bench)


def _ledger_fails_after_the_charge(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(a=ReferenceProvider())
    ledger = bench.ledger
    real = ledger.finish_attempt
    failed: list[bool] = []

    def finish_attempt_once(record: Any) -> Any:
        if not failed:
            failed.append(True)
            raise OSError("the ledger's disk went away")
        return real(record)

    ledger.finish_attempt = finish_attempt_once
    return bench, _order_request(bench)


def _order_book_fails(factory: Any) -> tuple[Any, PaymentRequest]:
    bench = factory(a=ReferenceProvider(), _plugins={"broken": BrokenOrderBook()})
    return bench, _order_request(bench)


PAID = Scenario(_paid, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250)
CRASHED = Scenario(_ledger_fails_after_the_charge, ResultCode.UNKNOWN, PaymentStatus.NEEDS_RECONCILIATION, 250)
SCENARIOS: dict[str, Scenario] = {
    "payment.refused": Scenario(_unknown_order, ResultCode.FAILED, None, 0),
    "payment.repeated": Scenario(_paid, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250, first=True),
    "provider.skipped": Scenario(_skipped, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250),
    "attempt.finished": PAID,
    "payment.finished": PAID,
    "provider.call_failed": Scenario(_inquiry_fails, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250),
    "observer.failed": Scenario(_observer_fails, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250),
    "callback.failed": Scenario(_paid, ResultCode.SUCCESS, PaymentStatus.SUCCEEDED, 250, callback_raises=True),
    "payment.interrupted": CRASHED,
    "payment.crashed": CRASHED,
    "order.resolve_failed": Scenario(_order_book_fails, ResultCode.FAILED, None, 0),
}
CASES = [
    (event, form)
    for event in PAYMENT_EVENTS
    for form in FORMS
    if form == "callback" or not SCENARIOS[event].callback_raises  # only a callback can raise in a callback
]


def _logged_events() -> set[str]:
    """The event names of every log call in the core's source."""
    pattern = re.compile(r"\b_?log\.(?:debug|info|warning|error|exception|critical)\(\s*\"([a-z_.]+)\"")
    return {name for path in CORE.rglob("*.py") for name in pattern.findall(path.read_text(encoding="utf-8"))}


def test_every_event_the_core_logs_is_broken_by_a_test_here() -> None:
    from .test_refund_logging import REFUND_EVENTS  # refunds' own scenarios: core/tests/test_refund_logging.py

    assert _logged_events() == set(PAYMENT_EVENTS) | set(OTHER_EVENTS) | set(REFUND_EVENTS)


def _run(scenario: Scenario, form: str, bench: Any, request: PaymentRequest) -> PaymentResult:
    if scenario.first:
        pay("blocking", bench, request)
    return pay(form, bench, request, callback_raises=scenario.callback_raises)


def _check(scenario: Scenario, form: str, bench: Any, request: PaymentRequest, result: PaymentResult) -> None:
    assert result.result_code is scenario.code, result
    payments = bench.ledger.payments()
    if scenario.status is None:
        assert payments == []
    else:
        (payment,) = payments
        assert payment.status is scenario.status
        assert payment.result == result
    assert sum(bench.charged().values()) == scenario.charged
    calls = {name: len(p.calls) for name, p in bench.providers.items()}
    again = pay(form, bench, request)
    assert again == result  # answered from the ledger (or refused again): the same answer
    assert {name: len(p.calls) for name, p in bench.providers.items()} == calls  # no provider was called
    assert sum(bench.charged().values()) == scenario.charged


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("event", "form"), CASES)
def test_a_log_failure_at_any_event_changes_neither_the_answer_nor_the_ledger(
    bench_factory: Any, break_logging: Any, event: str, form: str, how: str
) -> None:
    scenario = SCENARIOS[event]
    bench, request = scenario.build(bench_factory)
    breakage = break_logging(event, how)
    result = _run(scenario, form, bench, request)
    assert breakage.failures >= 1, f"the scenario did not log {event}"
    _check(scenario, form, bench, request, result)


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("event", "form"), CASES)
def test_with_every_log_line_failing_payments_are_still_answered_once(
    bench_factory: Any, break_logging: Any, event: str, form: str, how: str
) -> None:
    scenario = SCENARIOS[event]
    bench, request = scenario.build(bench_factory)
    breakage = break_logging(None, how)
    result = _run(scenario, form, bench, request)
    assert breakage.failures >= 1
    _check(scenario, form, bench, request, result)


@pytest.mark.parametrize("how", HOWS)
def test_closing_mid_payment_with_failing_logs_leaves_it_for_reconciliation(
    bench_factory: Any, break_logging: Any, how: str
) -> None:
    a = AsyncReferenceProvider(script=["hang"])
    bench = bench_factory(a=a)
    request = _order_request(bench)
    breakage = break_logging("payment.interrupted", how)
    recorder = Recorder()
    bench.service.pay(request, sample_context("alice"), recorder)
    while not a.calls:
        threading.Event().wait(0.001)
    bench.service.close()
    assert breakage.failures >= 1
    assert [r.result_code for r in recorder.results] == [ResultCode.UNKNOWN]
    (payment,) = bench.ledger.payments()
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION
    assert bench.pay(bench.orders[0]) == payment.result


class LedgerWitness:
    """A structlog processor that reads the ledger as each event of a payment is logged."""

    def __init__(self, bench: Any) -> None:
        self.bench = bench
        self.seen: dict[str, tuple[str | None, int]] = {}

    def __call__(self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        payments = self.bench.ledger.payments()
        if payments:
            (payment,) = payments
            self.seen[event_dict["event"]] = (payment.status.value, len(payment.attempts))
        return event_dict


@pytest.mark.parametrize(
    ("build", "expected"),
    [
        (_paid, {"attempt.finished": ("processing", 1), "payment.finished": ("succeeded", 1)}),
        (_ledger_fails_after_the_charge, {"payment.interrupted": ("needs_reconciliation", 0)}),
    ],
)
def test_each_state_change_is_in_the_ledger_before_its_log_line(
    bench_factory: Any, build: Callable[[Any], tuple[Any, PaymentRequest]], expected: dict[str, Any]
) -> None:
    bench, request = build(bench_factory)
    witness = LedgerWitness(bench)
    saved = structlog.get_config()
    structlog.configure(processors=[witness, structlog.processors.JSONRenderer()], cache_logger_on_first_use=False)
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            bench.service.pay_blocking(request, sample_context(bench.payer))
    finally:
        structlog.configure(**saved)
    assert {event: witness.seen[event] for event in expected} == expected


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("form", ["callback", "blocking"])
def test_a_service_that_cannot_start_its_thread_refuses_whatever_the_logs_do(
    bench_factory: Any, break_logging: Any, monkeypatch: pytest.MonkeyPatch, form: str, how: str
) -> None:
    start = threading.Thread.start
    refused: list[str] = []

    def start_fails_once(thread: threading.Thread) -> None:
        if thread.name == "tradepay-loop" and not refused:
            refused.append(thread.name)
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", start_fails_once)
    a = ReferenceProvider()
    bench = bench_factory(a=a)
    request = _order_request(bench)
    breakage = break_logging("payment.not_started", how)
    result = pay(form, bench, request)
    assert breakage.failures == 1
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR
    assert bench.ledger.payments() == []
    assert a.calls == []
    assert pay(form, bench, request).result_code is ResultCode.SUCCESS  # nothing was stored: it can be paid


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("form", FORMS)
def test_a_host_failure_before_any_provider_is_a_failure_whatever_the_logs_do(
    bench_factory: Any, break_logging: Any, form: str, how: str
) -> None:
    a = ReferenceProvider()
    bench = bench_factory(a=a)
    request = _order_request(bench)
    start_attempt = bench.ledger.start_attempt

    def fails_once(payment_id: str, provider: str) -> Any:
        bench.ledger.start_attempt = start_attempt
        raise OSError(28, "No space left on device")

    bench.ledger.start_attempt = fails_once
    breakage = break_logging("payment.failed_uncharged", how)
    result = pay(form, bench, request)
    assert breakage.failures == 1
    assert result.result_code is ResultCode.FAILED
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR
    [payment] = bench.ledger.payments()
    assert payment.status is PaymentStatus.FAILED  # recorded before the log line that failed
    assert a.calls == []
    assert pay(form, bench, request).result_code is ResultCode.SUCCESS  # nothing moved: a new payment pays it


@pytest.mark.parametrize("how", HOWS)
def test_the_bridge_answers_whatever_the_logs_do(bench_factory: Any, break_logging: Any, how: str) -> None:
    bench = bench_factory(a=ReferenceProvider())
    breakage = break_logging(None, how)
    context = sample_context("alice")
    assert trade_pay(bench.service, {"tradeNO": bench.order().trade_no}, context) == {"resultCode": "9000"}
    paid = asyncio.run(trade_pay_async(bench.service, {"tradeNO": bench.order().trade_no}, context))
    assert paid == {"resultCode": "9000"}

    async def blocking_inside_a_loop() -> dict[str, Any]:
        return trade_pay(bench.service, {"tradeNO": bench.order().trade_no}, context)

    failed = asyncio.run(blocking_inside_a_loop())  # logs trade_pay.failed
    assert failed == {"error": 3, "errorMessage": "the payment service failed: RuntimeError"}
    assert breakage.failures >= 3


class Unreadable(Mapping[str, Any]):
    """JSAPI parameters from a container whose every read fails."""

    def __getitem__(self, key: str) -> Any:
        raise RuntimeError("the container's parameters cannot be read")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("the container's parameters cannot be read")

    def __len__(self) -> int:
        return 1


@pytest.mark.parametrize("how", HOWS)
def test_the_bridge_answers_parameters_it_cannot_read(bench_factory: Any, break_logging: Any, how: str) -> None:
    bench = bench_factory(a=ReferenceProvider())
    breakage = break_logging("trade_pay.failed", how)
    failed = {"error": 3, "errorMessage": "the payment service failed: RuntimeError"}
    assert trade_pay(bench.service, Unreadable(), sample_context("alice")) == failed
    assert asyncio.run(trade_pay_async(bench.service, Unreadable(), sample_context("alice"))) == failed
    assert breakage.failures == 2
    assert bench.ledger.payments() == []


@pytest.mark.parametrize("how", HOWS)
def test_reconciliation_settles_whatever_the_logs_do(bench_factory: Any, break_logging: Any, how: str) -> None:
    a = ReferenceProvider()
    bench = bench_factory(a=a)
    order = bench.order()
    payment, _ = bench.ledger.begin_payment(order, "2021000000000001")
    attempt = bench.ledger.start_attempt(payment.payment_id, "a")
    a.pay(order, attempt)  # the host was killed after the provider charged
    breakage = break_logging("payment.reconciled", how)
    (settlement,) = bench.service.host.reconcile(stale_after_s=0)
    assert breakage.failures == 1
    assert settlement.after is PaymentStatus.SUCCEEDED
    stored = bench.ledger.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.status is PaymentStatus.SUCCEEDED


@pytest.mark.parametrize("how", HOWS)
def test_the_host_closes_whatever_the_logs_do(bench_factory: Any, break_logging: Any, how: str) -> None:
    closed: list[str] = []

    class Unclosable(ReferenceProvider):
        def close(self) -> None:
            raise RuntimeError("the provider's connection is gone")

    class Closable(ReferenceProvider):
        def close(self) -> None:
            closed.append("b")

    bench = bench_factory(a=Unclosable(), b=Closable())
    bench.ledger.close = lambda: closed.append("ledger")
    breakage = break_logging("provider.close_failed", how)
    bench.service.host.close()
    assert breakage.failures == 1
    assert closed == ["b", "ledger"]


def test_a_lone_surrogate_written_to_a_utf8_file_does_not_raise(tmp_path: Path) -> None:
    saved = structlog.get_config()
    with (tmp_path / "events.jsonl").open("w", encoding="utf-8") as stream:
        configure_logging(fmt="console", stream=stream, cache=False)
        try:
            tradepay.get_logger("tradepay").info("probe", note="\ud800")
            tradepay.get_logger("tradepay").info("after", note="fine")
        finally:
            structlog.configure(**saved)
    assert "after" in (tmp_path / "events.jsonl").read_text(encoding="utf-8")


@pytest.fixture
def fresh_losses(monkeypatch: pytest.MonkeyPatch) -> None:
    """A count of lost events as in a new process (nothing lost, nothing reported yet)."""
    monkeypatch.setattr(tradepay._logging, "_LOSSES", tradepay._logging._Losses())


@pytest.mark.usefixtures("fresh_losses")
def test_a_failure_is_counted_and_reported_once_on_standard_error(
    break_logging: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert tradepay.log_failures() == 0
    break_logging(None, "disk_full")
    log = tradepay.get_logger("tradepay")
    log.info("first")
    log.bind(payment_id="pay_1").warning("second")
    log.exception("third")
    assert tradepay.log_failures() == 3
    err = capsys.readouterr().err
    assert err.count("tradepay: a log event could not be written (OSError: [Errno 28] No space left on device)") == 1
    assert err.count("\n") == 1


@pytest.mark.usefixtures("fresh_losses")
def test_the_report_of_a_failure_does_not_echo_a_card_number(capsys: pytest.CaptureFixture[str]) -> None:
    saved = structlog.get_config()

    def leaky(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        raise ValueError(f"cannot render {event_dict['card']} or {event_dict['note']}")

    structlog.configure(processors=[leaky], cache_logger_on_first_use=False)
    try:
        tradepay.get_logger("tradepay").info("probe", card="4242424242424242", note="\ud800")
    finally:
        structlog.configure(**saved)
    err = capsys.readouterr().err
    assert "ValueError: cannot render 424242******4242 or \\ud800" in err
    assert "4242424242424242" not in err


def test_the_error_code_of_a_refusal_survives_failing_logs(bench_factory: Any, break_logging: Any) -> None:
    bench = bench_factory(a=ReferenceProvider(), _plugins={"broken": BrokenOrderBook()})
    break_logging(None, "disk_full")
    result = bench.pay()
    assert result.result_error is not None
    assert result.result_error.error_code is ErrorCode.SYSTEM_ERROR


def _server_answers(host: Any, *paths: str) -> list[int]:
    """The statuses the server of ``host`` answers ``GET`` of each of ``paths`` with, in process."""
    fastapi = pytest.importorskip("fastapi")  # the server extra
    httpx = pytest.importorskip("httpx")
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tradepay.server import create_app

    app = create_app(host, key=rsa.generate_private_key(public_exponent=65537, key_size=2048))

    async def boom() -> None:
        raise RuntimeError("a bug")

    app.router.routes.append(fastapi.routing.APIRoute("/boom", boom))

    async def get_all() -> list[int]:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # as uvicorn: the answer is sent
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return [(await client.get(path)).status_code for path in paths]

    return asyncio.run(get_all())


@pytest.mark.parametrize("how", HOWS)
def test_the_server_answers_whatever_the_logs_do(bench_factory: Any, break_logging: Any, how: str) -> None:
    bench = bench_factory(a=ReferenceProvider())
    requests = break_logging("http.request", how)
    assert _server_answers(bench.service.host, "/healthz", "/readyz") == [200, 200]
    assert requests.failures == 2
    bench = bench_factory(a=ReferenceProvider())
    failures = break_logging("server.failed", how)
    assert _server_answers(bench.service.host, "/boom", "/healthz") == [500, 200]
    assert failures.failures == 1
