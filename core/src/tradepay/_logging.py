"""Logging: the library only logs (``structlog.get_logger("tradepay")``); applications configure.

:func:`configure_logging` is the documented helper for applications and the command line: JSON or console
output, a level, and the card-data redaction that must run after context merging and exception formatting
and before rendering. Tracebacks are rendered without local variables.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, Literal, TextIO

import structlog

from ._redaction import redact_card_data

__all__ = ["configure_logging", "redact_card_data"]


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
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            formatter,
            redact_card_data,
            # After the redaction, which need not read the time stamp it adds.
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=cache,
    )
