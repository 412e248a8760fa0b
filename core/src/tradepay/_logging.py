"""Logging: the library logs through :func:`get_logger`; the application decides where the events go.

* **Nothing configured** (structlog's ``configure`` never called): events go to the standard library's
  ``logging``, to the logger of the same name (``tradepay``, ``tradepay_wallet``), redacted, as structlog
  recommends for libraries. Each such logger has a ``NullHandler``: nothing is printed, on standard output
  or anywhere else, until the application configures ``logging``.
* **configure_logging** (the command line, or an application): structlog renders JSON lines or console
  text to a stream, with the card-data redaction after context merging and exception formatting and before
  rendering, and tracebacks without local variables.
* **The application's own structlog configuration**: followed as it is; it must put
  :func:`redact_card_data` after ``merge_contextvars`` and exception formatting and before its renderer.

Whatever the configuration, a log call never raises into the payment that makes it: a processor, a
handler or a stream that fails (a full disk, text the stream cannot encode) loses that one event, which
:func:`log_failures` counts; the first loss of a process is reported on standard error.
"""

from __future__ import annotations

import logging
import sys
import threading
from enum import Enum
from typing import Any, Literal, TextIO

import structlog

from ._config import check_log_level
from ._logrender import JSONLines, UTCTimeStamper, WhenException
from ._redaction import redact_card_data
from ._spi.cards import redact_card_numbers
from ._spi.errors import InvalidInput

__all__ = ["EventLogger", "bind_on_use", "configure_logging", "get_logger", "log_failures", "redact_card_data"]


class _Losses:
    """The log events lost so far, and whether the first loss was reported."""

    def __init__(self) -> None:
        self.count = 0
        self.reported = False
        self._lock = threading.Lock()

    def record(self, exc: Exception) -> None:
        with self._lock:
            self.count += 1
            first = not self.reported
            self.reported = True
        if first:
            _report(exc)


_LOSSES = _Losses()


def _report(exc: Exception) -> None:
    """Say once on standard error that events are being lost; never raise (standard error may be the stream
    that fails), never echo a card number or text standard error cannot encode."""
    try:
        detail = redact_card_numbers(str(exc))[:200].encode("ascii", "backslashreplace").decode("ascii")
        stream: TextIO | None = sys.stderr
        if stream is not None:
            stream.write(
                f"tradepay: a log event could not be written ({type(exc).__name__}: {detail}); payments are not "
                "affected; tradepay.log_failures() counts the events lost (this is reported once)\n"
            )
            stream.flush()
    except Exception:  # noqa: S110 - the report is best effort: nothing may reach the payment
        pass


def log_failures() -> int:
    """How many log events this process lost because a processor, a handler or the stream failed (the
    payments that logged them went on). The first loss is also reported once on standard error."""
    return _LOSSES.count


class _StdlibEvent(dict[str, Any]):
    """An event handed to the standard library: a mapping for structlog's ``ProcessorFormatter``, and one line
    of text (``payment.finished payment_id='pay_...' ...``, then any traceback) for any other formatter."""

    __slots__ = ()

    def __str__(self) -> str:
        fields = " ".join(
            f"{k}={(v.value if isinstance(v, Enum) else v)!r}"
            for k, v in self.items()
            if k not in ("event", "level", "logger", "exception")
        )
        line = f"{self.get('event')} {fields}".rstrip()
        exception = self.get("exception")
        return f"{line}\n{exception}" if exception else line


