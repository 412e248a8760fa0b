"""The benchmarks (``benchmarks/``) are not part of the test suite. This checks that the machinery of a run
works, at tiny sizes (``--smoke``), and that ``--json`` prints one JSON object with every key of the benchmark
table (the figures themselves are neither checked nor meaningful at these sizes); and that the floor the host
is measured against emits the host's log events, field for field, with its redaction masking card data."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

import tradepay
from tradepay import Host, MemoryLedger, PaymentService, ResultCode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import instructions  # noqa: E402 - the benchmarks are not an installed package
from benchmarks._fixtures import APP_ID, CONTEXT, chain_providers, memory_orders, pay_functions  # noqa: E402
from benchmarks._floor import FloorOrder, floor_logger, floor_payment, redact  # noqa: E402
from benchmarks._harness import SMOKE  # noqa: E402

KEYS = (
    "chain_overhead_ratio",
    "chain_instructions_per_payment",
    "host_own_instructions_per_payment",
    "durable_ratio",
    "async_10k_ratio",
    "cold_start_ratio",
    "discovery_growth_ratio",
    "lookup_p99_ms",
    "rss_growth_pct",
    "redaction_ratio",
)
INSTRUCTION_KEYS = ("chain_instructions_per_payment", "host_own_instructions_per_payment")
# What differs between two payments, or between two runs of one: not compared by value.
VOLATILE = {"timestamp", "duration_ms", "payment_id"}


def test_a_smoke_run_prints_one_json_object_with_every_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--json", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one object, and nothing else on standard output
    assert isinstance(result, dict)
    counted = shutil.which("valgrind") is not None
    assert set(KEYS) <= set(result["targets"])  # every documented key, and room for more
    for key in result["targets"]:
        value = result[key]
        if key in INSTRUCTION_KEYS and not counted:
            assert value is None, (key, value)
            assert result["met"][key] is None
            assert "valgrind" in result["details"][key]["unavailable"]
            continue
        assert type(value) in (int, float), (key, value)
        assert value >= 0, (key, value)
        assert isinstance(result["met"][key], bool)
    assert result["mode"] == "smoke"
    assert result["lookup_stored_payments"] > 0  # lookup_p99_ms is reported with the count it was measured at
    assert len(result["lookup_load_average"]) == 3  # and with the machine's load beside it
    assert set(result["async_gc_s"]) == {"host", "floor"}
    assert result["details"]["chain_overhead_ratio"]["stretch_target"] == "<= 0.8"
    assert result["machine"]["nproc"] >= 1
    assert list(tmp_path.iterdir()) == []  # the run removed what it made


def test_without_valgrind_the_instruction_keys_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    for figure in (instructions.chain_instructions(SMOKE), instructions.host_own_instructions(SMOKE)):
        assert figure.value is None
        assert figure.met is None
        assert "valgrind is not installed" in figure.details["unavailable"]


@pytest.fixture
def host_log() -> Iterator[io.StringIO]:
    """The host's own logging set-up at info, JSON to a buffer; the suite's set-up given back afterwards."""
    stream = io.StringIO()
    saved = structlog.get_config()
    tradepay.configure_logging(fmt="json", level="info", stream=stream, cache=False)
    yield stream
    structlog.configure(**saved)


def _events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_the_floor_emits_the_hosts_events_with_the_same_fields(host_log: io.StringIO) -> None:
    ledger = MemoryLedger()
    host = Host.from_providers(chain_providers(3), ledger=ledger)
    [request] = memory_orders(ledger, 1)
    try:
        paid = asyncio.run(PaymentService(host).pay_async(request, CONTEXT))
    finally:
        host.close()
    floor_stream = io.StringIO()
    log = floor_logger(floor_stream, "info")
    floor_paid = asyncio.run(
        floor_payment(pay_functions(chain_providers(3)), FloorOrder(request.payment_string), APP_ID, log)
    )
    assert paid.result_code is floor_paid.result_code is ResultCode.SUCCESS

    host_events, floor_events = _events(host_log), _events(floor_stream)
    assert [e["event"] for e in host_events] == ["attempt.finished"] * 3 + ["payment.finished"]
    assert [(e["event"], sorted(e)) for e in floor_events] == [(e["event"], sorted(e)) for e in host_events]
    for host_event, floor_event in zip(host_events, floor_events, strict=True):
        for key in host_event.keys() - VOLATILE - {"app_id"}:
            assert floor_event[key] == host_event[key], (host_event["event"], key)
    # The host knows the 16-digit app id is not a card number; the floor's one regex masks every such run.
    assert {e["app_id"] for e in host_events} == {APP_ID}
    assert {e["app_id"] for e in floor_events} == {"[redacted]"}


def test_the_floors_redaction_masks_every_card_shaped_string_value() -> None:
    event = {
        "event": "attempt.finished",
        "note": "card 4242 4242 4242 4242 declined",
        "nested": {"pan": "5555-5555-5555-4444", "cards": ["378282246310005", "short 123456"]},
        "attempt": 2,
    }
    assert redact(None, "info", event) == {
        "event": "attempt.finished",
        "note": "card [redacted] declined",
        "nested": {"pan": "[redacted]", "cards": ["[redacted]", "short 123456"]},
        "attempt": 2,
    }
