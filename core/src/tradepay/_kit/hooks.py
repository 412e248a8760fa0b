"""A provider's refund hooks in the one shape every provider shares: the key check, the log events, the answer.

``refund`` refuses a key that cannot be recorded before anything is read (``FAILED`` ``INVALID_REQUEST``, logged
``<provider>.refund_refused``), then lets the provider decide and logs ``<provider>.refund_answered``;
``inquire_refund`` asks the store and logs ``<provider>.refund_inquired``. Every refund event carries
:func:`tradepay.refund_fields`, so that each provider's refunds read alike in the logs. Both are blocking: an
async provider runs them in a worker thread (``asyncio.to_thread``), as it runs its store.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._chain.capabilities import Attempt
from .._ledger.orders import Order
from .._logging import EventLogger
from .._spi.errors import InvalidInput
from .._spi.fields import check_instance
from .._spi.refunds import Refund, RefundAnswer, RefundOutcome
from .answers import refund_fields
from .refund_keys import RefundReason, refund_key_problem, refund_refused
from .store import ProviderStore

__all__ = ["answer_refund", "answer_refund_inquiry"]


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
