"""Every public constructor either builds a value or refuses its arguments with InvalidInput or ConfigError.

The classes are taken from ``tradepay.__all__``, so a new public class is covered without a change here.
Each is tried from a valid example with any of its arguments replaced by a hostile one (a wrong type, a
negative, NaN or infinity, an integer of thousands of digits, empty or huge text, control characters, a
lone surrogate, another public object); a class without an example is tried with hostile arguments only.
Nothing else may escape: no ``TypeError``, ``ValueError``, ``KeyError``, ``AttributeError``, ``re.error``.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import enum
import inspect
import io
import math
import os
import re
import time
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tradepay
from tradepay import (
    ATTEMPTS_TABLE,
    DEFAULT_RULES,
    APIContext,
    AsyncRefundingStoreProvider,
    AsyncStoreProvider,
    Attempt,
    AttemptKeys,
    AttemptRecord,
    AttemptRow,
    AttemptTable,
    Capabilities,
    CardNumber,
    CardSecret,
    ChainSettings,
    Config,
    ConfigError,
    ErrorCode,
    Host,
    HostSettings,
    InvalidInput,
    MemoryLedger,
    MiniProgramMetaData,
    Notification,
    Order,
    Payment,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
    PlanStep,
    PostgresLedger,
    ProviderConfig,
    ProviderSettings,
    ProviderStore,
    Refund,
    RefundAnswer,
    RefundCharge,
    RefundingStoreProvider,
    RefundKeys,
    RefundOutcome,
    RefundResult,
    RefundRow,
    RefundService,
    ResultCode,
    ResultError,
    Rule,
    RuleTable,
    SQLiteLedger,
    StoreProvider,
    StoreSettings,
    StoreTransaction,
    configure_logging,
)
from tradepay.testing import ReferenceProvider

# What a public constructor may raise for arguments it refuses.
DOCUMENTED = (InvalidInput, ConfigError)
SECRET = "a-merchant-secret-of-some-length"


def public_classes() -> list[type]:
    """The classes of ``tradepay.__all__`` a caller constructs: not the exceptions (an error is made by the
    host, from a field and a reason) and not the protocols (they describe a type and cannot be made)."""
    found = []
    for name in tradepay.__all__:
        value = getattr(tradepay, name)
        if not inspect.isclass(value) or issubclass(value, BaseException) or getattr(value, "_is_protocol", False):
            continue
        found.append(value)
    return found


class _NoConnection:
    """A connection for :class:`RefundKeys` that is never used: constructing one runs no statement."""

    def execute(self, sql: str, params: object = (), /) -> object:
        raise AssertionError("RefundKeys ran a statement on construction")


class _Examples:
    """Valid arguments for each public constructor, made once (they include a host, closed at the end)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        amount = PaymentAmount("USD", "100")
        error = ResultError(ErrorCode.APP_SERVICE_ERROR, "declined")
        result = PaymentResult(ResultCode.FAILED, "declined", error, {"reason": "NO_FUNDS"})
        attempt = Attempt("pay-1", 1, "ref", "pay-1-1")
        record = AttemptRecord(attempt, "answer", result, "declined", "fallthrough", "fallthrough", "", 1.5)  # type: ignore[arg-type]
        chain = ChainSettings(("ref",))
        rule = Rule("r", "stop", provider="ref", kind="answer", result_code="4000", error_code=1002, detail="X.*")  # type: ignore[arg-type]
        self.host = Host({"ref": ReferenceProvider()}, chain=chain)
        store = ProviderStore(
            folder / "store.sqlite3", schema="tradepay_store", migrations=(ATTEMPTS_TABLE,), where="w"
        )
        self.by_class: dict[Callable[..., object], dict[str, object]] = {
            PaymentService: {"host": self.host},
            RefundService: {"host": self.host},
            PaymentRequest: {
                "type": "ORDER_ID",
                "payment_string": "T1",
                "payment_amount": amount,
                "extended_info": {"k": "v"},
            },
            PaymentAmount: {"currency": "USD", "value": "100"},
            APIContext: {
                "source": "miniprogram",
                "mini_program_info": MiniProgramMetaData(app_id="app"),
                "extended_info": {"userId": "alice"},
            },
            MiniProgramMetaData: {
                "app_id": "2021000000000001",
                "merchant_id": "shop-1",
                "name": "Shop",
                "desc": "a shop",
            },
            PaymentResult: {
                "result_code": "4000",
                "result_message": "declined",
                "result_error": error,
                "extended_info": {"reason": "X"},
            },
            ResultError: {"error_code": 1002, "error_desc": "declined"},
            Attempt: {"payment_id": "pay-1", "number": 1, "provider": "ref", "idempotency_key": "pay-1-1"},
            Capabilities: {
                "currencies": frozenset({"USD"}),
                "payment_types": frozenset({PaymentType.ORDER_ID}),
                "min_amount": 1,
                "max_amount": 100,
            },
            ProviderConfig: {"name": "ref", "settings": {"script": ["success"]}, "data_dir": folder},
            Order: {
                "trade_no": "T1",
                "amount": amount,
                "merchant_id": "shop-1",
                "payer_id": "alice",
                "status": "open",
                "expires_at": 2e9,
            },
            Host: {
                "providers": {"ref": ReferenceProvider()},
                "chain": chain,
                "rules": [rule],
                "host": HostSettings(),
                "deadlines": {"ref": 5.0},
            },
            Config: {
                "chain": chain,
                "host": HostSettings(),
                "providers": {"ref": ProviderSettings(5.0)},
                "rules": (rule,),
                "merchants": {"shop-1": SECRET},
            },
            ChainSettings: {
                "providers": ("ref",),
                "deadline_s": 30,
                "provider_deadline_s": 10.0,
                "inquiry_attempts": 3,
                "inquiry_interval_s": 1.0,
                "breaker_threshold": 5,
                "breaker_cooldown_s": 30.0,
                "in_flight_repeat": "wait",
            },
            HostSettings: {"data_dir": folder, "provider_threads": 4, "cashier_url": "https://pay.example.com/cashier"},
            ProviderSettings: {"deadline_s": 5.0, "settings": {"script": ["success"]}},
            Rule: {
                "name": "r",
                "decision": "stop",
                "provider": "ref",
                "kind": "answer",
                "result_code": "4000",
                "error_code": 1002,
                "detail": "X.*",
            },
            RuleTable: {"overrides": [rule], "defaults": DEFAULT_RULES},
            PlanStep: {"provider": "ref", "skip_reason": None},
            MemoryLedger: {
                "cashier_url": "https://pay.example.com/cashier",
                "merchant_secrets": {"shop-1": SECRET},
                "clock": time.time,
            },
            SQLiteLedger: {
                "path": folder / "ledger.sqlite3",
                "cashier_url": "https://pay.example.com/cashier",
                "merchant_secrets": {"shop-1": SECRET},
                "clock": time.time,
            },
            # Never a reachable URL: the property is about arguments refused before anything is connected.
            PostgresLedger: {"url": "mysql://nowhere", "max_connections": 2},
            Payment: {
                "payment_id": "pay-1",
                "trade_no": "T1",
                "status": "failed",
                "result": result,
                "attempts": (record,),
                "app_id": "app",
                "created_at": 1.0,
                "updated_at": 2.0,
                "pending": None,
            },
            AttemptRecord: {
                "attempt": attempt,
                "kind": "answer",
                "result": result,
                "rule": "declined",
                "decision": "fallthrough",
                "final": "fallthrough",
                "detail": "",
                "duration_ms": 1.5,
                "status": "not_paid",
            },
            Refund: {
                "refund_id": "rf_1",
                "trade_no": "T1",
                "payment_id": "pay-1",
                "attempt": attempt,
                "amount": amount,
                "request_id": "r-1",
                "merchant_id": "shop-1",
                "reason": "damaged",
                "status": "processing",
                "answer": RefundAnswer(RefundOutcome.SUCCEEDED),
                "created_at": 1.0,
                "updated_at": 2.0,
            },
            RefundAnswer: {"outcome": "failed", "reason": "REFUND_WINDOW_EXCEEDED", "message": "too late"},
            Notification: {
                "event_id": "evt_0123456789abcdef01234567",
                "kind": "notifyRefund",
                "merchant_id": "shop-1",
                "trade_no": "T1",
                "subject_id": "rf_1",
                "sequence": 2,
                "payload": '{"notifyType":"notifyRefund"}',
                "status": "pending",
                "attempts": 1,
                "next_attempt_at": 3.0,
                "created_at": 1.0,
                "updated_at": 2.0,
                "lease_until": 4.0,
                "leased_by": "worker-1",
                "last_error": "HTTP 503",
                "delivered_at": None,
            },
            RefundResult: {
                "result_status": "S",
                "result_code": "SUCCESS",
                "result_message": "refunded",
                "refund": None,
            },
            RefundRow: {
                "refund_key": "rf_1",
                "payment_key": "pay-1-1",
                "status": "succeeded",
                "currency": "USD",
                "amount": 100,
                "reason": None,
                "message": "USD 1.00 credited back",
            },
            RefundCharge: {"currency": "USD", "amount": 100, "refunded": 0, "reversed": False},
            RefundKeys: {"conn": _NoConnection(), "now": 1.0},
            AttemptKeys: {"conn": _NoConnection(), "now": 1.0, "table": AttemptTable(), "for_update": ""},
            AttemptRow: {
                "idempotency_key": "pay-1-1",
                "status": "paid",
                "payer_id": "alice",
                "merchant_id": None,
                "trade_no": "T1",
                "currency": "USD",
                "amount": 100,
                "result": None,
                "extra": {},
            },
            AttemptTable: {"payer": "payer_id", "merchant": None, "paid": "paid", "extra": (), "trade_no_asked": True},
            StoreTransaction: {"conn": _NoConnection(), "now": 1.0, "kind": "sqlite", "table": AttemptTable()},
            StoreSettings: {"database": folder / "store.sqlite3", "currencies": None, "max_amount": None},
            **{
                base: {"settings": StoreSettings(folder / "store.sqlite3"), "store": store}
                for base in (StoreProvider, AsyncStoreProvider, RefundingStoreProvider, AsyncRefundingStoreProvider)
            },
            ProviderStore: {
                "location": folder / "store.sqlite3",
                "schema": "tradepay_store",
                "migrations": (ATTEMPTS_TABLE,),
                "where": "providers.store.database",
                "transaction": StoreTransaction,
                "attempts": None,
                "clock": time.time,
                "base": None,
            },
            CardNumber: {"value": "4242424242424242"},
            CardSecret: {"value": "123"},
            Config.from_mapping: {"raw": {"chain": {"providers": ["ref"]}}, "base_dir": folder, "path": None},
            configure_logging: {"fmt": "json", "level": "info", "stream": io.StringIO(), "cache": False},
        }
        self._strategies: dict[tuple[object, str], st.SearchStrategy[object]] = {}
        self.others = [amount, error, result, attempt, record, chain, rule, HostSettings(), ProviderSettings()]

    def hostile_for(self, constructor: Callable[..., object], name: str) -> st.SearchStrategy[object]:
        """The hostile values of parameter ``name`` (made once: making strategies is the slow part)."""
        key = (constructor, name)
        if key not in self._strategies:
            strategy = hostile(self)
            if (constructor, name) in CONTAINED:
                strategy = strategy.filter(CONTAINED[constructor, name])
            self._strategies[key] = strategy
        return self._strategies[key]

    def of(self, constructor: Callable[..., object]) -> dict[str, object]:
        if isinstance(constructor, type) and issubclass(constructor, enum.Enum):
            return {"value": next(iter(constructor)).value}
        return dict(self.by_class.get(constructor, {}))


