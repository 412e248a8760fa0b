"""One provider as the chain sees it: its hook implementations, bound once at start-up.

The chain calls a provider's own ``pay``/``inquire``/``cancel`` directly (pluggy would call every plugin's);
looking the implementations up once keeps each attempt free of hook lookups.
"""

from __future__ import annotations

import asyncio
import inspect
import operator
import time
import types
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .._spi.errors import DiscoveryError
from .._spi.models import PaymentResult
from .capabilities import Capabilities
from .threads import DaemonPool

__all__ = ["HookCall", "ProviderHandle", "bind_hook"]

#: What hooks answer (results, statuses, booleans): never awaitable, so never worth asking (an ABC check).
_PLAIN = (PaymentResult, str, bool, type(None))


@dataclass(frozen=True, slots=True)
class HookCall:
    """One hook implementation of one provider, with the argument names it takes."""

    function: Callable[..., Any]
    argnames: tuple[str, ...]
    is_async: bool
    #: The arguments it takes, picked from what the chain has, in its order: pluggy calls an implementation so,
    #: positionally. Measured: 3,300 instructions per call fewer than a dict of keywords (docs/performance.md).
    _pick: Callable[[Mapping[str, Any]], tuple[Any, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = self.argnames
        if len(names) == 1:  # itemgetter of one name gives the value itself, not a tuple of it
            name = names[0]
            object.__setattr__(self, "_pick", lambda available: (available[name],))
        else:
            object.__setattr__(self, "_pick", operator.itemgetter(*names) if names else lambda _available: ())

    def start(self, available: Mapping[str, Any], timeout: float, pool: DaemonPool) -> tuple[bool, Any]:
        """Begin the call: ``(True, answer)`` when it answered at once, else ``(False, awaitable)`` whose
        await gives the answer, raising ``TimeoutError`` past ``timeout`` seconds.

        An async implementation takes its first step here, so that one answering at once (a local decline, a
        stored answer) costs neither a coroutine of the host's nor a deadline timer. Measured: 95,000
        instructions of a 3-attempt payment's 538,000 against awaiting each call under ``asyncio.timeout``
        (docs/performance.md); one that suspends goes on through :class:`_UnderDeadline`, which the first step needs.
        A sync implementation always runs on ``pool``, so that a hang costs a thread, not the event loop.
        """
        args = self._pick(available)
        if not self.is_async:
            return False, self._on_thread(args, timeout, pool)
        started = time.monotonic()
        coro = self.function(*args)
        if not isinstance(coro, types.CoroutineType):  # another kind of awaitable: awaited the ordinary way
            return False, self._awaited(coro, _deadline(started, timeout))
        try:
            signal = coro.send(None)
        except StopIteration as done:
            value = done.value
            if isinstance(value, _PLAIN) or not inspect.isawaitable(value):
                return True, value
            return False, self._awaited(value, _deadline(started, timeout))
        # It suspended: the rest runs under the deadline, armed as it is awaited and counted from the call's start.
        return False, _UnderDeadline(coro, signal, _deadline(started, timeout))

    async def __call__(self, available: Mapping[str, Any], timeout: float, pool: DaemonPool) -> Any:
        """Call with the arguments it asks for, under ``timeout`` seconds; raises ``TimeoutError`` past it."""
        done, value = self.start(available, timeout, pool)
        return value if done else await value

    async def _on_thread(self, args: tuple[Any, ...], timeout: float, pool: DaemonPool) -> Any:
        async with asyncio.timeout(timeout):
            value = await asyncio.wrap_future(pool.submit(lambda: self.function(*args)))
            if inspect.isawaitable(value):
                value = await value
        return value

    @staticmethod
    async def _awaited(awaitable: Any, when: float) -> Any:
        async with asyncio.timeout_at(when):
            value = await awaitable
        if not isinstance(value, _PLAIN) and inspect.isawaitable(value):
            async with asyncio.timeout_at(when):
                value = await value
        return value


def _deadline(started: float, timeout: float) -> float:
    """The event loop's time ``timeout`` seconds after ``started`` (``time.monotonic``): the loop's clock is
    read only for a call that needs a timer, and may differ from ``time.monotonic`` (another loop)."""
    return asyncio.get_running_loop().time() + timeout - (time.monotonic() - started)


class _UnderDeadline:
    """The rest of a provider's coroutine ``coro`` after its first suspension (``signal``: what it yielded),
    driven on in the awaiting task exactly as ``await`` would (what the task sends or throws in goes to ``coro``,
    what ``coro`` yields goes out) and under ``asyncio.timeout_at(when)``'s rules, which it keeps as they are:
    the timer is armed when the awaiting task first steps it; past ``when`` the task is cancelled, and that
    cancellation comes out as ``TimeoutError`` unless another one was asked for meanwhile (then it stays a
    ``CancelledError``); an answer that is itself awaitable is awaited under a deadline of its own.

    One object that is the awaitable, its iterator and its timer's callback, in place of a coroutine of the
    host's, the generator that drove ``coro``, ``asyncio.Timeout`` and the two bound methods its timer and its
    ``async with`` hold. Measured: a payment in flight holds 24 objects for the garbage collector rather than 28;
    with the ledger's tuple of attempts, 10,000 payments at once spent 0.21 s in it rather than 0.30 s in a quick
    ``async_10k_ratio`` run (docs/performance.md, the fourth pass).
    core/tests/test_chain_fast_paths.py checks it against ``asyncio.timeout_at`` around ``await``.
    """

    __slots__ = ("_cancelling", "_coro", "_expired", "_signal", "_task", "_timer", "_when")

    def __init__(self, coro: Coroutine[Any, Any, Any], signal: Any, when: float | None) -> None:
        self._coro: Coroutine[Any, Any, Any] = coro
        self._signal = signal
        self._when = when  # None once the answer's own awaitable is being awaited (under its own deadline)
        self._task: asyncio.Task[Any] | None = None
        self._timer: asyncio.Handle | None = None
        self._expired = False
        self._cancelling = 0

    def __await__(self) -> _UnderDeadline:
        return self

    def __next__(self) -> Any:
        return self.send(None)

    def send(self, sent: Any) -> Any:
        if self._task is None:
            return self._enter()
        try:
            return self._coro.send(sent)
        except StopIteration as done:
            return self._answered(done.value)
        except BaseException as exc:
            self._exit(exc)
            raise

    def throw(self, typ: Any, val: Any = None, tb: Any = None) -> Any:
        try:
            # asyncio's task throws the exception itself; the older three-argument form is passed on as it came.
            signal = self._coro.throw(typ) if val is None and tb is None else self._coro.throw(typ, val, tb)
        except StopIteration as done:
            return self._answered(done.value)
        except BaseException as exc:
            self._exit(exc)
            raise
        return signal

    def close(self) -> None:
        try:
            self._coro.close()
        finally:
            self._exit(None)

    def __call__(self) -> None:
        """The deadline passed (the timer's callback): cancel the task, as ``Timeout`` does."""
        task = self._task
        assert task is not None
        task.cancel()
        self._expired = True
        self._timer = None

    def _enter(self) -> Any:
        """As ``Timeout.__aenter__`` and ``reschedule``: the task and its cancellations so far, the timer armed."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("Timeout should be used inside a task")
        self._task = task
        self._cancelling = task.cancelling()
        loop = asyncio.get_running_loop()
        when = self._when
        assert when is not None
        self._timer = loop.call_soon(self) if when <= loop.time() else loop.call_at(when, self)
        return self._signal

    def _exit(self, exc: BaseException | None) -> None:
        """As ``Timeout.__aexit__``: the timer disarmed; after the deadline's cancellation, a ``TimeoutError``
        when no other cancellation is pending and the call ended in exactly that ``CancelledError``."""
        timer = self._timer
        if timer is not None:
            timer.cancel()
            self._timer = None
        if self._expired:
            self._expired = False
            task = self._task
            assert task is not None
            if task.uncancel() <= self._cancelling and type(exc) is asyncio.CancelledError:
                raise TimeoutError from exc

    def _answered(self, value: Any) -> Any:
        """``coro`` returned ``value``: the await's result, or (an awaitable answer) its first step."""
        self._exit(None)
        if self._when is None or isinstance(value, _PLAIN) or not inspect.isawaitable(value):
            raise StopIteration(value)
        self._coro = _awaited_once(value, self._when)
        self._when = None
        return self.send(None)


async def _awaited_once(awaitable: Any, when: float) -> Any:
    async with asyncio.timeout_at(when):
        return await awaitable


def _bind(pm: pluggy.PluginManager, hook_name: str, plugin: object) -> HookCall | None:
    caller = getattr(pm.hook, hook_name)
    for impl in caller.get_hookimpls():
        if impl.plugin is plugin:
            fn = impl.function
            return HookCall(fn, tuple(impl.argnames), inspect.iscoroutinefunction(fn))
    return None


#: ``plugin``'s implementation of ``hook_name`` in ``pm`` as a :class:`HookCall`, or ``None`` (for the core's
#: other callers of provider hooks, such as refunds).
bind_hook = _bind


@dataclass(frozen=True, slots=True)
class ProviderHandle:
    """A registered provider: name, deadline, declared capabilities and its bound hooks."""

    name: str
    plugin: object
    deadline_s: float
    capabilities: Capabilities | None
    pay: HookCall
    inquire: HookCall | None
    cancel: HookCall | None

    @classmethod
    def bind(cls, pm: pluggy.PluginManager, name: str, plugin: object, deadline_s: float) -> ProviderHandle:
        """Look up ``plugin``'s hooks in ``pm``; a provider without ``pay`` is refused."""
        pay = _bind(pm, "pay", plugin)
        if pay is None:
            raise DiscoveryError(name, "does not implement the `pay` hook (a method marked @tradepay.hookimpl)")
        capabilities = None
        declared = _bind(pm, "capabilities", plugin)
        if declared is not None:
            if declared.is_async:
                raise DiscoveryError(name, "its `capabilities` hook must be a plain function, not async")
            capabilities = declared.function()
            if not isinstance(capabilities, Capabilities):
                raise DiscoveryError(
                    name, f"`capabilities` returned {type(capabilities).__name__}, not tradepay.Capabilities"
                )
        return cls(
            name, plugin, deadline_s, capabilities, pay, _bind(pm, "inquire", plugin), _bind(pm, "cancel", plugin)
        )
