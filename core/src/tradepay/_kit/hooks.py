"""A provider's hooks in the one shape every provider shares: the key check, the log events, the answer.

:class:`StoreProvider` (blocking hooks) and :class:`AsyncStoreProvider` (coroutines that run the same work in a
worker thread) answer ``capabilities``, ``inquire`` and ``cancel`` for a provider whose state is a
:class:`~tradepay.ProviderStore`; :class:`RefundingStoreProvider` and :class:`AsyncRefundingStoreProvider` add
``refund`` and ``inquire_refund`` (the two functions below). The provider writes ``pay`` and, in its store, where
the money goes back.

``refund`` refuses a key that cannot be recorded before anything is read (``FAILED`` ``INVALID_REQUEST``, logged
``<provider>.refund_refused``), then lets the provider decide and logs ``<provider>.refund_answered``;
``inquire_refund`` asks the store and logs ``<provider>.refund_inquired``. Every refund event carries
:func:`tradepay.refund_fields`, so that each provider's refunds read alike in the logs. Both are blocking: an
async provider runs them in a worker thread (``asyncio.to_thread``), as it runs its store.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from .._chain.capabilities import Attempt, Capabilities, ProviderStatus
from .._chain.hookspecs import hookimpl
from .._ledger.orders import Order
from .._logging import EventLogger
from .._spi.errors import InvalidInput
from .._spi.fields import check_instance
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome
from .answers import refund_fields
from .attempts import AttemptStatus, payment_key_problem
from .refund_keys import RefundReason, refund_key_problem, refund_refused
from .settings import StoreSettings
from .store import ProviderStore

__all__ = [
    "AsyncRefundingStoreProvider",
    "AsyncStoreProvider",
    "RefundingStoreProvider",
    "StoreProvider",
    "answer_refund",
    "answer_refund_inquiry",
]

S = TypeVar("S", bound=ProviderStore[Any])


def answer_refund(
    order: Order,
    attempt: Attempt,
    refund: Refund,
    decide: Callable[[], RefundAnswer],
    *,
    log: EventLogger,
    provider: str,
) -> RefundAnswer:
    """The answer of ``provider``'s ``refund`` hook: refused ``INVALID_REQUEST`` (nothing read or recorded) when
    :func:`tradepay.refund_key_problem` finds a key that cannot be recorded, else what ``decide()`` answers (the
    provider's store, in the refund rules' order of checks). Logs ``<provider>.refund_refused`` (warning) or
    ``<provider>.refund_answered`` with the outcome and reason, each with :func:`tradepay.refund_fields`."""
    _check_logging(log, provider)
    bound = log.bind(**refund_fields(order, attempt, refund))
    if problem := refund_key_problem(attempt, refund):
        bound.warning(f"{provider}.refund_refused", reason=RefundReason.INVALID_REQUEST.value)
        return refund_refused(RefundReason.INVALID_REQUEST, problem)
    answer = decide()
    bound.info(f"{provider}.refund_answered", outcome=answer.outcome.value, reason=answer.reason)
    return answer


def answer_refund_inquiry(
    order: Order, attempt: Attempt, refund: Refund, store: ProviderStore[Any], *, log: EventLogger, provider: str
) -> RefundOutcome:
    """The answer of ``provider``'s ``inquire_refund`` hook: :meth:`tradepay.ProviderStore.inquire_refund` of
    ``store`` (a refund key never seen is voided first), logged ``<provider>.refund_inquired`` with the order's
    trade number, the refund key and the outcome."""
    _check_logging(log, provider)
    outcome = store.inquire_refund(attempt, refund)
    key = refund.idempotency_key
    log.info(f"{provider}.refund_inquired", trade_no=order.trade_no, refund_key=key, outcome=outcome.value)
    return outcome


def _check_logging(log: object, provider: object) -> None:
    check_instance(log, EventLogger, "log")
    check_instance(provider, str, "provider")
    if not str(provider).isidentifier():
        raise InvalidInput("provider", "must be the provider's name as its events start (letters, digits, _)")


class _StoreHooks(Generic[S]):
    """What :class:`StoreProvider` and :class:`AsyncStoreProvider` share: the hooks' work, blocking."""

    #: How the provider's events start: ``card`` logs ``card.inquired``.
    events: ClassVar[str]
    #: The provider's logger (:func:`tradepay.get_logger`).
    log: ClassVar[EventLogger]

    def __init__(self, settings: StoreSettings, store: S) -> None:
        """``settings``' ``currencies`` and ``max_amount`` are the provider's capabilities; ``store`` is its state."""
        check_instance(settings, StoreSettings, "settings")
        check_instance(store, ProviderStore, "store")
        self.settings, self.store = settings, store

    def close(self) -> None:
        """Close the store's database connections (the next call opens them again; closing twice is harmless)."""
        self.store.close()

    @hookimpl
    def capabilities(self) -> Capabilities:
        """The ``currencies`` and ``max_amount`` settings; every request type."""
        return Capabilities(currencies=self.settings.currencies, max_amount=self.settings.max_amount)

    def decide_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """The answer to a refund whose key can be recorded: the store's (:meth:`tradepay.ProviderStore.refund`).
        A provider that must do something first (ask its network) overrides this."""
        return self.store.refund(attempt, refund)

    def _inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        key = attempt.idempotency_key
        if payment_key_problem(key):
            return ProviderStatus.NOT_PAID  # pay refuses such a key, so it never moved money
        row = self.store.inquire(order, attempt)
        paid = row is not None and row.status is AttemptStatus.PAID
        status = ProviderStatus.PAID if paid else ProviderStatus.NOT_PAID
        fields = {"payer": order.payer_id, "trade_no": order.trade_no, "idempotency_key": key}
        if row is None:
            self.log.info(f"{self.events}.attempt_voided", **fields)
        self.log.info(f"{self.events}.inquired", status=status.value, seen=row is not None, **fields)
        return status

    def _cancel(self, order: Order, attempt: Attempt) -> bool:
        key = attempt.idempotency_key
        if payment_key_problem(key):
            return True  # pay refuses such a key, so there is nothing to give back
        row, given = self.store.reverse(order, attempt)
        fields = {"payer": order.payer_id, "trade_no": order.trade_no, "idempotency_key": key}
        if row is None:
            self.log.info(f"{self.events}.attempt_voided", **fields)
        if given is not None:  # what went back: the key's amount less its refunds
            self.log.info(f"{self.events}.payment_reversed", amount=given, **fields)
        self.log.info(f"{self.events}.cancelled", was=row.status.value if row is not None else "unseen", **fields)
        return True

    def _refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        decide = functools.partial(self.decide_refund, order, attempt, refund)
        return answer_refund(order, attempt, refund, decide, log=self.log, provider=self.events)

    def _inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        return answer_refund_inquiry(order, attempt, refund, self.store, log=self.log, provider=self.events)


