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
from collections.abc import Callable, Coroutine, Generator, Mapping
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
        (docs/performance.md); one that suspends goes on through :func:`_resume`, which the first step needs.
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
        # It suspended: the rest runs under the deadline, armed now and counted from the call's start.
        return False, self._resumed(coro, signal, _deadline(started, timeout))

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

    @staticmethod
    async def _resumed(coro: Coroutine[Any, Any, Any], signal: Any, when: float) -> Any:
        async with asyncio.timeout_at(when):
            value = await _resume(coro, signal)
        if not isinstance(value, _PLAIN) and inspect.isawaitable(value):
            async with asyncio.timeout_at(when):
                value = await value
        return value


def _deadline(started: float, timeout: float) -> float:
    """The event loop's time ``timeout`` seconds after ``started`` (``time.monotonic``): the loop's clock is
    read only for a call that needs a timer, and may differ from ``time.monotonic`` (another loop)."""
    return asyncio.get_running_loop().time() + timeout - (time.monotonic() - started)


@types.coroutine
def _resume(coro: Coroutine[Any, Any, Any], signal: Any) -> Generator[Any, Any, Any]:
    """Drive ``coro`` on from its first suspension (``signal``: what it yielded) in the awaiting task, exactly as
    ``await`` would have: what the task sends or throws in goes to ``coro``, what ``coro`` yields goes out."""
    while True:
        try:
            sent = yield signal
        except GeneratorExit:
            coro.close()
            raise
        except BaseException as exc:  # a cancellation (the deadline), or anything else thrown into the task
            try:
                signal = coro.throw(exc)
            except StopIteration as done:
                return done.value
        else:
            try:
                signal = coro.send(sent)
            except StopIteration as done:
                return done.value


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
