"""The chain: the one place that knows the order of providers and walks it for a payment.

resolve the order -> claim it in the ledger -> plan (capabilities) -> for each provider: record the attempt,
call it under a deadline, classify, apply the rule table, inquire and cancel when ambiguous -> answer once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from .._config import ChainSettings
from .._ledger.memory import Ledger
from .._ledger.orders import Order, OrderStatus
from .._ledger.records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus, attempt_record
from .._logging import EventLogger, bind_on_use, get_logger
from .._spi.echo import echo_value, safe_text
from .._spi.errors import InvalidInput
from .._spi.fields import check_instance
from .._spi.models import APIContext, ErrorCode, PaymentRequest, PaymentResult, ResultCode, ResultError, with_info
from .answers import final_answer, in_progress, not_charged, publish_cut_off, refusal, unresolved_result
from .breaker import CircuitBreaker
from .capabilities import Attempt, ProviderStatus
from .providers import ProviderHandle
from .rules import Rule, RuleTable, is_ambiguous_code, is_user_cancel
from .threads import DaemonPool

__all__ = ["Chain", "PlanStep"]

_log = get_logger("tradepay")

# The enum members a payment compares against, read once here: a member read through its class (``Decision.STOP``)
# costs about 900 instructions on CPython 3.11, as the enums' metaclass defines ``__getattr__`` in Python, which
# takes every attribute read of the class off the interpreter's fast path; a module constant costs 40. A 3-attempt
# payment read 39 of them in the chain and its breaker. Measured: 40,700 instructions of the payment's 442,700
# (docs/performance.md); core/tests/test_chain_fast_paths.py checks that each constant is the member it names.
_STOP, _INQUIRE = Decision.STOP, Decision.INQUIRE
_ANSWER, _EXCEPTION, _INVALID = OutcomeKind.ANSWER, OutcomeKind.EXCEPTION, OutcomeKind.INVALID
_TIMEOUT = OutcomeKind.TIMEOUT
_SUCCEEDED, _FAILED, _CANCELLED = PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CANCELLED
_NEEDS_RECONCILIATION = PaymentStatus.NEEDS_RECONCILIATION
_PAID, _NOT_PAID, _UNKNOWN = ProviderStatus.PAID, ProviderStatus.NOT_PAID, ProviderStatus.UNKNOWN
_ORDER_OPEN, _ORDER_PAID, _ORDER_CLOSED = OrderStatus.OPEN, OrderStatus.PAID, OrderStatus.CLOSED
_SUCCESS = ResultCode.SUCCESS


@dataclass(frozen=True, slots=True)
class PlanStep:
    """One provider of the chain for one order: tried, or skipped with ``skip_reason``."""

    provider: str
    skip_reason: str | None

    def __post_init__(self) -> None:
        check_instance(self.provider, str, "provider")
        check_instance(self.skip_reason, str, "skip_reason", optional=True)


class _Outcome:
    """How one provider call ended. Private and never mutated after it is made: a plain slotted class, as a
    frozen dataclass would cost three ``object.__setattr__`` calls on every attempt."""

    __slots__ = ("detail", "kind", "result")

    def __init__(self, kind: OutcomeKind, result: PaymentResult | None, detail: str) -> None:
        self.kind = kind
        self.result = result
        self.detail = detail

    @property
    def match_text(self) -> str:
        """What a rule's detail pattern is matched against."""
        if self.result is None:
            return self.detail
        reason = self.result.reason
        if reason is not None:
            return reason
        return self.result.result_error.error_desc if self.result.result_error else ""


class _Observers:
    """Broadcast hooks, called implementation by implementation so that one observer's error (logged)
    neither reaches the payment nor keeps the other observers from hearing the event."""

    def __init__(self, hook: Any) -> None:
        self._impls: dict[str, list[tuple[str, Callable[..., Any], tuple[str, ...]]]] = {
            name: [
                (impl.plugin_name, impl.function, tuple(impl.argnames))
                for impl in reversed(getattr(hook, name).get_hookimpls())  # pluggy's order: last registered first
            ]
            for name in ("attempt_started", "attempt_finished", "payment_finished")
        }
        self.attempt_started = bool(self._impls["attempt_started"])
        self.attempt_finished = bool(self._impls["attempt_finished"])
        self.payment_finished = bool(self._impls["payment_finished"])

    def notify(self, name: str, **kwargs: Any) -> None:
        for plugin, function, argnames in self._impls[name]:
            try:
                function(**{arg: kwargs[arg] for arg in argnames})
            except Exception:
                _log.exception("observer.failed", hook=name, plugin=plugin)