class StoreProvider(_StoreHooks[S]):
    """A provider whose state is ``store`` (a :class:`~tradepay.ProviderStore`), with blocking hooks.

    A subclass passes its ``settings`` (a :class:`~tradepay.StoreSettings`) and ``store`` to this constructor,
    names its ``log`` and the prefix of its ``events`` as class attributes, and writes ``pay``; everything else is here,
    and the same in every such provider. Its store says where a cancel's money goes back (``give_back``).
    Events, each with ``payer``, ``trade_no`` and ``idempotency_key``: ``<events>.inquired`` (``status``,
    ``seen``), ``<events>.cancelled`` (``was``: the key's status, or ``unseen``), ``<events>.attempt_voided`` (a
    tombstone recorded) and ``<events>.payment_reversed`` (``amount``: the minor units given back, the key's
    amount less its refunds).
    """

    @hookimpl
    def inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        """``PAID`` if the key's money moved and was not given back, else ``NOT_PAID`` (never ``UNKNOWN``).

        A key never seen is voided first: a ``pay`` that arrives later with it is refused and moves nothing.
        """
        return self._inquire(order, attempt)

    @hookimpl
    def cancel(self, order: Order, attempt: Attempt) -> bool:
        """Give a paid key's money back (once: what its refunds left) and void a key never seen. Always
        ``True``: a declined, reversed or voided key moved nothing already."""
        return self._cancel(order, attempt)


class AsyncStoreProvider(_StoreHooks[S]):
    """:class:`StoreProvider` with coroutine hooks: each runs the same blocking work in a worker thread
    (``asyncio.to_thread``), so the host's event loop is never blocked. ``capabilities`` stays blocking."""

    @hookimpl
    async def inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        """As :meth:`StoreProvider.inquire`."""
        return await asyncio.to_thread(self._inquire, order, attempt)

    @hookimpl
    async def cancel(self, order: Order, attempt: Attempt) -> bool:
        """As :meth:`StoreProvider.cancel`."""
        return await asyncio.to_thread(self._cancel, order, attempt)


class RefundingStoreProvider(StoreProvider[S]):
    """:class:`StoreProvider` with the hooks ``refund`` and ``inquire_refund``: for a provider whose store refunds
    (:meth:`tradepay.ProviderStore.refund_money`). A provider without them is not refundable."""

    @hookimpl
    def refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """Give ``refund.amount`` back to what ``attempt``'s key charged, at most once per refund key.

        Answers ``SUCCEEDED`` when the money went back, ``FAILED`` with a ``reason`` when nothing moved (see
        :func:`tradepay.judge_refund`), and the first answer again to a repeat of the refund key. Never more
        than the key took, in all.
        """
        return self._refund(order, attempt, refund)

    @hookimpl
    def inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """``SUCCEEDED`` if the refund key's money went back, else ``FAILED`` (never ``UNKNOWN``). A refund key
        never seen is voided first: a ``refund`` that arrives later with it is refused and moves nothing."""
        return self._inquire_refund(order, attempt, refund)


class AsyncRefundingStoreProvider(AsyncStoreProvider[S]):
    """:class:`RefundingStoreProvider` with coroutine hooks, as :class:`AsyncStoreProvider`."""

    @hookimpl
    async def refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """As :meth:`RefundingStoreProvider.refund`."""
        return await asyncio.to_thread(self._refund, order, attempt, refund)

    @hookimpl
    async def inquire_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome:
        """As :meth:`RefundingStoreProvider.inquire_refund`."""
        return await asyncio.to_thread(self._inquire_refund, order, attempt, refund)