def _to_stdlib(logger: object, method: str, event_dict: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    # The arguments structlog's ProcessorFormatter.wrap_for_formatter gives, with the event as _StdlibEvent, and
    # exc_info off: the traceback is in the event, formatted and redacted, and Logger.exception would otherwise
    # attach the exception again for the handler to render raw.
    return (_StdlibEvent(event_dict),), {"extra": {"_logger": logger, "_name": method}, "exc_info": False}


#: The pipeline of events when nothing is configured: the level checked first (nothing is done for an event
#: the standard library would drop), context merged, the traceback formatted without locals, then redacted.
_STDLIB_PROCESSORS: list[Any] = [
    structlog.stdlib.filter_by_level,
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_logger_name,
    structlog.stdlib.add_log_level,
    structlog.processors.format_exc_info,
    redact_card_data,
    _to_stdlib,
]
_stdlib_loggers: dict[str, Any] = {}
_structlog_loggers: dict[str, Any] = {}


def _stdlib_logger(name: str) -> Any:
    found = _stdlib_loggers.get(name)
    if found is None:
        stdlib = logging.getLogger(name)
        if not any(isinstance(handler, logging.NullHandler) for handler in stdlib.handlers):
            stdlib.addHandler(logging.NullHandler())
        found = _stdlib_loggers.setdefault(
            name,
            structlog.wrap_logger(
                stdlib,
                processors=_STDLIB_PROCESSORS,
                wrapper_class=structlog.stdlib.BoundLogger,
                context_class=dict,
                cache_logger_on_first_use=True,
            ),
        )
    return found


#: structlog's level-filtering bound loggers (``make_filtering_bound_logger``, what ``configure_logging`` makes),
#: each with the lowest level it keeps. Their level methods do nothing but hand the event to
#: ``_process_event`` (the processors) and the result to the wrapped logger; for one of them a bound
#: :class:`EventLogger` does that itself (below), everything else goes through the logger's own methods.
_FILTERING_FLOORS: dict[type, int] = {
    structlog.make_filtering_bound_logger(level): level for level in (0, 10, 20, 30, 40, 50)
}
_LEVELS = {"debug": 10, "info": 20, "warning": 30, "error": 40, "critical": 50}


def _structlog_logger(name: str) -> Any:
    found = _structlog_loggers.get(name)
    if found is None:
        found = _structlog_loggers.setdefault(name, structlog.get_logger(name))
    return found


class EventLogger:
    """A structured logger whose calls never raise. Made by :func:`get_logger`; ``bind`` adds fields to every
    later event of the logger it returns. Each method takes the event's name and its fields as keywords.

    Unbound, it follows the configuration of the moment of each call (structlog's if one was made, the
    standard library's otherwise); a bound logger keeps the one it was bound under."""

    __slots__ = ("_bound", "_floor", "_name", "_unbound")

    def __init__(self, name: str, bound: Any = None, unbound: dict[str, Any] | None = None) -> None:
        self._name = name
        self._bound = bound
        # Fields bound to ``bound`` only when the first event is logged (:func:`bind_on_use`), else None.
        self._unbound = unbound
        # The lowest level ``bound`` keeps when it is one of structlog's filtering loggers, else None.
        self._floor: int | None = _FILTERING_FLOORS.get(type(bound)) if bound is not None else None

    def _target(self) -> Any:
        if self._unbound is not None:
            self._bind_now()
        if self._bound is not None:
            return self._bound
        return _structlog_logger(self._name) if structlog.is_configured() else _stdlib_logger(self._name)

    def _bind_now(self) -> None:
        """Bind the fields :func:`bind_on_use` left for the first event; on failure, as :meth:`bind` does, go
        on unbound (the loss counted)."""
        fields, self._unbound = self._unbound, None
        try:
            self._bound = self._bound.bind(**(fields or {}))
        except Exception as exc:
            _LOSSES.record(exc)
            self._bound = self._floor = None

    def _log(self, method: str, event: str, fields: dict[str, Any]) -> None:
        try:
            if self._unbound is not None:
                self._bind_now()
            floor = self._floor
            if floor is None or method == "exception":
                getattr(self._target(), method)(event, **fields)
            elif _LEVELS[method] >= floor:
                self._direct(method, event, fields)
        except Exception as exc:  # logging never decides a payment: the event is lost, counted and reported
            _LOSSES.record(exc)

    def _direct(self, method: str, event: str, fields: dict[str, Any]) -> None:
        """What the filtering logger's ``method`` does with an event it keeps (its ``_proxy_to_logger``): the
        processors through ``_process_event``, structlog's hook for wrapper classes, then the wrapped logger;
        without handing the fields on as keywords three times over. Measured per ``attempt.finished`` event:
        20,000 instructions fewer of 120,000 (docs/performance.md)."""
        bound = self._bound
        try:
            args, kw = bound._process_event(method, event, fields)
            getattr(bound._logger, method)(*args, **kw)
        except structlog.DropEvent:
            pass

    def is_enabled_for(self, level: int) -> bool:
        """False when an event at ``level`` (``logging.INFO``) would surely be dropped by the level filter of
        the configuration in force, so that a caller can skip building its fields; True otherwise (a
        configuration whose filter cannot be asked is assumed to keep the event). Never raises."""
        try:
            if self._floor is not None:  # one of structlog's filtering loggers: what its is_enabled_for answers
                return level >= self._floor
            # structlog's filtering and standard-library bound loggers both answer it.
            check = getattr(self._target(), "is_enabled_for", None)
            return True if check is None else bool(check(level))
        except Exception:
            return True

    def bind(self, **fields: Any) -> EventLogger:
        """A logger that adds ``fields`` to each of its events."""
        try:
            return EventLogger(self._name, self._target().bind(**fields))
        except Exception as exc:
            _LOSSES.record(exc)
            return self

    def debug(self, event: str, **fields: Any) -> None:
        """Log ``event`` at debug level."""
        self._log("debug", event, fields)

    def info(self, event: str, **fields: Any) -> None:
        """Log ``event`` at info level."""
        self._log("info", event, fields)

    def warning(self, event: str, **fields: Any) -> None:
        """Log ``event`` at warning level."""
        self._log("warning", event, fields)

    def error(self, event: str, **fields: Any) -> None:
        """Log ``event`` at error level."""
        self._log("error", event, fields)

    def exception(self, event: str, **fields: Any) -> None:
        """Log ``event`` at error level with the exception being handled (call it in an ``except`` block)."""
        self._log("exception", event, fields)

    def critical(self, event: str, **fields: Any) -> None:
        """Log ``event`` at critical level."""
        self._log("critical", event, fields)


def bind_on_use(log: EventLogger, **fields: Any) -> EventLogger:
    """``log.bind(**fields)``, the fields bound only when the logger logs its first event: a payment binds its
    logger for events that, at ``warning``, it seldom logs. The configuration is fixed now, as ``bind`` fixes
    it (structlog's logger of the moment, without the fields: the configured one is cached, so asking costs
    little); the level is asked of it without binding. Measured: 11,300 instructions of a payment's 372,000
    at ``warning``, where binding and asking the level cost 20,400 (docs/performance.md); about nothing at
    ``info``, where the first event binds them. ``core/tests/test_log_fast_paths.py`` checks that its events are
    ``bind``'s."""
    try:
        return EventLogger(log._name, log._target().bind(), fields)  # ``fields``: this call's own dict
    except Exception as exc:
        _LOSSES.record(exc)
        return log


def get_logger(name: str) -> EventLogger:
    """The logger the core and its plugins log with: ``get_logger("tradepay_wallet")``.

    Its calls never raise (a lost event is counted by :func:`log_failures`), and its events are redacted and
    kept off standard output when nobody configured logging; see the module documentation. ``name`` must be a
    non-empty string (:class:`InvalidInput` otherwise)."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(
            "name", f"must be a non-empty string, got {'an empty one' if name == '' else type(name).__name__}"
        )
    return EventLogger(name)


def _printable_values(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Escape control characters in the event's text values, as every human output does (``printable``)."""
    from ._cli.render import printable

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
    numeric = check_log_level(level)  # a ConfigError naming ``level`` for anything but a level
    formatter: Any
    if fmt == "json":
        formatter = structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False, use_rich=False)
        )
        renderer: Any = JSONLines()
    else:
        formatter = structlog.processors.format_exc_info
        renderer = structlog.dev.ConsoleRenderer(colors=False, exception_formatter=structlog.dev.plain_traceback)
    # Console text reaches a terminal: a provider's reason must not carry escape sequences to it (JSON escapes).
    shown: list[Any] = [_printable_values] if fmt != "json" else []
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            WhenException(formatter),
            redact_card_data,
            # After the redaction, which need not read the time stamp it adds.
            UTCTimeStamper(),
            *shown,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=cache,
    )
