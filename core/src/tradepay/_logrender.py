"""Steps of :func:`tradepay.configure_logging`'s pipeline: the time stamp, the JSON renderer, and the guard that
calls the exception formatter only for an event with an exception.

Each gives what structlog's own step gives (``TimeStamper(fmt="iso", utc=True)``, ``JSONRenderer()``:
``json.dumps`` with its default separators, ASCII only; the formatter), for less: every payment renders
several events. With orjson installed (``pip install tradepay[orjson]``) the JSON renderer writes the same
objects in orjson's compact form. What each saves is measured in docs/performance.md;
core/tests/test_log_fast_paths.py checks that each writes what structlog's writes, and that both forms of the
renderer write the same objects.
"""

from __future__ import annotations

import enum
import json
import json.encoder
import sys
import time
from collections.abc import Callable, MutableMapping
from typing import Any

__all__ = ["JSONLines", "UTCTimeStamper", "WhenException", "orjson_module"]

_encode_text: Callable[[str], str] = json.encoder.encode_basestring_ascii


def orjson_module() -> Any:
    """orjson when it is installed (the ``orjson`` extra), else ``None``."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson


def _json_default(value: object) -> Any:
    """What the renderer writes for a value JSON has no form for: an enumeration member's value, a UUID's text,
    else, as structlog's ``JSONRenderer`` writes, its ``__structlog__()`` or its ``repr``. (orjson writes
    members and UUIDs so itself, and both forms of the renderer must write the same objects.)"""
    if isinstance(value, enum.Enum):
        return value.value
    try:
        return value.__structlog__()  # type: ignore[attr-defined]
    except AttributeError:
        pass
    uuid = sys.modules.get("uuid")  # not imported: then no value can be a UUID
    if uuid is not None and isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, float):  # a float's subclass, which orjson hands here: the number, as json writes it
        return float(value)
    return repr(value)


def _json_encoder(key_separator: str, item_separator: str) -> Callable[[Any], str]:
    """``json``'s encoder, built once (``json.dumps`` with a ``default`` builds one on every call), ASCII only.
    It keeps no record of the containers it is in (``check_circular`` off): the redaction before it makes every
    event a finite tree, and a ``__structlog__`` that makes a cycle loses that one event, as any failing
    renderer does."""
    c_make_encoder = getattr(json.encoder, "c_make_encoder", None)  # not in the module's stubs
    if c_make_encoder is None:  # an interpreter without json's C accelerator: the ordinary way
        separators = (item_separator, key_separator)
        return json.JSONEncoder(default=_json_default, separators=separators, check_circular=False).encode
    chunks = c_make_encoder(None, _json_default, _encode_text, None, key_separator, item_separator, False, False, True)
    return lambda event: "".join(chunks(event, 0))


class JSONLines:
    """A structlog renderer: the event as one line of JSON.

    Without orjson (or with ``fast=False``), the line ``JSONRenderer()`` writes (``"key": value, ...``, ASCII
    only), from ``json``'s encoder built once. With orjson (``fast=None``, the default, when it is installed;
    ``fast=True`` requires it), the same objects in orjson's compact form (``"key":value,...``): NaN and the
    infinities are written ``null`` (JSON has no form for them); an event orjson refuses (an integer past 64
    bits, a lone surrogate, a key that is not text) or that holds other than ASCII characters is written by
    ``json``'s encoder in the same compact form, so every line is ASCII. ``compact`` says which form this
    renderer writes.

    Measured per ``attempt.finished`` event: ``JSONRenderer`` 55,000 instructions, ``json``'s encoder built
    once 42,000, orjson about 5,000 (docs/performance.md); a field-by-field writer in Python cost 48,000."""

    __slots__ = ("_encode", "compact")

    def __init__(self, *, fast: bool | None = None) -> None:
        orjson = orjson_module() if fast is not False else None
        if fast and orjson is None:
            raise ImportError("orjson is not installed (pip install 'tradepay[orjson]')")
        self.compact = orjson is not None
        if orjson is None:
            self._encode = _json_encoder(": ", ", ")
            return
        plain = _json_encoder(":", ",")
        dumps = orjson.dumps
        # Dataclasses and datetimes to the default, as json hands them: their repr, not orjson's own form.
        options = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME

        def encode(event: Any) -> str:
            try:
                raw = dumps(event, default=_json_default, option=options)
            except TypeError:  # orjson.JSONEncodeError: what it refuses, json writes
                return plain(event)
            # orjson writes other characters as they are; the lines stay ASCII, as json's are, so that no
            # right-to-left override or C1 control in a provider's text reaches a terminal showing the log.
            if raw.isascii():
                line: str = raw.decode()
                return line
            return plain(event)

        self._encode = encode

    def __call__(self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> str:
        return self._encode(event_dict)


class UTCTimeStamper:
    """A structlog processor: ``timestamp``, the moment in UTC as ``TimeStamper(fmt="iso", utc=True)`` writes
    it (``2026-01-31T12:34:56.789012Z``), the date and time of the second formatted once per second.

    Measured per event: structlog's 18,500 instructions (a ``datetime`` made and formatted on each), this
    about 6,000."""

    __slots__ = ("_second",)

    def __init__(self) -> None:
        self._second: tuple[int, str] = (-1, "")

    def __call__(self, _logger: object, _method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        second, micro = divmod(time.time_ns() // 1000, 1_000_000)
        cached = self._second  # one read: another thread may replace it meanwhile
        if cached[0] != second:
            cached = self._second = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        event_dict["timestamp"] = f"{cached[1]}.{micro:06d}Z" if micro else f"{cached[1]}Z"
        return event_dict


class WhenException:
    """A structlog processor: ``formatter`` (``ExceptionRenderer``, ``format_exc_info``) for an event that
    carries ``exc_info``, and the event as it is otherwise, which is what the formatter itself would give.

    Measured per event without an exception: 1,500 instructions fewer than calling the formatter."""

    __slots__ = ("_formatter",)

    def __init__(self, formatter: Callable[[Any, str, MutableMapping[str, Any]], MutableMapping[str, Any]]) -> None:
        self._formatter = formatter

    def __call__(self, logger: object, method: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        return self._formatter(logger, method, event_dict) if "exc_info" in event_dict else event_dict
