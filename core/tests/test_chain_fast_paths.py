"""The shortcuts the chain takes on every payment give what the plain way gives (docs/performance.md says what
each one buys): a shortcut that goes wrong fails here."""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from collections.abc import Callable
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepay import ErrorCode, PaymentResult, ResultCode, ResultError
from tradepay._chain import breaker, chain
from tradepay._chain.capabilities import Attempt, ProviderStatus
from tradepay._chain.providers import HookCall
from tradepay._chain.threads import DaemonPool
from tradepay._ledger import memory
from tradepay._ledger.records import AttemptRecord, Decision, OutcomeKind, attempt_record

_WITH_MEMBERS = (chain, breaker, memory)


@pytest.mark.parametrize("module", _WITH_MEMBERS, ids=lambda module: module.__name__)
def test_each_enum_member_read_once_is_the_member_its_name_says(module: ModuleType) -> None:
    found = {name: value for name, value in vars(module).items() if isinstance(value, enum.Enum)}
    assert found, "the module keeps no enum member of its own any more: drop it from this test"
    for name, member in found.items():
        # ``_STOP`` is Decision.STOP, ``_ORDER_PAID`` is OrderStatus.PAID: the name ends with the member's.
        assert name.endswith(f"_{member.name}"), (name, member)


def test_the_chain_reads_the_members_of_the_enums_it_compares() -> None:
    # A constant of the right name but of another enum (ProviderStatus.PAID for OrderStatus.PAID) passes the test
    # above; the chain's comparisons would then never match. Each constant's enum, as the chain means it:
    expected = {
        "_STOP": "Decision",
        "_INQUIRE": "Decision",
        "_ANSWER": "OutcomeKind",
        "_EXCEPTION": "OutcomeKind",
        "_INVALID": "OutcomeKind",
        "_TIMEOUT": "OutcomeKind",
        "_SUCCEEDED": "PaymentStatus",
        "_FAILED": "PaymentStatus",
        "_CANCELLED": "PaymentStatus",
        "_NEEDS_RECONCILIATION": "PaymentStatus",
        "_PAID": "ProviderStatus",
        "_NOT_PAID": "ProviderStatus",
        "_UNKNOWN": "ProviderStatus",
        "_ORDER_OPEN": "OrderStatus",
        "_ORDER_PAID": "OrderStatus",
        "_ORDER_CLOSED": "OrderStatus",
        "_SUCCESS": "ResultCode",
    }
    found = {name: type(value).__name__ for name, value in vars(chain).items() if isinstance(value, enum.Enum)}
    assert found == expected
    assert (type(breaker._ANSWER).__name__, type(breaker._SUCCESS).__name__) == ("OutcomeKind", "ResultCode")
    assert (breaker._SCOPE_KEY, breaker._PROVIDER_SCOPE) == (breaker.FailureScope.KEY, "provider")
    found = {name: type(value).__name__ for name, value in vars(memory).items() if isinstance(value, enum.Enum)}
    assert found == {
        "_PROCESSING": "PaymentStatus",
        "_SUCCEEDED": "PaymentStatus",
        "_UNKNOWN": "ProviderStatus",
        "_ORDER_PAID": "OrderStatus",
    }


_ATTEMPTS = st.one_of(
    st.builds(
        Attempt,
        st.just("pay_0123456789abcdef"),
        st.integers(1, 9),
        st.sampled_from(["wallet", "card", "a-provider-with-a-long-name"]),
        st.just("pay_0123456789abcdef-1"),
    ),
    st.just("not an attempt"),
)
_RESULTS = st.one_of(
    st.none(),
    st.just(PaymentResult(ResultCode.SUCCESS, "paid")),
    st.just(PaymentResult(ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"))),
    st.just({"resultCode": "9000"}),
)
_TEXTS = st.one_of(st.text(max_size=20), st.sampled_from(["success", "decline", "4111 1111 1111 1111", " ", ""]))


def _members_or_values(kind: type[enum.Enum]) -> st.SearchStrategy[object]:
    return st.one_of(st.sampled_from(list(kind)), st.sampled_from([m.value for m in kind]), st.just("nonsense"))


def _made(make: Callable[..., AttemptRecord], fields: tuple[object, ...]) -> AttemptRecord | tuple[type, str]:
    try:
        return make(*fields)
    except Exception as exc:
        return type(exc), str(exc)


def _check_the_same(fields: tuple[object, ...]) -> None:
    made, expected = _made(attempt_record, fields), _made(AttemptRecord, fields)
    if not isinstance(expected, AttemptRecord):
        assert made == expected  # the same error, with the same words
        return
    assert type(made) is AttemptRecord
    assert made == expected
    for field in dataclasses.fields(AttemptRecord):  # a slot left unset would raise AttributeError here
        ours, theirs = getattr(made, field.name), getattr(expected, field.name)
        assert (type(ours), ours) == (type(theirs), theirs), field.name
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.rule = "changed"  # type: ignore[misc]
    assert dataclasses.replace(made, detail="x") == dataclasses.replace(expected, detail="x")


@given(
    fields=st.tuples(
        _ATTEMPTS,
        _members_or_values(OutcomeKind),
        _RESULTS,
        _TEXTS,
        _members_or_values(Decision),
        _members_or_values(Decision),
        _TEXTS,
        st.one_of(st.floats(), st.integers(-5, 10**9), st.just("1.5")),
        _members_or_values(ProviderStatus),
    )
)
def test_attempt_record_gives_what_the_constructor_gives(fields: tuple[object, ...]) -> None:
    _check_the_same(fields)


@given(
    fields=st.tuples(
        _ATTEMPTS.filter(lambda attempt: isinstance(attempt, Attempt)),
        st.sampled_from(list(OutcomeKind)),
        _RESULTS.filter(lambda result: not isinstance(result, dict)),
        st.from_regex(r"[a-z_-]{1,20}", fullmatch=True),
        st.sampled_from(list(Decision)),
        st.sampled_from(list(Decision)),
        st.just(""),
        st.floats(0.0, 10.0**6),
        st.sampled_from(list(ProviderStatus)),
    )
)
def test_attempt_record_of_the_chains_own_fields_is_the_constructors(fields: tuple[object, ...]) -> None:
    # The fields of the shortcut's own case (every one of its exact type, no detail): each lands in its own slot.
    _check_the_same(fields)


_AVAILABLE = {"payment_request": "the request", "api_context": "the context", "order": "the order", "attempt": "a"}


@given(names=st.lists(st.sampled_from(sorted(_AVAILABLE)), unique=True), is_async=st.booleans())
def test_a_hook_call_passes_each_argument_its_implementation_names(names: list[str], is_async: bool) -> None:
    # The arguments are picked positionally, in the order of the implementation's names, as pluggy calls it.
    received: list[dict[str, object]] = []

    def record(*args: object) -> PaymentResult:
        received.append(dict(zip(names, args, strict=True)))
        return PaymentResult(ResultCode.SUCCESS, "paid")

    async def record_async(*args: object) -> PaymentResult:
        return record(*args)

    call = HookCall(record_async if is_async else record, tuple(names), is_async)
    pool = DaemonPool(1, "test-hook-call")
    try:
        answer = asyncio.run(call(_AVAILABLE, 5.0, pool))
    finally:
        pool.shutdown()
    assert answer.result_code is ResultCode.SUCCESS
    assert received == [{name: _AVAILABLE[name] for name in names}]
