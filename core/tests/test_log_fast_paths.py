"""The log pipeline's shortcuts give what the plain way gives: the redaction's pre-check never lets a card
number through, the memory of clean text holds only clean text, and the JSON renderer and time stamper of
``configure_logging`` write what structlog's ``JSONRenderer`` and ``TimeStamper`` write."""

from __future__ import annotations

import datetime
import enum
import io
import json
import logging
import math
import re
import uuid
from collections.abc import MutableMapping
from typing import Any

import pytest
import structlog
from hypothesis import example, given
from hypothesis import strategies as st

from tradepay import configure_logging, get_logger, log_failures, redact_card_data
from tradepay._logging import bind_on_use
from tradepay._logrender import JSONLines, UTCTimeStamper, orjson_module
from tradepay._redaction import _CLEAN, _CLEAN_CAP
from tradepay._spi.cards import _RUN, _masked_runs, _no_run_in_ascii, luhn_valid

# Every ASCII character the card rule treats specially (digits, the separators, the backslash of escapes),
# and a few that it does not (letters, hex digits, punctuation).
_ASCII = st.text(st.sampled_from("0123456789 \t\n\x0b\x0c\r\x1c\x1f-._\\xuUtnrabcdefT:/,;#+"), max_size=60)
# Half digits: long runs of them, broken by a separator, a letter or an escape here and there.
_DIGIT_HEAVY = st.text(
    st.one_of(st.sampled_from("0123456789"), st.sampled_from(" \t-._\\xuabT:")), min_size=13, max_size=60
)


# What the card rule lets stand between two digits in ASCII text: one white-space character, a dash, a dot, an
# underscore, or an escape as repr and JSON write them (its hex digits are not digits of the number).
_SEPARATORS = set(" \t\n\x0b\x0c\r\x1c\x1d\x1e\x1f-._")
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[tnr])")


def _luhn_valid_runs(text: str) -> list[str]:
    """Every 13-19 digit run in ASCII ``text``, at most three separators between two of its digits, that passes
    the Luhn check, card prefix or not: a reference written without the module's regular expressions."""
    tokens: list[str] = []  # a digit, "s" for a separator, "x" for anything else
    i = 0
    while i < len(text):
        escape = _ESCAPE.match(text, i)
        if escape is not None:
            tokens.append("s")
            i = escape.end()
            continue
        tokens.append(text[i] if text[i].isdigit() else "s" if text[i] in _SEPARATORS else "x")
        i += 1
    found = []
    for start, token in enumerate(tokens):
        if not token.isdigit():
            continue
        digits, gap = "", 0
        for later in tokens[start:]:
            if later.isdigit():
                digits, gap = digits + later, 0
                if 13 <= len(digits) <= 19 and luhn_valid(digits):
                    found.append(digits)
            elif later == "s" and gap < 3:
                gap += 1
            else:
                break
    return found


@given(st.one_of(_ASCII, _DIGIT_HEAVY))
@example("T0123456789abcdef0123")
@example("4000 0000 0000 0002")
@example("4000\\xa00000\\xa00000\\xa00002")
def test_text_the_pre_check_clears_holds_no_card_number(text: str) -> None:
    if _no_run_in_ascii(text):
        assert _RUN.search(text) is None
        assert _masked_runs(text) is text  # the full scan would have changed nothing
        assert _luhn_valid_runs(text) == []  # no Luhn-valid 13-19 digit run at all, card prefix or not


@given(st.text(st.sampled_from("0123456789 -._abcdef"), max_size=10), st.text(st.sampled_from(" -._xyz"), max_size=10))
def test_a_card_number_is_never_cleared(before: str, after: str) -> None:
    for pan in ("4000000000000002", "4000 0000 0000 0002", "4000-0000-0000-0002", "5555.5555.5555.4444"):
        text = f"{before}{pan}{after}"
        assert pan.replace(" ", "").replace("-", "").replace(".", "") in _luhn_valid_runs(text)  # the reference sees it
        assert not _no_run_in_ascii(text)  # so the full scan runs, and masks it as before


def test_the_memory_of_clean_text_holds_only_text_left_as_it_is() -> None:
    _CLEAN.clear()
    event = {"payment_id": "pay_0123456789abcdef", "note": "card 4000 0000 0000 0002", "trade_no": "T" * 20}
    redact_card_data(None, "info", dict(event))
    assert {"pay_0123456789abcdef", "T" * 20} == _CLEAN
    again = redact_card_data(None, "info", dict(event))  # remembered text is passed, card text masked again
    assert again["note"] == "card 400000******0002"
    assert again["payment_id"] == "pay_0123456789abcdef"


