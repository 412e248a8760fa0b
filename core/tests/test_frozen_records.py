"""The records made with ``set_at_once`` (tradepay._spi.frozen) are made as their dataclass's own ``__init__``
makes them: the same parameters and defaults, the same fields, the same errors, still frozen."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepay import ErrorCode, PaymentAmount, PaymentResult, ResultCode, ResultError
from tradepay._chain.capabilities import Attempt, ProviderStatus
from tradepay._ledger.orders import Order
from tradepay._ledger.records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus
from tradepay._spi.frozen import _GENERATED, checked_init, set_at_once, unchecked

_RECORDS = (Attempt, AttemptRecord, Payment)

_IDS = st.one_of(
    st.sampled_from(["pay_0123456789abcdef", "pay_0123456789abcdef-1", "wallet", "T0123456789abcdef0123", "2021"]),
    st.text(max_size=14),
    st.sampled_from(["", " ", "4111 1111 1111 1111", "a" * 65]),
    st.none(),
    st.integers(),
)
_ATTEMPT = Attempt("pay_0123456789abcdef", 1, "card", "pay_0123456789abcdef-1")
_RESULTS = st.sampled_from(
    [
        None,
        PaymentResult(ResultCode.SUCCESS, "paid"),
        PaymentResult(ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED")),
        "9000",
    ]
)
_RECORD = AttemptRecord(
    _ATTEMPT, OutcomeKind.ANSWER, None, "success", Decision.STOP, Decision.STOP, "", 0.5, ProviderStatus.PAID
)
_MOMENTS = st.one_of(st.floats(), st.integers(-1, 2 * 10**11), st.just("1.0"))


def _members(kind: Any) -> st.SearchStrategy[object]:
    return st.one_of(st.sampled_from(list(kind)), st.sampled_from([m.value for m in kind]), st.just("nonsense"))


_FIELDS: dict[type, st.SearchStrategy[tuple[object, ...]]] = {
    Attempt: st.tuples(_IDS, st.one_of(st.integers(-1, 10**12), st.just(True), st.just("1")), _IDS, _IDS),
    AttemptRecord: st.tuples(
        st.sampled_from([_ATTEMPT, "attempt"]),
        _members(OutcomeKind),
        _RESULTS,
        _IDS,
        _members(Decision),
        _members(Decision),
        st.one_of(st.just(""), _IDS),
        st.one_of(st.floats(), st.integers(-1, 10**9)),
        _members(ProviderStatus),
    ),
    Payment: st.tuples(
        _IDS,
        _IDS,
        _members(PaymentStatus),
        _RESULTS,
        st.sampled_from([(), (_RECORD,), [_RECORD], (_RECORD, "record"), None]),
        _IDS,
        _MOMENTS,
        _MOMENTS,
        st.sampled_from([None, _ATTEMPT, "attempt"]),
        st.sampled_from([None, Order("T-1", PaymentAmount("USD", "100"), "m-1", "u-1"), "order"]),
    ),
}


def _made(make: Callable[[], object]) -> object:
    try:
        return make()
    except Exception as exc:
        return type(exc), str(exc)


def _by_the_generated_init(cls: Any, fields: tuple[object, ...]) -> object:
    record: object = object.__new__(cls)
    checked_init(cls)(record, *fields)
    return record


def _same(cls: Any, ours: object, theirs: object) -> None:
    names = [field.name for field in dataclasses.fields(cls)]
    if not isinstance(theirs, cls):
        assert ours == theirs  # the same error, with the same words
        return
    assert type(ours) is cls
    assert ours == theirs
    for name in names:  # a slot left unset would raise AttributeError here
        mine, expected = getattr(ours, name), getattr(theirs, name)
        assert (type(mine), mine) == (type(expected), expected), name
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(ours, names[0], "changed")


def test_the_records_made_at_once_are_the_hosts_per_payment_records() -> None:
    assert set(_GENERATED) >= set(_RECORDS)


@pytest.mark.parametrize("cls", _RECORDS, ids=lambda cls: cls.__name__)
def test_a_record_made_at_once_takes_what_its_generated_init_takes(cls: Any) -> None:
    assert inspect.signature(cls.__init__) == inspect.signature(checked_init(cls))


@pytest.mark.parametrize("cls", _RECORDS, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_a_record_made_at_once_is_what_its_generated_init_makes(cls: Any, data: st.DataObject) -> None:
    fields = data.draw(_FIELDS[cls])
    _same(cls, _made(lambda: cls(*fields)), _made(lambda: _by_the_generated_init(cls, fields)))


@given(fields=_FIELDS[Payment])
def test_a_payment_by_keyword_and_with_its_defaults_is_the_generated_inits(fields: tuple[object, ...]) -> None:
    payment: Any = Payment  # called with what its types refuse, on purpose
    names = [field.name for field in dataclasses.fields(Payment)]
    by_name = dict(zip(names, fields, strict=True))
    _same(Payment, _made(lambda: payment(**by_name)), _made(lambda: _by_the_generated_init(Payment, fields)))
    short = fields[:4]
    _same(Payment, _made(lambda: payment(*short)), _made(lambda: _by_the_generated_init(Payment, short)))


@given(fields=_FIELDS[AttemptRecord])
def test_the_twin_of_a_record_sets_each_field_in_its_own_slot(fields: tuple[object, ...]) -> None:
    made = unchecked(AttemptRecord)(*fields)
    assert type(made) is AttemptRecord
    for field, value in zip(dataclasses.fields(AttemptRecord), fields, strict=True):
        assert getattr(made, field.name) is value, field.name


def test_a_subclass_of_a_record_is_made_by_the_generated_init() -> None:
    @dataclasses.dataclass(frozen=True)
    class Tagged(Attempt):
        tag: str = "x"

    tagged = Tagged("pay_0123456789abcdef", 2, "card", "pay_0123456789abcdef-2")
    assert type(tagged) is Tagged
    assert (tagged.number, tagged.tag) == (2, "x")


def test_a_class_whose_init_does_more_than_set_its_fields_is_refused() -> None:
    @dataclasses.dataclass(frozen=True, slots=True)
    class WithFactory:
        values: list[int] = dataclasses.field(default_factory=list)

    @dataclasses.dataclass(slots=True)
    class NotFrozen:
        value: int

    for cls in (WithFactory, NotFrozen):
        with pytest.raises(TypeError, match="set_at_once needs a frozen, slotted dataclass"):
            set_at_once(cls)