HUGE = 10**5000
HOSTILE_VALUES: list[object] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**63,
    -(2**63) - 1,
    HUGE,
    -HUGE,
    0.5,
    -0.0,
    math.nan,
    math.inf,
    -math.inf,
    1e308,
    "",
    " ",
    "x",
    "ref",
    "USD",
    "0",
    "-1",
    "nan",
    "\x00",
    "\ud800",
    "\x1b]0;title\x07",
    "x" * 100_000,
    "[",
    "(?P<",
    "javascript:alert(1)",
    "https://",
    "https://u:p@h/x",
    "sqlite:///",
    "memory",
    "4000.0000.0000.0069",
    b"bytes",
    [],
    [None],
    ["ref", "ref"],
    {},
    {"": ""},
    {1: 2},
    {"k": HUGE},
    (),
    (None,),
    set(),
    frozenset({1}),
    object(),
    Path(""),
    Path("\x00"),
    re.compile("x"),
    re.compile(b"x"),
    print,
    1j,
]


def _hostile_value(index: int) -> object:
    return HOSTILE_VALUES[index]


def hostile(examples: _Examples) -> st.SearchStrategy[object]:
    return st.one_of(
        # By index: Hypothesis describes its strategies with repr(), which an integer of 5000 digits refuses.
        st.sampled_from(range(len(HOSTILE_VALUES))).map(_hostile_value),
        st.sampled_from(examples.others),
        st.text(max_size=30),
        st.integers(),
        st.floats(),
        st.lists(st.text(max_size=5), max_size=3),
        st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
    )