def test_the_memory_of_clean_text_stays_bounded_and_skips_long_text() -> None:
    _CLEAN.clear()
    for number in range(_CLEAN_CAP + 10):
        redact_card_data(None, "info", {"payment_id": f"pay_{number:016x}"})
    assert 0 < len(_CLEAN) <= _CLEAN_CAP
    redact_card_data(None, "info", {"message": "x" * 300})
    assert "x" * 300 not in _CLEAN


class _Kind(enum.StrEnum):
    ANSWER = "answer"


class _Code(enum.IntEnum):
    DECLINED = 1002


class _Shown:
    def __structlog__(self) -> str:
        return "shown"


class _Opaque:
    def __repr__(self) -> str:
        return "<opaque>"


_EVENTS: list[dict[Any, Any]] = [
    {"event": "attempt.finished", "kind": _Kind.ANSWER, "error_code": _Code.DECLINED, "duration_ms": 0.012},
    {"event": "x", "nested": {"a": [1, 2.5, None, True]}, "t": (1, "two"), "text": 'caf\u00e9 \u2603 "quoted"\n'},
    {"event": "odd", "nan": math.nan, "inf": -math.inf, "big": 10**30, "shown": _Shown(), "opaque": _Opaque()},
    {"event": "keys", 1: "int key", None: "none key", 2.5: "float key", False: "bool key"},
]


@pytest.mark.parametrize("event", _EVENTS)
def test_the_json_renderer_writes_what_structlogs_writes(event: dict[Any, Any]) -> None:
    plain = JSONLines(fast=False)
    assert not plain.compact
    assert plain(None, "info", dict(event)) == structlog.processors.JSONRenderer()(None, "info", dict(event))


class _Colour(enum.Enum):
    RED = (1, "red")


def _renderers() -> list[JSONLines]:
    """The renderer in each form this environment can make: json's, and orjson's when it is installed."""
    return [JSONLines(fast=False), *([JSONLines(fast=True)] if orjson_module() is not None else [])]


def test_members_and_uuids_are_written_as_their_values_in_either_form() -> None:
    event = {"event": "x", "colour": _Colour.RED, "id": uuid.UUID(int=7), "when": datetime.date(2026, 1, 2)}
    for render in _renderers():
        assert json.loads(render(None, "info", dict(event))) == {
            "event": "x",
            "colour": [1, "red"],
            "id": "00000000-0000-0000-0000-000000000007",
            "when": "datetime.date(2026, 1, 2)",  # as json hands a date to the default: its repr
        }


def test_the_fast_form_needs_orjson(monkeypatch: pytest.MonkeyPatch) -> None:
    import tradepay._logrender as logrender

    monkeypatch.setattr(logrender, "orjson_module", lambda: None)
    with pytest.raises(ImportError, match="orjson"):
        logrender.JSONLines(fast=True)
    assert not logrender.JSONLines().compact  # the default without orjson: json's lines


