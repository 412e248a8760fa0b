"""The shortcuts the chain takes on every payment give what the plain way gives (docs/performance.md says what
each one buys): a shortcut that goes wrong fails here."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
import gc
import inspect
from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType, ModuleType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tradepay import ErrorCode, PaymentRequest, PaymentResult, PaymentType, ResultCode, ResultError, hookimpl
from tradepay._chain import breaker, chain
from tradepay._chain.capabilities import Attempt, ProviderStatus
from tradepay._chain.providers import HookCall
from tradepay._chain.threads import DaemonPool
from tradepay._ledger import memory
from tradepay._ledger.orders import Order
from tradepay._ledger.records import AttemptRecord, Decision, OutcomeKind, attempt_record
from tradepay._spi.errors import InvalidInput
from tradepay._spi.models import PaymentAmount
from tradepay.testing import sample_context

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
        "_ORDER_ID": "PaymentType",
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


# --- the deadline of a provider that suspended: _UnderDeadline against asyncio.timeout_at around await ---------

_LONG = 10.0  # a hang: far past every deadline below


async def _plain_way(function: Callable[[], Any], timeout: float) -> Any:
    """What the chain did before: the call awaited under ``asyncio.timeout_at``, an awaitable answer under a
    second one with the same deadline."""
    when = asyncio.get_running_loop().time() + timeout
    async with asyncio.timeout_at(when):
        value = await function()
    if not isinstance(value, str) and inspect.isawaitable(value):
        async with asyncio.timeout_at(when):
            value = await value
    return value


async def _the_chains_way(function: Callable[[], Any], timeout: float) -> Any:
    pool = DaemonPool(1, "test-deadline")
    try:
        answered, value = HookCall(function, (), True).start({}, timeout, pool)
        assert not answered, "every provider here suspends first"
        assert type(value).__name__ == "_UnderDeadline"
        return await value
    finally:
        pool.shutdown()


async def _pause() -> None:
    await asyncio.sleep(0.001)


async def _answers(seen: list[str]) -> str:
    await _pause()
    return "paid"


async def _hangs(seen: list[str]) -> str:
    try:
        await asyncio.sleep(_LONG)
    except BaseException as exc:
        seen.append(type(exc).__name__)
        raise
    return "late"


async def _answers_on_cancel(seen: list[str]) -> str:
    try:
        await asyncio.sleep(_LONG)
    except asyncio.CancelledError:
        seen.append("cancelled")
        return "answered while cancelled"
    return "late"


async def _fails_on_cancel(seen: list[str]) -> str:
    try:
        await asyncio.sleep(_LONG)
    except asyncio.CancelledError:
        raise ValueError("provider bug") from None
    return "late"


async def _fails(seen: list[str]) -> str:
    await _pause()
    raise KeyError("provider bug")


async def _answers_an_awaitable(seen: list[str]) -> Any:
    await _pause()
    return _answers(seen)


async def _answers_a_hang(seen: list[str]) -> Any:
    await _pause()
    return _hangs(seen)


async def _two_steps(seen: list[str]) -> str:
    await _pause()
    await _pause()
    return "paid after two steps"


_Meanwhile = Callable[[asyncio.Task[Any], asyncio.AbstractEventLoop], object]


def _nothing(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
    return None


def _cancel_soon(task: asyncio.Task[Any], loop: asyncio.AbstractEventLoop) -> None:
    loop.call_later(0.01, task.cancel)


#: A provider (given where to note what it saw), its deadline, and what else happens to the awaiting task.
_SCENARIOS: dict[str, tuple[Callable[[list[str]], Any], float, _Meanwhile]] = {
    "answers in time": (_answers, 5.0, _nothing),
    "answers in two steps": (_two_steps, 5.0, _nothing),
    "misses the deadline": (_hangs, 0.02, _nothing),
    "deadline already past": (_hangs, 0.0, _nothing),
    "cancelled from elsewhere first": (_hangs, 5.0, _cancel_soon),
    # The other cancellation and the deadline in the same step of the loop: it stays a cancellation.
    "cancelled with the deadline": (_hangs, 0.0, lambda task, loop: loop.call_soon(task.cancel)),
    "cancelled after the deadline, same step": (_hangs, 0.0, lambda task, loop: loop.call_later(0.0, task.cancel)),
    "answers when cancelled by the deadline": (_answers_on_cancel, 0.02, _nothing),
    "answers when cancelled from elsewhere": (_answers_on_cancel, 5.0, _cancel_soon),
    "fails when cancelled by the deadline": (_fails_on_cancel, 0.02, _nothing),
    "fails": (_fails, 5.0, _nothing),
    "answers an awaitable": (_answers_an_awaitable, 5.0, _nothing),
    "answers an awaitable that hangs": (_answers_a_hang, 0.05, _nothing),
}


def _outcome(way: Callable[[Callable[[], Any], float], Any], name: str) -> tuple[object, ...]:
    seen: list[str] = []

    async def main() -> tuple[object, ...]:
        provider, timeout, meanwhile = _SCENARIOS[name]

        async def awaiting() -> tuple[object, ...]:
            task = asyncio.current_task()
            assert task is not None
            meanwhile(task, asyncio.get_running_loop())
            try:
                value = await way(lambda: provider(seen), timeout)
            except BaseException as exc:
                cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else None
                return ("raised", type(exc).__name__, str(exc), cause, task.cancelling())
            return ("answered", value, task.cancelling())

        task = asyncio.ensure_future(awaiting())
        try:
            return await task
        except asyncio.CancelledError:  # the task was cancelled after its last await: still its outcome
            return ("cancelled outside", task.cancelling())

    outcome = asyncio.run(main())
    return (*outcome, tuple(seen))


@pytest.mark.parametrize("name", _SCENARIOS)
def test_a_suspended_call_meets_its_deadline_as_timeout_at_does(name: str) -> None:
    assert _outcome(_the_chains_way, name) == _outcome(_plain_way, name)


def test_the_deadline_scenarios_tell_a_timeout_from_a_cancellation() -> None:
    # The comparison above means something only if its scenarios reach both ends.
    assert _outcome(_plain_way, "misses the deadline")[:2] == ("raised", "TimeoutError")
    assert _outcome(_plain_way, "cancelled with the deadline")[:2] == ("raised", "CancelledError")
    assert _outcome(_plain_way, "cancelled from elsewhere first")[:2] == ("raised", "CancelledError")


@pytest.mark.parametrize("way", [_plain_way, _the_chains_way], ids=["timeout_at", "chain"])
def test_closing_a_suspended_call_closes_the_provider_and_disarms_the_deadline(
    way: Callable[[Callable[[], Any], float], Any],
) -> None:
    seen: list[str] = []

    async def main() -> list[asyncio.TimerHandle]:
        awaiting = way(lambda: _hangs(seen), 0.05)
        awaiting.send(None)  # suspended inside the provider, its deadline armed
        loop = asyncio.get_running_loop()
        armed = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        awaiting.close()
        return [h for h in armed if not h.cancelled() and h.when() < loop.time() + 1.0]

    async def in_a_task() -> list[asyncio.TimerHandle]:
        return await asyncio.ensure_future(main())

    assert asyncio.run(in_a_task()) == []
    assert seen == ["GeneratorExit"]


class _Waiting:
    """A provider that answers once released: its payments stay in flight until then."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    @hookimpl
    async def pay(self, order: object, attempt: object) -> PaymentResult:
        await self.released.wait()
        return PaymentResult(ResultCode.SUCCESS, "paid")


