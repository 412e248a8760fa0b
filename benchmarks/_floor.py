"""The floor: the payment loop a user would write without the host, against which the host is measured.

It is written once and never imports or calls tradepay, so that no change to the project, its logging set-up
included, moves it. It calls the same provider functions as the host, with an attempt record of its own, and
emits the host's log events for a chain payment (``attempt.finished`` per attempt, ``payment.finished`` once,
bound to the payment id, app id and trade number; the same names and fields, which
``tests/test_benchmarks_smoke.py`` compares) through stock structlog: ``add_log_level``, ``TimeStamper``, a
redaction processor and ``JSONRenderer``, to a ``PrintLogger``.

The redaction is the plain, obviously correct one: one regular expression over every string value, nested
values included, replacing every run of 13 to 19 digits (single spaces or dashes allowed between them) with
``[redacted]``. It masks more than a card check would (the benchmarks' 16-digit app id, say), which is the
naive choice: no issuer prefixes, no Luhn.

The provider functions are the host's SPI: ``pay(order=..., attempt=...)`` answering an object with
``result_code`` (``"9000"`` is success), ``result_error`` (``None`` or with an ``error_code``) and
``extended_info``. The floor reads only those fields.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping, Sequence
from dataclasses import dataclass
from secrets import token_hex
from typing import Any, TextIO

import structlog

__all__ = [
    "CARD_RUN",
    "FloorAttempt",
    "FloorOrder",
    "floor_logger",
    "floor_orders",
    "floor_processors",
    "floor_payment",
    "floor_payment_sync",
    "redact",
]

#: 13 to 19 digits, single spaces or dashes allowed between them, not inside a longer run of digits.
CARD_RUN = re.compile(r"(?<![0-9])(?:[0-9][ -]?){12,18}[0-9](?![0-9])")
_MASK = "[redacted]"
_SUCCESS = "9000"


@dataclass(slots=True)
class FloorOrder:
    """What the floor knows of an order: its trade number (made as the host's ledger makes them)."""

    trade_no: str


@dataclass(slots=True)
class FloorAttempt:
    """One call to a provider, as the floor records it (the host's attempt has the same four fields)."""

    payment_id: str
    number: int
    provider: str
    idempotency_key: str


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return CARD_RUN.sub(_MASK, value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def redact(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: every card-shaped digit run in every string value becomes ``[redacted]``."""
    for key, value in event_dict.items():
        event_dict[key] = _redacted(value)
    return event_dict


def floor_processors() -> list[Any]:
    """The floor's processors, in order: the level, an ISO time stamp in UTC, the redaction, JSON."""
    return [
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact,
        structlog.processors.JSONRenderer(),
    ]


def floor_logger(stream: TextIO, level: str = "info") -> Any:
    """A stock structlog logger writing JSON lines to ``stream``, events below ``level`` filtered out."""
    return structlog.wrap_logger(
        structlog.PrintLogger(stream),
        processors=floor_processors(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelNamesMapping()[level.upper()]),
        cache_logger_on_first_use=True,
    )


def floor_orders(count: int) -> list[FloorOrder]:
    """``count`` orders with trade numbers shaped as the host's ledger makes them (``T`` and 20 hex digits)."""
    return [FloorOrder(f"T{token_hex(10)}") for _ in range(count)]


def _attempt_finished(log: Any, attempt: FloorAttempt, answer: Any, started: float) -> bool:
    """Log the attempt's outcome; True when it paid (the chain stops)."""
    paid: bool = answer.result_code == _SUCCESS
    error = answer.result_error
    decision = "stop" if paid else "fallthrough"
    log.info(
        "attempt.finished",
        provider=attempt.provider,
        attempt=attempt.number,
        kind="answer",
        result=answer.result_code,
        error_code=int(error.error_code) if error is not None else None,
        reason=answer.extended_info.get("reason"),
        rule="success" if paid else "app-service-error",
        decision=decision,
        final=decision,
        duration_ms=round((time.monotonic() - started) * 1000, 3),
    )
    return paid


def _payment_finished(log: Any, attempt: FloorAttempt, answer: Any, paid: bool, started: float) -> None:
    log.info(
        "payment.finished",
        provider=attempt.provider,
        attempt=attempt.number,
        result=answer.result_code,
        status="succeeded" if paid else "failed",
        duration_ms=round((time.monotonic() - started) * 1000, 3),
    )


async def floor_payment(
    functions: Sequence[tuple[str, Callable[..., Awaitable[Any]]]], order: FloorOrder, app_id: str, log: Any
) -> Any:
    """Pay ``order``: call each ``async`` pay function (at least one) in turn until one pays; return the last
    answer."""
    started = time.monotonic()
    payment_id = f"pay_{token_hex(8)}"
    log = log.bind(payment_id=payment_id, app_id=app_id, trade_no=order.trade_no)
    for number, (name, pay) in enumerate(functions, 1):
        t0 = time.monotonic()
        attempt = FloorAttempt(payment_id, number, name, f"{payment_id}-{number}")
        answer = await pay(order=order, attempt=attempt)
        paid = _attempt_finished(log, attempt, answer, t0)
        if paid:
            break
    _payment_finished(log, attempt, answer, paid, started)
    return answer


def floor_payment_sync(
    functions: Sequence[tuple[str, Callable[..., Any]]], order: FloorOrder, app_id: str, log: Any
) -> Any:
    """:func:`floor_payment` for plain ``def`` pay functions, called directly."""
    started = time.monotonic()
    payment_id = f"pay_{token_hex(8)}"
    log = log.bind(payment_id=payment_id, app_id=app_id, trade_no=order.trade_no)
    for number, (name, pay) in enumerate(functions, 1):
        t0 = time.monotonic()
        attempt = FloorAttempt(payment_id, number, name, f"{payment_id}-{number}")
        answer = pay(order=order, attempt=attempt)
        paid = _attempt_finished(log, attempt, answer, t0)
        if paid:
            break
    _payment_finished(log, attempt, answer, paid, started)
    return answer