# Arguments that must not be given just any value: these constructors write files or connect. Such a
# parameter gets only hostile values that are not a place to write to or connect to.
def _not_a_file_to_write(value: object) -> bool:
    return not isinstance(value, str | Path) or value in ("", Path(""))


def _not_a_database_to_connect_to(value: object) -> bool:
    return not (isinstance(value, str) and value.startswith("postgresql://"))


CONTAINED: dict[tuple[object, str], Callable[[object], bool]] = {
    (SQLiteLedger, "path"): _not_a_file_to_write,
    (PostgresLedger, "url"): _not_a_database_to_connect_to,
    (ProviderStore, "location"): _not_a_file_to_write,
}


def parameters(constructor: Callable[..., object]) -> list[str]:
    """The parameters to make hostile: every one, but only ``level`` of :func:`configure_logging` (its other
    options are the logging configuration's own to check)."""
    if isinstance(constructor, type) and issubclass(constructor, enum.Enum):
        return ["value"]
    if constructor is configure_logging:
        return ["level"]
    target = constructor.__init__ if isinstance(constructor, type) else constructor  # type: ignore[misc]
    kinds = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    names = [p.name for p in inspect.signature(target).parameters.values() if p.kind not in kinds]
    return [n for n in names if n not in ("self", "cls")]