class Chain:
    """Walks the configured providers for one payment at a time (any number of payments concurrently)."""

    def __init__(
        self,
        handles: Sequence[ProviderHandle],
        rules: RuleTable,
        ledger: Ledger,
        hook: Any,
        settings: ChainSettings,
        pool: DaemonPool,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.handles = tuple(handles)
        self.rules = rules
        self.ledger = ledger
        self.settings = settings
        self._hook = hook
        self._observers = _Observers(hook)
        self._pool = pool
        self._clock = clock
        self._by_name = {h.name: h for h in self.handles}
        self._every_step: tuple[PlanStep, ...] | None = (
            tuple(PlanStep(h.name, None) for h in self.handles)
            if all(h.capabilities is None for h in self.handles)
            else None
        )
        self.breakers = {
            h.name: CircuitBreaker(settings.breaker_threshold, settings.breaker_cooldown_s) for h in self.handles
        }

    def refresh_observers(self) -> None:
        """Read the observer hooks' implementations again: a plugin registered after the chain was built."""
        self._observers = _Observers(self._hook)

    # --- before any provider --------------------------------------------------------------------------------

    def resolve(self, request: PaymentRequest, context: APIContext) -> Order | PaymentResult:
        """The order ``request`` names, or the refusal to answer (nothing stored, no provider called)."""
        try:
            order = self._resolve_order(request, context)
        except InvalidInput as exc:
            return refusal(str(exc))
        except Exception as exc:  # an order-book plugin failed: nothing was stored or charged yet
            _log.exception("order.resolve_failed", payment_string=request.payment_string[:80])
            return refusal(f"the order could not be resolved: {type(exc).__name__}", ErrorCode.SYSTEM_ERROR)
        if order is None:
            return refusal(f"order not found: {request.type.value} {echo_value(request.payment_string, limit=80)}")
        if order.status is _ORDER_CLOSED:
            return refusal(f"order {order.trade_no} is closed")
        if order.status is _ORDER_PAID and not self._paid_here(order.trade_no):
            # Paid by another order book's account, not by a payment of this ledger: paying it would charge twice.
            return refusal(f"order {order.trade_no} is already paid")
        if order.status is _ORDER_OPEN and order.expires_at is not None and order.expires_at <= self._clock():
            return refusal(f"order {order.trade_no} has expired")
        if request.payment_amount is not None and request.payment_amount != order.amount:
            return refusal(
                f"payment_amount {request.payment_amount} disagrees with order {order.trade_no} ({order.amount})"
            )
        user = (context.extended_info or {}).get("userId")
        if user is not None and user != order.payer_id:
            return refusal(f"api_context.extended_info.userId is not the payer of order {order.trade_no}")
        # A mini program that says whose it is may pay only that merchant's orders.
        info = context.mini_program_info
        if info is not None and info.merchant_id is not None and info.merchant_id != order.merchant_id:
            return refusal(f"api_context.mini_program_info.merchant_id is not the merchant of order {order.trade_no}")
        return order

    def _paid_here(self, trade_no: str) -> bool:
        """Whether this ledger's latest payment of ``trade_no`` succeeded (a repeat is then answered from it)."""
        latest = self.ledger.payments(trade_no=trade_no, limit=1)
        return bool(latest) and latest[0].status is PaymentStatus.SUCCEEDED

    def _resolve_order(self, request: PaymentRequest, context: APIContext) -> Order | None:
        resolved: Order | None = self._hook.resolve_order(payment_request=request, api_context=context)
        return resolved

    def plan(self, order: Order, request: PaymentRequest) -> list[PlanStep]:
        """The chain for ``order``: each provider, tried or skipped by its declared capabilities, and why.
        (An open circuit is decided when the provider's turn comes; :meth:`explain` shows it.)"""
        if self._every_step is not None:  # no provider declares capabilities: every order gets the same plan
            return list(self._every_step)
        steps = []
        for handle in self.handles:
            caps = handle.capabilities
            reason = caps.refusal(order.amount.currency, order.amount.minor_units, request.type) if caps else None
            steps.append(PlanStep(handle.name, reason))
        return steps

    def circuit(self, provider: str) -> str:
        """The state of ``provider``'s circuit breaker: ``closed``, ``open`` or ``half_open``."""
        breaker = self.breakers.get(provider)
        return breaker.state if breaker is not None else "closed"

    # --- the payment ----------------------------------------------------------------------------------------

    async def pay(self, request: PaymentRequest, context: APIContext) -> PaymentResult:
        """Pay ``request`` and return its one result. Raises only on a bug or a ledger failure after a provider
        may have moved money; a failure before that is answered ``4000`` (nothing was charged)."""
        started = time.monotonic()
        resolved = self.resolve(request, context)
        if isinstance(resolved, PaymentResult):
            _log.info(
                "payment.refused",
                app_id=context.app_id,
                result=resolved.result_code.value,
                reason=resolved.result_message,
            )
            return resolved
        order = resolved
        try:
            payment, created = self.ledger.begin_payment(order, context.app_id)
        except Exception as exc:  # nothing recorded, no provider called: a failure, not an unknown outcome
            _log.exception("payment.failed_uncharged", app_id=context.app_id, trade_no=order.trade_no)
            return not_charged(exc, "the payment could not be recorded")
        if not created:
            if self.settings.in_flight_repeat == "wait" and payment.status is PaymentStatus.PROCESSING:
                try:
                    payment = await self._wait_for(payment, started + self.settings.deadline_s)
                except BaseException:  # cut off while it waits: still in progress, as far as this caller knows
                    publish_cut_off(in_progress(payment))
                    raise
            return self._repeat_answer(payment, context.app_id)
        log = bind_on_use(_log, payment_id=payment.payment_id, app_id=context.app_id, trade_no=order.trade_no)
        try:
            return await self._walk(request, context, order, payment, started, log)
        except BaseException as exc:
            if isinstance(exc, Exception) and (failed := self._failed_uncharged(payment, exc)) is not None:
                log.exception("payment.failed_uncharged")
                return failed
            # A crash or a cancellation mid-payment: an attempt may have reached a provider, so the payment is
            # left for reconciliation rather than "in progress" for ever (repeats get its stored 6004 meanwhile).
            # The ledger first, the log line after: the record of the money never waits on a log.
            publish_cut_off(self._leave_for_reconciliation(payment.payment_id))
            # A cancellation (the service closed, Ctrl-C) is no fault to debug: its traceback is left out.
            log.error("payment.interrupted", exc_info=not isinstance(exc, asyncio.CancelledError))
            raise

    def _failed_uncharged(self, payment: Payment, exc: Exception) -> PaymentResult | None:
        """The ``4000`` answer of a payment that broke off while the ledger shows that nothing can have moved (no
        attempt in flight, every recorded one not paid; attempts are written before their provider is called),
        recorded as failed; ``None`` when that cannot be shown, and the payment is left for reconciliation."""
        try:
            current = self.ledger.get_payment(payment.payment_id)
        except Exception:
            return None
        if (
            current is None
            or current.status is not PaymentStatus.PROCESSING
            or current.pending is not None
            or any(r.status is not ProviderStatus.NOT_PAID for r in current.attempts)
        ):
            return None
        answer = with_info(not_charged(exc, "the payment broke off"), {"paymentId": payment.payment_id}, trusted=True)
        # Should this write fail too, the payment stays processing and reconciliation fails it (no attempt moved).
        with contextlib.suppress(Exception):
            self.ledger.finish_payment(payment.payment_id, PaymentStatus.FAILED, answer)
        return answer

    async def _walk(
        self,
        request: PaymentRequest,
        context: APIContext,
        order: Order,
        payment: Payment,
        started: float,
        log: EventLogger,
    ) -> PaymentResult:
        deadline = started + self.settings.deadline_s
        records: tuple[AttemptRecord, ...] = ()
        answer: PaymentResult | None = None
        status = _FAILED
        # Tuples, grown only when a provider is skipped or has answered, and the plan shared when every order gets
        # the same one: objects fewer for the collector to walk per payment in flight (33 to 31 for the skipped
        # providers and the plan, 29 to 28 for the records while the first provider is called; docs/performance.md).
        skipped: tuple[str, ...] = ()
        answered_by: str | None = None
        by_name = self._by_name
        # Asked once per payment: at warning, the info events' fields are not even built (measured: 67,000
        # instructions of a 3-attempt payment's 567,000; docs/performance.md).
        informed = log.is_enabled_for(logging.INFO)
        every_step = self._every_step
        plan = every_step if every_step is not None else self.plan(order, request)
        # Walked by index: a range's iterator is not tracked by the garbage collector, a tuple's is (one object
        # fewer per payment in flight, 23 to 22; docs/performance.md).
        for index in range(len(plan)):
            step = plan[index]
            reason, probe = step.skip_reason, 0
            breaker = self.breakers.get(step.provider)
            if reason is None:
                if time.monotonic() >= deadline:  # before the breaker is asked: a probe must reach the provider
                    answer = refusal(
                        f"payment deadline of {self.settings.deadline_s}s reached after {len(records)} attempts",
                        ErrorCode.TIMEOUT,
                    )
                    break
                # Asked only now, as the provider's turn comes: a half-open circuit lets exactly this call probe.
                if breaker is not None:
                    reason, probe = breaker.admit()
            if reason is not None:
                skipped += (f"{step.provider}: {reason}",)
                log.info("provider.skipped", provider=step.provider, reason=reason)
                continue
            try:
                record, answer, status = await self._attempt(
                    by_name[step.provider], breaker, request, context, order, payment, deadline, log, informed
                )
            except BaseException:
                if breaker is not None:  # no outcome was recorded: a probe passes to the next payment
                    breaker.release(probe)
                raise
            records += (record,)
            if record.final is _STOP:
                answered_by = step.provider
                break
        if answer is None:
            answer = self._all_fell_through(records, skipped)
        answer = final_answer(answer, payment.payment_id, answered_by)
        finished = self.ledger.finish_payment(payment.payment_id, status, answer)
        if informed:
            log.info(
                "payment.finished",
                provider=records[-1].attempt.provider if records else None,
                attempt=len(records),
                result=answer.result_code,
                status=status,
                duration_ms=round((time.monotonic() - started) * 1000, 3),
            )
        if self._observers.payment_finished:
            self._observers.notify("payment_finished", payment=finished)
        return answer

    async def _attempt(
        self,
        handle: ProviderHandle,
        breaker: CircuitBreaker | None,
        request: PaymentRequest,
        context: APIContext,
        order: Order,
        payment: Payment,
        deadline: float,
        log: EventLogger,
        informed: bool,
    ) -> tuple[AttemptRecord, PaymentResult | None, PaymentStatus]:
        attempt = self.ledger.start_attempt(payment.payment_id, handle.name)
        if self._observers.attempt_started:
            self._observers.notify("attempt_started", attempt=attempt, order=order)
        t0 = time.monotonic()
        timeout = min(handle.deadline_s, deadline - t0)
        try:
            # The arguments' dict is the call's alone, not a local of this frame, which lives as long as the
            # provider takes: one object fewer for the collector per payment in flight (docs/performance.md).
            answered, value = handle.pay.start(
                {"payment_request": request, "api_context": context, "order": order, "attempt": attempt},
                max(timeout, 0.0),
                self._pool,
            )
            if not answered:
                value = await value
        except TimeoutError:
            outcome = _Outcome(_TIMEOUT, None, f"no answer within {timeout:.3f}s")
        except Exception as exc:  # a provider's bug must not crash the host: it is an ambiguous outcome
            outcome = _Outcome(_EXCEPTION, None, safe_text(type(exc).__name__, 80))
        else:
            if isinstance(value, PaymentResult):
                outcome = _Outcome(_ANSWER, value, "")
            else:
                shown = safe_text(type(value).__name__, 80)  # a provider's own type: its name is not trusted text
                outcome = _Outcome(_INVALID, None, f"returned {shown}, not a PaymentResult")
        rule, decision = self.rules.decide(handle.name, outcome.kind, outcome.result, outcome.match_text)
        detail = outcome.detail
        answer: PaymentResult | None = None
        status = _FAILED
        if decision is _INQUIRE:
            final, paid, note = await self.inquire_then_cancel(handle, order, attempt, deadline)
            detail = f"{detail}; {note}" if detail else note
            if paid:
                answer = PaymentResult(ResultCode.SUCCESS, "paid (confirmed by inquiry)")
                status = _SUCCEEDED
            elif final is _STOP:
                answer, status = _unresolved(outcome)
        else:
            final = decision
            if final is _STOP:
                answer, status = _stop_answer(rule, outcome)
        if status is _SUCCEEDED:
            money = _PAID
        elif status is _NEEDS_RECONCILIATION:
            money = _UNKNOWN
        else:  # fell through, declined or cancelled: the provider moved nothing
            money = _NOT_PAID
        if breaker is not None:
            breaker.record(outcome.kind, outcome.result)
        record = attempt_record(
            attempt,
            outcome.kind,
            outcome.result,
            rule.name,
            decision,
            final,
            detail,
            round((time.monotonic() - t0) * 1000, 3),
            money,
        )
        self.ledger.finish_attempt(record)
        if informed:  # the fields are built only for an event that is kept
            _log_attempt(log, record)
        if self._observers.attempt_finished:
            self._observers.notify("attempt_finished", record=record, order=order)
        return record, answer, status

    async def inquire_then_cancel(
        self, handle: ProviderHandle, order: Order, attempt: Attempt, deadline: float
    ) -> tuple[Decision, bool, str]:
        """Resolve an ambiguous attempt: (decision, paid, what happened). Falls through only when the provider
        says nothing moved, or confirms a cancel; anything else stops for reconciliation."""
        if handle.inquire is None:
            return Decision.STOP, False, "provider has no inquiry: left for reconciliation"
        available = {"order": order, "attempt": attempt}
        status = ProviderStatus.UNKNOWN
        for number in range(1, self.settings.inquiry_attempts + 1):
            # An inquiry that failed or timed out tells nothing: it counts as unknown, and the next one is made.
            status = await self._ask(handle.inquire, available, handle.deadline_s, deadline, ProviderStatus)
            status = status or ProviderStatus.UNKNOWN
            if status is not ProviderStatus.UNKNOWN:
                break
            pause = min(self.settings.inquiry_interval_s, deadline - time.monotonic())
            if number < self.settings.inquiry_attempts and pause > 0:
                await asyncio.sleep(pause)
        if status is ProviderStatus.PAID:
            return Decision.STOP, True, "inquiry: paid"
        if status is ProviderStatus.NOT_PAID:
            return Decision.FALLTHROUGH, False, "inquiry: not paid"
        if handle.cancel is None:
            return Decision.STOP, False, "inquiry: unknown; provider has no cancel: left for reconciliation"
        for _ in range(self.settings.inquiry_attempts):
            confirmed = await self._ask(handle.cancel, available, handle.deadline_s, deadline, bool)
            if confirmed is True:
                return Decision.FALLTHROUGH, False, "inquiry: unknown; cancel confirmed"
            if confirmed is False:
                break
        return Decision.STOP, False, "inquiry: unknown; cancel not confirmed: left for reconciliation"

    async def _ask(self, call: Any, available: dict[str, Any], limit: float, deadline: float, kind: type) -> Any:
        """One idempotent inquiry or cancel call; ``None`` when it failed or returned the wrong type."""
        remaining = min(limit, deadline - time.monotonic())
        if remaining <= 0:
            return None
        try:
            value = await call(available, remaining, self._pool)
        except Exception as exc:
            _log.warning(
                "provider.call_failed",
                payment_id=available["attempt"].payment_id,
                error=type(exc).__name__,
                attempt=available["attempt"].number,
                provider=available["attempt"].provider,
            )
            return None
        if kind is ProviderStatus:
            try:
                return ProviderStatus(value)
            except ValueError:
                return ProviderStatus.UNKNOWN
        return value if isinstance(value, kind) else None

    async def _wait_for(self, payment: Payment, deadline: float) -> Payment:
        """Poll the ledger until ``payment`` leaves ``processing`` or ``deadline`` passes (works across
        processes, as the payment may be in flight in another host)."""
        pause = 0.002
        while payment.status is PaymentStatus.PROCESSING and time.monotonic() < deadline:
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.05)
            payment = self.ledger.get_payment(payment.payment_id) or payment
        return payment

    def _leave_for_reconciliation(self, payment_id: str) -> PaymentResult:
        """End an interrupted payment ``needs_reconciliation`` (an attempt may have reached its provider) and
        return its answer: the ``6004`` naming the provider of the attempt left unsettled, or the stored answer
        if the payment had ended before the interruption. Raises no ``Exception``: the interruption goes on."""
        try:
            now = self.ledger.get_payment(payment_id)
            if now is not None and now.result is not None:
                return now.result
            unsettled = now.pending if now is not None else None
            if now is not None and unsettled is None and now.attempts:
                last = now.attempts[-1]
                unsettled = last.attempt if last.status is ProviderStatus.UNKNOWN else None
            answer = final_answer(unresolved_result(), payment_id, unsettled.provider if unsettled else None)
            self.ledger.finish_payment(payment_id, PaymentStatus.NEEDS_RECONCILIATION, answer)
        except Exception:
            return final_answer(unresolved_result(), payment_id, None)
        return answer

    # --- answers --------------------------------------------------------------------------------------------

    def _repeat_answer(self, payment: Payment, app_id: str | None) -> PaymentResult:
        _log.info(
            "payment.repeated",
            payment_id=payment.payment_id,
            app_id=app_id,
            status=payment.status.value,
            trade_no=payment.trade_no,
        )
        if payment.result is not None:  # finished: the stored answer, whatever it was
            return payment.result
        return in_progress(payment)

    @staticmethod
    def _all_fell_through(records: tuple[AttemptRecord, ...], skipped: tuple[str, ...]) -> PaymentResult:
        if not records:
            return refusal("no provider can pay this order: " + ("; ".join(skipped) or "the chain is empty"))
        parts = []
        for r in records:
            res = r.result
            if res is None:
                parts.append(f"{r.attempt.provider}: {r.kind.value} ({r.detail})")
                continue
            code = str(int(res.result_error.error_code)) if res.result_error else res.result_code.value
            parts.append(f"{r.attempt.provider}: {code} {res.reason or ''}".rstrip())
        last = records[-1].result
        error = (
            last.result_error if last and last.result_error else ResultError(ErrorCode.APP_SERVICE_ERROR, "declined")
        )
        info = {"reason": last.reason} if last and last.reason else {}
        return PaymentResult(ResultCode.FAILED, "every provider declined: " + "; ".join(parts), error, info)