def test_a_payment_in_flight_holds_few_objects_for_the_garbage_collector(bench_factory: Any) -> None:
    # Each object a suspended payment holds is walked by every collection while it waits, and 10,000 payments at
    # once make several full ones (async_10k_ratio). Here (a provider waiting on an event, logging as configured
    # by default) 15 per payment, among them six coroutines (the service's, the chain's three, the provider's and
    # its wait), the deadline's one object with its timer and the timer's context, the ledger's Payment, Attempt
    # and live record; 21 before the deadline's machinery, the live record's list and the plan's iterator went.
    provider = _Waiting()
    bench = bench_factory(p1=provider)
    service, context = bench.service, sample_context(bench.payer)
    count = 300

    def requests() -> list[PaymentRequest]:
        return [PaymentRequest(PaymentType.ORDER_ID, bench.order().trade_no) for _ in range(count)]

    async def main() -> float:
        warm = requests()
        provider.released.set()
        await asyncio.gather(*(service.pay_async(r, context) for r in warm[:5]))
        provider.released.clear()
        waiting = [asyncio.ensure_future(service.pay_async(r, context)) for r in requests()]
        gc.collect()
        before = len(gc.get_objects())
        await asyncio.sleep(0.05)  # every payment is now inside its provider
        gc.collect()
        during = len(gc.get_objects())
        provider.released.set()
        answers = await asyncio.gather(*waiting)
        assert all(a.result_code is ResultCode.SUCCESS for a in answers)
        return (during - before) / count

    per_payment = asyncio.run(main())
    assert per_payment <= 15.05, per_payment