def constructors() -> list[Callable[..., object]]:
    return [*public_classes(), Config.from_mapping, configure_logging]


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Iterator[_Examples]:
    made = _Examples(tmp_path_factory.mktemp("constructors"))
    yield made
    made.host.close()
    structlog.reset_defaults()


def _close(made: object) -> None:
    for name in ("close", "stop"):
        closing = getattr(made, name, None)
        if callable(closing) and not isinstance(made, type):
            closing()
            return


def test_every_public_class_has_an_example(examples: _Examples) -> None:
    classes = public_classes()
    assert len(classes) >= 30  # the filter must not drop the public API
    missing = [c.__name__ for c in classes if c not in examples.by_class and not issubclass(c, enum.Enum)]
    assert not missing, f"add a valid example for {missing} (hostile arguments alone rarely reach the checks)"


@pytest.mark.parametrize("constructor", constructors(), ids=lambda c: c.__qualname__)
def test_a_valid_example_is_built(constructor: Callable[..., object], examples: _Examples) -> None:
    if constructor is PostgresLedger:
        pytest.skip("the example URL is never reachable, on purpose")
    _close(constructor(**examples.of(constructor)))


@pytest.mark.parametrize("constructor", constructors(), ids=lambda c: c.__qualname__)
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_public_constructor_refuses_only_with_a_documented_error(
    constructor: Callable[..., object], examples: _Examples, data: st.DataObject
) -> None:
    kwargs = examples.of(constructor)
    names = parameters(constructor)
    replaced = data.draw(st.lists(st.sampled_from(names), unique=True, max_size=len(names)) if names else st.just([]))
    for name in replaced:
        kwargs[name] = data.draw(examples.hostile_for(constructor, name), label=name)
    refusal: InvalidInput | ConfigError | None = None
    try:
        made = constructor(**kwargs)
    except DOCUMENTED as exc:
        refusal = exc
    else:
        _close(made)
    finally:
        if constructor is configure_logging:
            structlog.reset_defaults()
    if refusal is not None:
        assert isinstance(refusal.field if isinstance(refusal, InvalidInput) else refusal.key, str)
        assert len(str(refusal)) < 2_000, "a refusal must echo its value bounded"


