"""The hooks of tradepay, declared with pluggy.

Two kinds of hook live here:

* **Provider hooks** (``pay``, ``inquire``, ``cancel``, ``capabilities``, ``refund``, ``inquire_refund``) are
  called by the chain on *one* provider at a time, in the configured order: the host knows which provider
  answered. A provider must
  implement ``pay``; the rest are optional. Each may be ``def`` or ``async def``.
* **Broadcast hooks** (``resolve_order``, ``authenticate``, the observer events, ``add_cli_commands``) are
  called on every registered plugin, pluggy's usual way.

An implementation may take any subset of a hook's arguments, by name (pluggy's rule).
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from .._ledger.orders import Order
    from .._ledger.records import AttemptRecord, Payment
    from .._spi.models import APIContext, PaymentRequest, PaymentResult
    from .._spi.refunds import Refund, RefundAnswer, RefundOutcome
    from .capabilities import Attempt, Capabilities, ProviderStatus

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "tradepay"
hookspec = pluggy.HookspecMarker(PROJECT)
#: Mark a plugin's method or function as the implementation of a tradepay hook.
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- provider hooks: called on one provider at a time ------------------------------------------------------


@hookspec
def pay(
    payment_request: PaymentRequest, api_context: APIContext, order: Order, attempt: Attempt
) -> PaymentResult | Awaitable[PaymentResult]:
    """Pay ``order`` for ``attempt``, and return the one :class:`PaymentResult` of this attempt.

    Required of every provider. Called once per attempt, under the provider's deadline, after the attempt
    was recorded. ``attempt.idempotency_key`` is this attempt's key: move money at most once per key and
    answer a repeat with the first answer.

    The answer steers the chain through the rule table: return ``9000`` only when money moved; ``4000``
    with error ``1002`` (and a ``reason`` in ``extended_info``) when you declined and nothing moved;
    ``6001`` with error ``1001`` when the user cancelled; ``1003``/``8000``/``6004`` when you do not know.
    Raising, returning anything else, or missing the deadline is treated as "unknown" and leads to an
    inquiry, never to the next provider directly. Every answer but ``9000`` says whose failure it is in
    ``extended_info["failure_scope"]`` (:class:`tradepay.FailureScope`): only ``"provider"`` counts towards
    the provider's circuit breaker, so a decline about one payer's card says ``"payment"``.
    """


@hookspec
def inquire(order: Order, attempt: Attempt) -> ProviderStatus | Awaitable[ProviderStatus]:
    """Say whether ``attempt`` moved money: ``PAID``, ``NOT_PAID`` (and never will) or ``UNKNOWN``.

    Optional. Called after an ambiguous outcome, possibly several times with a pause between. Must be
    idempotent and must not move money. A provider without it leaves ambiguous outcomes to reconciliation.
    """


@hookspec
def cancel(order: Order, attempt: Attempt) -> bool | Awaitable[bool]:
    """Cancel ``attempt`` (reverse it if money moved); return ``True`` only when it is now certain that the
    attempt moved no money in the end.

    Optional. Called when inquiry stays ``UNKNOWN``. Must be idempotent. Only after ``True`` does the chain
    try the next provider; ``False`` (or an error) stops the payment for reconciliation.
    """


@hookspec
def capabilities() -> Capabilities:
    """Declare what this provider can pay (currencies, amount limits, request types).

    Optional; called once when the host starts. Without it, the provider is offered every payment.
    """


@hookspec
def refund(order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer | Awaitable[RefundAnswer]:
    """Give ``refund.amount`` back for ``attempt``, the attempt of this provider that took ``order``'s money.

    Optional: a provider without it is reported as not refundable, and the refund is refused before anything
    is recorded. Called under the provider's deadline, after the refund was recorded with its idempotency key
    (``refund.idempotency_key``): move money back at most once per key and answer a repeat with the first
    answer; never give back more than ``attempt`` took in all. Answer ``SUCCEEDED`` only when the money went
    back, ``FAILED`` (with a ``reason``) only when nothing moved and nothing will; anything else, an
    exception, or a missed deadline is treated as ``UNKNOWN`` and settled by ``inquire_refund``.
    """


@hookspec
def inquire_refund(order: Order, attempt: Attempt, refund: Refund) -> RefundOutcome | Awaitable[RefundOutcome]:
    """Say what happened to ``refund``: ``SUCCEEDED``, ``FAILED`` (and never will) or ``UNKNOWN``.

    Optional, like ``inquire``. Must be idempotent and must not move money. A key the provider never saw is
    tombstoned and answered ``FAILED``: a late ``refund`` call with that key must then move nothing.
    """


# --- broadcast hooks: called on every plugin ----------------------------------------------------------------


@hookspec(firstresult=True)
def resolve_order(payment_request: PaymentRequest, api_context: APIContext) -> Order | None:
    """Return the :class:`Order` that ``payment_request`` names, or ``None`` if this plugin does not know it.

    Stops at the first non-``None`` result. Plugins registered later are asked first, so a plugin can
    override the host's built-in order book. An unknown order is answered with ``4000`` and no provider is
    called.
    """


@hookspec(firstresult=True)
def authenticate(authorization: str | None, headers: Mapping[str, str]) -> str | None:
    """Return the id of the super app user that a client request's credentials name, or ``None`` if this
    plugin does not recognise them.

    Called by the server (``tradepay serve``) on each request of the client API and the cashier page, before
    anything is stored. ``authorization`` is the ``Authorization`` header (or ``None``), ``headers`` every
    header, names in lower case. Stops at the first non-``None`` answer; the server's own authenticator (the
    host-signed bearer tokens of ``tradepay tokens issue``) is asked last. With no answer the request is
    refused ``401``. The user answered pays only orders whose payer it is.
    """


@hookspec
def attempt_started(attempt: Attempt, order: Order) -> None:
    """Observe that ``attempt`` was recorded and its provider is about to be called.

    Every plugin receives it; return values are ignored and an exception is logged, not raised.
    """


@hookspec
def attempt_finished(record: AttemptRecord, order: Order) -> None:
    """Observe an attempt's outcome, the rule that matched and the decision. Errors are logged, not raised."""


@hookspec
def payment_finished(payment: Payment) -> None:
    """Observe a payment's end, after its result was recorded and before the callback is called.

    Errors are logged, not raised.
    """


@hookspec
def refund_started(refund: Refund, order: Order) -> None:
    """Observe that ``refund`` was recorded and its provider is about to be asked. Errors are logged, not
    raised."""


@hookspec
def refund_finished(refund: Refund, order: Order) -> None:
    """Observe a refund's end (``succeeded``, ``failed`` or ``needs_reconciliation``), after it was recorded.

    Errors are logged, not raised.
    """


@hookspec
def add_cli_commands(cli: click.Group) -> None:
    """Add commands (or groups, such as ``tradepay wallet ...``) to the ``tradepay`` command line.

    Called on the configured providers when the command line starts with a configuration.
    """