_HELD = ("T-1", "order.2", "a:b_c-9")
_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)


@given(
    kind=st.sampled_from(PaymentType),
    string=st.one_of(
        st.sampled_from(_HELD),
        st.from_regex(r"[A-Za-z0-9_.:-]{1,70}", fullmatch=True),
        st.sampled_from(["4242424242424242", "4000-0000-0000-0069", "4000 0000 0000 0069", "T 1", "\uff34-1"]),
        _TEXT.filter(str.strip),
    ),
)
def test_the_memory_ledger_resolves_an_order_as_the_full_way_does(kind: PaymentType, string: str) -> None:
    """The order held under the payment string, found at once, is what the full way (the trade number checked,
    then looked up) finds; a miss, a refusal and every other request type give the full way's answer."""
    ledger = memory.MemoryLedger()
    for trade_no in _HELD:
        ledger.create_order(PaymentAmount("USD", "100"), merchant_id="m1", payer_id="p1", trade_no=trade_no)
    try:
        request = PaymentRequest(kind, string)
    except InvalidInput:
        return  # not a request at all: nothing reaches the ledger
    context = sample_context()

    def answer(resolve: Callable[[], object]) -> object:
        try:
            return resolve()
        except InvalidInput as exc:
            return (exc.field, exc.reason)

    fast = answer(lambda: ledger.resolve_order(request, context))
    assert fast == answer(lambda: ledger._resolve_named(request))
    if kind is PaymentType.ORDER_ID and string in _HELD:
        assert isinstance(fast, Order)
        assert fast.trade_no == string


class _Info(Mapping[str, str]):
    """A mapping that is neither a dict nor a frozen map: the ABC's check decides it."""

    def __init__(self, items: dict[str, str]) -> None:
        self._items = items

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class _Dict(dict[str, str]):
    """A dict's subclass: not the dict itself, still a mapping."""


@pytest.mark.parametrize(
    "info",
    [{"a": "1"}, MappingProxyType({"a": "1"}), _Info({"a": "1"}), _Dict(a="1"), collections.OrderedDict(a="1")],
    ids=["dict", "mappingproxy", "mapping", "dict-subclass", "ordered-dict"],
)
def test_extended_info_of_any_mapping_is_taken_and_frozen(info: Mapping[str, str]) -> None:
    result = PaymentResult(ResultCode.SUCCESS, "paid", extended_info=info)
    assert type(result.extended_info) is MappingProxyType
    assert dict(result.extended_info) == {"a": "1"}
    if type(info) is MappingProxyType:
        assert result.extended_info is info  # already frozen: kept as it is


@pytest.mark.parametrize("info", [[("a", "1")], "a=1", 7, {"a"}], ids=["pairs", "text", "number", "set"])
def test_extended_info_that_is_not_a_mapping_is_refused(info: object) -> None:
    with pytest.raises(InvalidInput, match="must be a mapping of strings"):
        PaymentResult(ResultCode.SUCCESS, "paid", extended_info=info)  # type: ignore[arg-type]
