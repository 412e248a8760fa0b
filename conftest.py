"""Suite-wide card-data guard: every log event the suite produces, and every file it leaves in pytest's
temporary directories (SQLite databases and their WAL files included), is scanned for the well-known test
card numbers at the end of the run. A find fails the run.

Events are written raw (no redaction processor), so the scan proves that no code *emits* card numbers,
not merely that the redaction of ``configure_logging`` hides them. Tests that capture logs themselves
(``structlog.testing.capture_logs``) check their own events.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import TextIO

import pytest
import structlog

# The published test numbers (Stripe's table) and the other network test numbers used in this suite.
TEST_CARD_NUMBERS = (
    "4242424242424242",
    "5555555555554444",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "4000000000005126",
    "4000000000007726",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "2221000000000009",
    "4111111111111111",
    "5105105105105100",
)
_PATTERNS = [
    re.compile(sep.join(re.escape(number[i : i + 4]) for i in range(0, len(number), 4)).encode())
    for number in TEST_CARD_NUMBERS
    for sep in ("", " ", "-", ".")
]
_SECRET_FIELD = re.compile(rb'"((?:card_)?(?:cvc2?|cvv2?|pin|track[12]?|security_code))": "(?!\*\*\*")')
_sink: dict[str, Path] = {}
_streams: list[TextIO] = []


def pytest_configure(config: pytest.Config) -> None:
    if hasattr(config, "workerinput"):  # pragma: no cover - xdist workers scan their own runs
        return
    fd, name = tempfile.mkstemp(prefix="tradepay-suite-events-", suffix=".jsonl")
    os.close(fd)
    path = Path(name)
    _sink["events"] = path
    stream = path.open("a", encoding="utf-8", buffering=1)
    _streams.append(stream)
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.format_exc_info,
            structlog.processors.JSONRenderer(default=repr),
        ],
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )


def _leaks(path: Path) -> list[str]:
    try:
        data = path.read_bytes()
    except OSError:
        return []
    found = [f"{path}: a test card number ({p.pattern.decode()})" for p in _PATTERNS if p.search(data)]
    found += [f"{path}: an unredacted {m.group(1).decode()} field" for m in _SECRET_FIELD.finditer(data)]
    return found


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    events = _sink.pop("events", None)
    if events is None:
        return
    for stream in _streams:
        stream.close()
    leaks = _leaks(events)
    factory = getattr(session.config, "_tmp_path_factory", None)
    basetemp = factory.getbasetemp() if factory is not None else None
    if basetemp is not None and basetemp.exists():
        for path in basetemp.rglob("*"):
            if path.is_file() and not path.is_symlink():
                leaks += _leaks(path)
    if leaks:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "card data found in what the suite produced:\n  " + "\n  ".join(sorted(set(leaks)))
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        events.unlink(missing_ok=True)