def _finite(value: Any) -> Any:
    """A parsed line with NaN and the infinities as ``None`` (orjson writes them ``null``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_finite(v) for v in value]
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    return value


_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(),
    st.text(st.characters(codec=None, exclude_categories=())),  # lone surrogates included
    st.sampled_from([_Kind.ANSWER, _Code.DECLINED, _Colour.RED, uuid.UUID(int=99), _Shown(), _Opaque()]),
)
_KEYS = st.one_of(st.text(max_size=8), st.integers(), st.none(), st.booleans(), st.floats(allow_nan=False))
_VALUES = st.recursive(
    _LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.tuples(inner, inner),
        st.dictionaries(st.text(max_size=8), inner, max_size=4),
        st.dictionaries(_KEYS, inner, max_size=3),
    ),
    max_leaves=12,
)


@given(st.dictionaries(st.text(max_size=12), _VALUES, max_size=8))
def test_both_forms_of_the_json_renderer_write_the_same_objects(fields: dict[str, Any]) -> None:
    pytest.importorskip("orjson")
    event = {"event": "x", **fields}
    fast, plain = JSONLines(fast=True), JSONLines(fast=False)
    assert fast.compact
    line, reference = fast(None, "info", dict(event)), plain(None, "info", dict(event))
    assert "\n" not in line
    assert line.isascii()
    assert _finite(json.loads(line)) == _finite(json.loads(reference))
    # Compact: no white space outside the strings.
    assert not re.search(r"\s", _STRINGS.sub("", line))


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"')


def test_configured_json_lines_are_compact_with_orjson() -> None:
    pytest.importorskip("orjson")
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="json", level="info", stream=stream, cache=False)
    try:
        get_logger("tradepay").info("kept", note="caf\u00e9", amount=1)
        get_logger("tradepay").info("plain", note="cafe")
    finally:
        structlog.configure(**saved)
    kept, plain = stream.getvalue().splitlines()
    for line in (kept, plain):
        assert ", " not in line
        assert '": ' not in line
        assert line.isascii()  # other characters escaped, as json escapes them
    assert (json.loads(kept)["note"], json.loads(plain)["note"]) == ("café", "cafe")


def test_the_time_stamp_is_structlogs_iso_utc_form() -> None:
    before = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
    stamped = UTCTimeStamper()(None, "info", {})["timestamp"]
    after = datetime.datetime.now(datetime.UTC)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z", stamped)
    moment = datetime.datetime.fromisoformat(stamped.replace("Z", "+00:00"))
    assert before <= moment <= after


def test_a_logger_says_which_levels_its_configuration_keeps() -> None:
    stream = io.StringIO()
    saved = structlog.get_config()
    configure_logging(fmt="json", level="warning", stream=stream, cache=False)
    try:
        log = get_logger("tradepay").bind(payment_id="pay_1")
        assert not log.is_enabled_for(logging.INFO)
        assert log.is_enabled_for(logging.WARNING)
        log.warning("kept", value=1)
    finally:
        structlog.configure(**saved)
    assert json.loads(stream.getvalue())["event"] == "kept"


def test_an_unconfigured_logger_follows_the_standard_librarys_level() -> None:
    saved = structlog.get_config()
    structlog.reset_defaults()
    try:
        stdlib = logging.getLogger("tradepay_level_probe")
        stdlib.setLevel(logging.ERROR)
        log = get_logger("tradepay_level_probe")
        assert not log.is_enabled_for(logging.INFO)
        assert log.is_enabled_for(logging.ERROR)
    finally:
        structlog.configure(**saved)


def _recording_config(stream: io.StringIO, seen: list[str], level: int = logging.INFO) -> dict[str, Any]:
    """A structlog configuration of an application's own: its processors, one recording each method name."""

    def record(_logger: object, method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
        seen.append(method)
        return event_dict

    return {
        "processors": [
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            record,
            redact_card_data,
            structlog.processors.JSONRenderer(),
        ],
        "wrapper_class": structlog.make_filtering_bound_logger(level),
        "logger_factory": structlog.WriteLoggerFactory(stream),
        "cache_logger_on_first_use": False,
    }


_FIELD_NAMES = st.from_regex(r"[a-z_]{1,8}", fullmatch=True).filter(lambda name: name != "event")
_FLAT_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
_METHODS = ("debug", "info", "warning", "error", "critical")


@given(
    bound=st.dictionaries(_FIELD_NAMES, _FLAT_VALUES, max_size=4),
    fields=st.dictionaries(_FIELD_NAMES, _FLAT_VALUES, max_size=8),
    method=st.sampled_from(_METHODS),
)
@example(bound={"payment_id": "pay_1"}, fields={"card": "4111 1111 1111 1111"}, method="info")
def test_a_bound_logger_writes_what_structlogs_own_method_writes(
    bound: dict[str, Any], fields: dict[str, Any], method: str
) -> None:
    saved = structlog.get_config()
    ours, theirs = io.StringIO(), io.StringIO()
    seen: list[str] = []
    try:
        structlog.configure(**_recording_config(ours, seen))
        log = get_logger("tradepay").bind(**bound)
        assert log._floor == logging.INFO  # the direct path, not the logger's methods
        getattr(log, method)("probe", **fields)
        ours_seen = list(seen)
        structlog.configure(**_recording_config(theirs, seen))
        seen.clear()
        getattr(structlog.get_logger("tradepay").bind(**bound), method)("probe", **fields)
    finally:
        structlog.configure(**saved)
    assert ours.getvalue() == theirs.getvalue()
    assert ours_seen == seen  # the application's processors ran, with the same method name
    assert (ours.getvalue() == "") == (method == "debug")


def test_a_bound_loggers_events_carry_context_variables_and_its_exceptions_exc_info() -> None:
    saved = structlog.get_config()
    stream = io.StringIO()
    seen: list[str] = []
    structlog.configure(**_recording_config(stream, seen))
    try:
        log = get_logger("tradepay").bind(payment_id="pay_1")
        with structlog.contextvars.bound_contextvars(request_id="r-1"):
            log.info("with.context")
        try:
            raise ValueError("boom")
        except ValueError:
            log.exception("with.exception")
    finally:
        structlog.configure(**saved)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first == {"request_id": "r-1", "payment_id": "pay_1", "event": "with.context", "level": "info"}
    assert (second["event"], second["level"]) == ("with.exception", "error")
    assert second["exc_info"] is True  # structlog's exception(): the formatter of the application's choice
    assert seen == ["info", "error"]


def test_an_event_a_processor_drops_is_not_written_nor_counted_lost() -> None:
    from tradepay import log_failures

    def drop(_logger: object, _method: str, _event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        raise structlog.DropEvent

    saved = structlog.get_config()
    stream = io.StringIO()
    structlog.configure(
        processors=[drop, structlog.processors.JSONRenderer()],
        wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
        logger_factory=structlog.WriteLoggerFactory(stream),
    )
    lost = log_failures()
    try:
        get_logger("tradepay").bind(payment_id="pay_1").info("dropped")
    finally:
        structlog.configure(**saved)
    assert stream.getvalue() == ""
    assert log_failures() == lost


def test_an_applications_own_wrapper_class_is_called_as_it_is() -> None:
    calls: list[tuple[str, dict[str, Any]]] = []

    class Recording(structlog.make_filtering_bound_logger(logging.INFO)):  # type: ignore[misc]
        def info(self, event: str, *args: Any, **kw: Any) -> Any:
            calls.append((event, kw))

    saved = structlog.get_config()
    structlog.configure(wrapper_class=Recording, cache_logger_on_first_use=False)
    try:
        get_logger("tradepay").bind(payment_id="pay_1").info("mine", value=1)
    finally:
        structlog.configure(**saved)
    assert calls == [("mine", {"value": 1})]


@given(
    bound=st.dictionaries(_FIELD_NAMES, _FLAT_VALUES, max_size=4),
    fields=st.dictionaries(_FIELD_NAMES, _FLAT_VALUES, max_size=8),
    method=st.sampled_from((*_METHODS, "exception")),
    level=st.sampled_from((logging.DEBUG, logging.INFO, logging.WARNING)),
)
def test_a_logger_bound_on_use_writes_what_a_bound_logger_writes(
    bound: dict[str, Any], fields: dict[str, Any], method: str, level: int
) -> None:
    saved = structlog.get_config()
    ours, theirs = io.StringIO(), io.StringIO()
    seen: list[str] = []
    try:
        structlog.configure(**_recording_config(ours, seen, level))
        log = bind_on_use(get_logger("tradepay"), **bound)
        ours_enabled = [log.is_enabled_for(n) for n in (logging.DEBUG, logging.INFO, logging.ERROR)]
        getattr(log, method)("probe", **fields)
        ours_seen = list(seen)
        structlog.configure(**_recording_config(theirs, seen, level))
        seen.clear()
        log = get_logger("tradepay").bind(**bound)
        theirs_enabled = [log.is_enabled_for(n) for n in (logging.DEBUG, logging.INFO, logging.ERROR)]
        getattr(log, method)("probe", **fields)
    finally:
        structlog.configure(**saved)
    assert ours.getvalue() == theirs.getvalue()
    assert ours_seen == seen
    assert ours_enabled == theirs_enabled


@pytest.mark.parametrize("bind", [bind_on_use, lambda log, **fields: log.bind(**fields)], ids=["on_use", "bind"])
def test_a_logger_bound_on_use_keeps_the_configuration_it_was_bound_under(bind: Any) -> None:
    saved = structlog.get_config()
    first, second = io.StringIO(), io.StringIO()
    try:
        structlog.configure(**_recording_config(first, []))
        log = bind(get_logger("tradepay"), payment_id="pay_1")
        structlog.configure(**_recording_config(second, []))
        log.info("after")
        log.bind(attempt=2).warning("rebound")
    finally:
        structlog.configure(**saved)
    events = [json.loads(line) for line in first.getvalue().splitlines()]
    assert events == [
        {"payment_id": "pay_1", "event": "after", "level": "info"},
        {"payment_id": "pay_1", "attempt": 2, "event": "rebound", "level": "warning"},
    ]
    assert second.getvalue() == ""


def test_a_logger_whose_fields_cannot_be_bound_on_use_logs_unbound_and_counts_the_loss() -> None:
    class Refusing(dict[str, Any]):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if kwargs:
                raise ValueError("no fields here")
            super().__init__(*args)

    saved = structlog.get_config()
    stream = io.StringIO()
    structlog.configure(**{**_recording_config(stream, []), "context_class": Refusing})
    lost = log_failures()
    try:
        log = bind_on_use(get_logger("tradepay"), payment_id="pay_1")
        eager = get_logger("tradepay").bind(payment_id="pay_1")  # bind's own failure, for comparison
        log.warning("first")
        eager.warning("second")
    finally:
        structlog.configure(**saved)
    assert [json.loads(line)["event"] for line in stream.getvalue().splitlines()] == ["first", "second"]
    assert "payment_id" not in stream.getvalue()
    assert log_failures() == lost + 2