def _conforms(value: object, hint: object) -> bool:
    """Whether ``value`` is of the declared type ``hint``, read leniently: what the constructors convert (plain
    values of an enum, a string for a path or a pattern, any collection for a tuple or a set, an int for a
    float) conforms, and so does anything for a hint this reading does not know."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if getattr(hint, "_is_protocol", False):
        return True  # a protocol (Ledger) describes methods, which isinstance cannot check
    if origin in (typing.Union, types.UnionType):
        return any(_conforms(value, argument) for argument in arguments)
    if hint is None or hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is Path:
        return isinstance(value, str | os.PathLike)
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        try:
            hint(value)
        except ValueError:
            return False
        return True
    if isinstance(hint, type) and not arguments and hint.__module__.startswith("tradepay"):
        return isinstance(value, hint)
    if origin in (tuple, frozenset, collections.abc.Iterable):
        return isinstance(value, collections.abc.Iterable) and not isinstance(value, str | bytes | Mapping)
    if origin is collections.abc.Mapping:
        return value is None or isinstance(value, Mapping)  # a missing map is taken as an empty one
    return True  # Any, Callable, re.Pattern, protocols: not judged here


def _is_text(hint: object) -> bool:
    return hint is str or str in typing.get_args(hint)


def declared_types(constructor: Callable[..., object]) -> dict[str, object]:
    """The declared types of ``constructor``'s parameters, but text: what a text field may hold (and that it
    is a string) is the text fields' own property, in the models' tests."""
    if isinstance(constructor, type) and issubclass(constructor, enum.Enum):
        return {}
    target = constructor.__init__ if isinstance(constructor, type) else constructor  # type: ignore[misc]
    hints = typing.get_type_hints(constructor if dataclasses.is_dataclass(constructor) else target)
    return {name: hints[name] for name in parameters(constructor) if name in hints and not _is_text(hints[name])}


@pytest.mark.parametrize("constructor", constructors(), ids=lambda c: c.__qualname__)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_a_value_not_of_the_declared_type_is_refused(
    constructor: Callable[..., object], examples: _Examples, data: st.DataObject
) -> None:
    declared = declared_types(constructor)
    if not declared:
        return
    name = data.draw(st.sampled_from(sorted(declared)), label="parameter")
    value = data.draw(examples.hostile_for(constructor, name), label=name)
    if _conforms(value, declared[name]):
        return
    kwargs: dict[str, typing.Any] = {**examples.of(constructor), name: value}
    if constructor is Rule and name == "result_code" and type(value) is int:
        # TOML may write a result code unquoted, so a rule takes 4000 as "4000" (docs/configuration.md says
        # "an integer is accepted"): such an integer is either refused or read as that very code.
        try:
            rule = Rule(**kwargs)
        except DOCUMENTED:
            return
        assert rule.result_code is ResultCode(str(value))
        return
    try:
        made = constructor(**kwargs)
    except DOCUMENTED:
        return
    finally:
        if constructor is configure_logging:
            structlog.reset_defaults()
    _close(made)
    raise AssertionError(f"{constructor.__qualname__} accepted {type(value).__name__} for {name}: {declared[name]}")
