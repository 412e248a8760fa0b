"""Logging: the library only logs (``structlog.get_logger("tradepay")``); applications configure.

:func:`configure_logging` is the documented helper for applications and the command line: JSON or console
output, a level, and the card-data redaction that must run after context merging and exception formatting
and before rendering. Tracebacks are rendered without local variables.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, Literal, TextIO

import structlog

from ._cards import CardSecret, mask_card_number, redact_card_numbers

__all__ = ["SENSITIVE_KEYS", "configure_logging", "redact_card_data"]

#: Keys whose values never reach a log line: secrets are dropped to ``***``, card numbers masked.
SENSITIVE_KEYS = frozenset({"cvc", "cvv", "cvv2", "cvc2", "pin", "track", "track1", "track2", "password", "secret"})
_CARD_KEYS = frozenset({"card_number", "pan", "number"})


def _redact(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in SENSITIVE_KEYS:
        return "***"
    if isinstance(value, CardSecret):
        return str(value)
    if isinstance(value, str):
        if key is not None and key.lower() in _CARD_KEYS:
            return mask_card_number(value)
        return redact_card_numbers(value)
    if isinstance(value, Mapping):
        return {k: _redact(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v) for v in value]
    return value


def redact_card_data(_logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """A structlog processor: mask card numbers anywhere in the event (exception text included) and drop
    CVCs, PINs and track data. Put it after exception formatting and before the renderer."""
    for key, value in list(event_dict.items()):
        event_dict[key] = _redact(value, key)
    return event_dict


def _printable_values(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Escape control characters in the event's text values, as every human output does (``printable``)."""
    from ._render import printable

    for key, value in event_dict.items():
        if isinstance(value, str):
            event_dict[key] = printable(value)
    return event_dict


def configure_logging(
    *,
    fmt: Literal["json", "console"] = "console",
    level: str | int = "info",
    stream: TextIO | None = None,
    cache: bool = True,
) -> None:
    """Configure structlog for an application: ``fmt`` JSON lines or console text, at ``level``, to
    ``stream`` (standard error by default), with card data redacted and tracebacks without locals.

    A library must never call this; an application calls it once at start-up. ``cache=False`` lets a later
    call (or structlog's test helpers) take effect on loggers already used.
    """
    numeric = level if isinstance(level, int) else logging.getLevelNamesMapping()[level.upper()]
    formatter: Any
    if fmt == "json":
        formatter = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False, use_rich=False)
        )
        renderer: Any = structlog.processors.JSONRenderer()
    else:
        formatter = structlog.processors.format_exc_info
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    # Console text reaches a terminal: a provider's reason must not carry escape sequences to it (JSON escapes).
    shown: list[Any] = [_printable_values] if fmt != "json" else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            formatter,
            redact_card_data,
            *shown,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=cache,
    )
