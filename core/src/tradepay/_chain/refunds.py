"""Refund calls: a provider's ``refund`` and ``inquire_refund`` hooks, called under deadlines as ``pay`` is.

Both hooks are optional. A provider's ``refund`` answer is trusted only when it is a valid
:class:`~tradepay.RefundAnswer` saying ``succeeded`` or ``failed``; an exception, a missed deadline, another
type or ``unknown`` leave the refund's outcome unknown, and :func:`settle_by_inquiry` asks ``inquire_refund``
(which tombstones a key the provider never saw, so a late ``refund`` with it moves nothing).
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pluggy

from .._ledger.orders import Order
from .._logging import get_logger
from .._spi.echo import safe_text
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome, RefundStatus
from .providers import HookCall, ProviderHandle, bind_hook
from .threads import DaemonPool

__all__ = ["RefundHandle", "RefundObservers", "ask_refund", "refund_handles", "settle_by_inquiry"]

_log = get_logger("tradepay")
_STATUS = {RefundOutcome.SUCCEEDED: RefundStatus.SUCCEEDED, RefundOutcome.FAILED: RefundStatus.FAILED}


@dataclass(frozen=True, slots=True)
class RefundHandle:
    """A provider's refund hooks (each ``None`` when it lacks it) and its deadline."""

    name: str
    deadline_s: float
    refund: HookCall | None
    inquire: HookCall | None


def refund_handles(pm: pluggy.PluginManager, handles: Sequence[ProviderHandle]) -> dict[str, RefundHandle]:
    """Every configured provider's refund hooks, looked up once."""
    return {
        h.name: RefundHandle(
            h.name, h.deadline_s, bind_hook(pm, "refund", h.plugin), bind_hook(pm, "inquire_refund", h.plugin)
        )
        for h in handles
    }


async def _call(call: HookCall, available: Mapping[str, Any], limit: float, deadline: float, pool: DaemonPool) -> Any:
    remaining = min(limit, deadline - time.monotonic())
    if remaining <= 0:
        raise TimeoutError
    return await call(available, remaining, pool)


async def ask_refund(
    handle: RefundHandle, order: Order, refund: Refund, pool: DaemonPool, deadline: float
) -> tuple[RefundOutcome, RefundAnswer | None, str]:
    """Call the provider's ``refund`` (``handle.refund`` must exist): ``(outcome, answer, what happened)``,
    ``UNKNOWN`` for anything but a valid answer, by ``deadline`` (``time.monotonic``)."""
    assert handle.refund is not None
    available = {"order": order, "attempt": refund.attempt, "refund": refund}
    try:
        value = await _call(handle.refund, available, handle.deadline_s, deadline, pool)
    except TimeoutError:
        return RefundOutcome.UNKNOWN, None, "refund: no answer in time"
    except Exception as exc:  # a provider's bug is an unknown outcome, not a failure: money may have moved
        return RefundOutcome.UNKNOWN, None, f"refund: raised {safe_text(type(exc).__name__, 80)}"
    if not isinstance(value, RefundAnswer):
        return RefundOutcome.UNKNOWN, None, f"refund: returned {safe_text(type(value).__name__, 80)}"
    return value.outcome, value, f"refund: {value.outcome.value}"


async def settle_by_inquiry(
    handle: RefundHandle | None, order: Order, refund: Refund, pool: DaemonPool, deadline: float
) -> tuple[RefundStatus, str]:
    """What an ambiguous refund became, by the provider's ``inquire_refund``: ``succeeded``, ``failed``, or
    ``needs_reconciliation`` (no inquiry, it failed, or the provider cannot tell yet), and why."""
    if handle is None:
        return RefundStatus.NEEDS_RECONCILIATION, f"provider {refund.attempt.provider!r} is not configured"
    if handle.inquire is None:
        return RefundStatus.NEEDS_RECONCILIATION, "provider has no refund inquiry"
    available = {"order": order, "attempt": refund.attempt, "refund": refund}
    try:
        value = await _call(handle.inquire, available, handle.deadline_s, deadline, pool)
    except Exception as exc:  # an inquiry that failed tells nothing
        name = "no answer in time" if isinstance(exc, TimeoutError) else f"raised {safe_text(type(exc).__name__, 80)}"
        _log.warning("provider.call_failed", refund_id=refund.refund_id, provider=handle.name, error=name)
        return RefundStatus.NEEDS_RECONCILIATION, f"inquiry: {name}"
    try:
        outcome = RefundOutcome(value)
    except ValueError:
        return RefundStatus.NEEDS_RECONCILIATION, "inquiry: not a RefundOutcome"
    return _STATUS.get(outcome, RefundStatus.NEEDS_RECONCILIATION), f"inquiry: {outcome.value}"


class RefundObservers:
    """The ``refund_started`` and ``refund_finished`` observers, each called on its own: one's error is logged
    and reaches neither the refund nor the other observers."""

    _HOOKS = ("refund_started", "refund_finished")

    def __init__(self, hook: Any) -> None:
        self._impls: dict[str, list[tuple[str, Any, tuple[str, ...]]]] = {}
        for name in self._HOOKS:
            impls = reversed(getattr(hook, name).get_hookimpls())  # pluggy's order: last registered first
            self._impls[name] = [(i.plugin_name, i.function, tuple(i.argnames)) for i in impls]

    def notify(self, name: str, refund: Refund, order: Order) -> None:
        """Tell every ``name`` observer about ``refund`` of ``order``."""
        given = {"refund": refund, "order": order}
        for plugin, function, argnames in self._impls[name]:
            try:
                function(**{arg: given[arg] for arg in argnames})
            except Exception:
                _log.exception("observer.failed", hook=name, plugin=plugin)