def _log_attempt(log: EventLogger, record: AttemptRecord) -> None:
    result = record.result
    error = result.result_error if result is not None else None
    # Enum members, not their .value: they are str, and render the same at a fraction of the cost.
    log.info(
        "attempt.finished",
        provider=record.attempt.provider,
        attempt=record.attempt.number,
        kind=record.kind,
        result=result.result_code if result is not None else None,
        error_code=int(error.error_code) if error is not None else None,
        reason=result.reason if result is not None else None,
        rule=record.rule,
        decision=record.decision,
        final=record.final,
        duration_ms=record.duration_ms,
    )


def _stop_answer(rule: Rule, outcome: _Outcome) -> tuple[PaymentResult, PaymentStatus]:
    result = outcome.result
    if outcome.kind is not _ANSWER or result is None or is_ambiguous_code(result.result_code):
        return _unresolved(outcome)
    if result.result_code is _SUCCESS:
        return result, _SUCCEEDED
    error = result.result_error
    if is_user_cancel(result) or rule.answer_code is ResultCode.USER_CANCEL:
        return (
            PaymentResult(
                ResultCode.USER_CANCEL,
                result.result_message or "the user cancelled",
                ResultError(ErrorCode.USER_CANCEL, error.error_desc if error else "the user cancelled"),
                result.extended_info,
            ),
            _CANCELLED,
        )
    return result, _FAILED


def _unresolved(outcome: _Outcome) -> tuple[PaymentResult, PaymentStatus]:
    error = ErrorCode.TIMEOUT if outcome.kind is _TIMEOUT else ErrorCode.UNKNOWN_ERROR
    return unresolved_result(error), _NEEDS_RECONCILIATION
