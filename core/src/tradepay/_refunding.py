"""``RefundService``: refunds, refund inquiry and order close, beside :class:`~tradepay.PaymentService`.

A refund goes to the provider and the attempt that took the order's money (never one the chain fell through),
under the refund's own idempotency key, recorded ``processing`` before the provider is asked. Each refund
request gets exactly one :class:`~tradepay.RefundResult` and never raises: ``S`` (refunded), ``F`` (refused or
failed: nothing moved) or ``U`` (unknown: reconciliation settles it). A repeat of a merchant's refund request
id with the same fields gets the first refund's answer; with other fields ``REPEAT_REQ_INCONSISTENT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from ._chain.refunds import RefundHandle, RefundObservers, ask_refund, settle_by_inquiry
from ._host import Host
from ._ledger.notifications import FINAL_REFUND, refund_result_fields
from ._ledger.orders import Order
from ._ledger.reconcile import reconcile_payment, run_sync
from ._ledger.records import Payment, PaymentStatus
from ._ledger.refund_reconcile import settle_refund
from ._ledger.refunds import RefundRefused, RefundRequest, paying_attempt
from ._logging import EventLogger, get_logger
from ._spi.errors import ConfigError, InvalidInput
from ._spi.models import PaymentAmount
from ._spi.refunds import Refund, RefundAnswer, RefundOutcome, RefundResult, RefundStatus, ResultStatus

__all__ = ["RefundService", "refund_result"]

_log = get_logger("tradepay")
_UNSETTLED_PAYMENT = frozenset({PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION})


def _refused(code: str, message: str) -> RefundResult:
    return RefundResult(ResultStatus.FAILED, code, message)


def _unrecorded(exc: Exception) -> RefundResult:
    return _refused("SYSTEM_ERROR", f"the refund could not be recorded ({type(exc).__name__}); nothing moved")


def refund_result(refund: Refund) -> RefundResult:
    """The answer a recorded refund gives (to its request and every repeat of it)."""
    if refund.status in FINAL_REFUND:  # the words its notification carries too: one place decides them
        status, code, message = refund_result_fields(refund)
        return RefundResult(ResultStatus(status), code, message, refund)
    return RefundResult(
        ResultStatus.UNKNOWN,
        "REFUND_IN_PROCESS",
        "the refund's outcome is not known yet; reconciliation settles it",
        refund,
    )


class RefundService:
    """Refunds of ``host``'s paid orders, their inquiry, and the close of unpaid orders."""

    def __init__(self, host: Host) -> None:
        if not isinstance(host, Host):
            raise ConfigError("host", f"must be a Host (Host.from_config or Host(...)), got {type(host).__name__}")
        self.host = host
        self._observers = RefundObservers(host.pm.hook)

    # --- refund ---------------------------------------------------------------------------------------------

    def refund(
        self, trade_no: str, amount: PaymentAmount | str, refund_request_id: str, reason: str | None = None
    ) -> RefundResult:
        """Refund ``amount`` of order ``trade_no`` and wait for the one :class:`RefundResult` (see
        :meth:`refund_async`)."""
        return run_sync(self.refund_async(trade_no, amount, refund_request_id, reason))

    async def refund_async(
        self, trade_no: str, amount: PaymentAmount | str, refund_request_id: str, reason: str | None = None
    ) -> RefundResult:
        """Refund ``amount`` (a :class:`PaymentAmount`, or a string of minor units in the order's currency) of
        the paid order ``trade_no`` under the merchant's ``refund_request_id``; return the one answer."""
        try:
            payment = self._paid(trade_no)
            request = RefundRequest(trade_no, self._amount(amount, payment), refund_request_id, reason)
        except InvalidInput as exc:
            return _refused("INVALID_REQUEST", str(exc))
        except Exception as exc:  # the ledger failed: nothing was recorded
            _log.exception("refund.failed_unrecorded", trade_no=trade_no)
            return _unrecorded(exc)
        refusal = self._not_refundable(payment, refund_request_id)
        if refusal is not None:
            _log.info("refund.refused", trade_no=trade_no, code=refusal.result_code, reason=refusal.result_message)
            return refusal
        try:
            refund, created = self.host.ledger.begin_refund(request)
        except RefundRefused as refused:
            _log.info("refund.refused", trade_no=trade_no, code=refused.code, reason=refused.message)
            return _refused(refused.code, refused.message)
        except InvalidInput as exc:
            return _refused("INVALID_REQUEST", str(exc))
        except Exception as exc:
            _log.exception("refund.failed_unrecorded", trade_no=trade_no)
            return _unrecorded(exc)
        log = _log.bind(refund_id=refund.refund_id, trade_no=trade_no, provider=refund.attempt.provider)
        if not created:
            log.info("refund.repeated", status=refund.status.value)
            return refund_result(refund)
        try:
            return await self._send(refund, log)
        except BaseException as exc:
            # Cut off after the refund was recorded: the provider may have moved money; reconciliation settles it.
            # Should this write fail too, the refund stays processing, and reconciliation takes it once stale.
            with contextlib.suppress(Exception):
                self.host.ledger.finish_refund(refund.refund_id, RefundStatus.NEEDS_RECONCILIATION, None)
            log.error("refund.interrupted", exc_info=not isinstance(exc, asyncio.CancelledError))
            if not isinstance(exc, Exception):
                raise
        try:  # the refund as it was left (as the request ended it, if it ended before the failure)
            return refund_result(self.host.ledger.get_refund(refund.refund_id) or refund)
        except Exception:
            return refund_result(refund)

    async def _send(self, refund: Refund, log: EventLogger) -> RefundResult:
        """Ask the provider that took the money for the recorded ``refund``, and record its outcome."""
        payment = self.host.ledger.get_payment(refund.payment_id)
        handle = self.host.refunders.get(refund.attempt.provider)
        if payment is None or payment.order is None or handle is None or handle.refund is None:
            # The provider was checked before the refund was recorded; should the payment have been paid only
            # meanwhile (by another host), its provider may not refund: it is never asked, so nothing moved.
            message = f"provider {refund.attempt.provider!r} cannot refund (it has no refund hook)"
            answer = RefundAnswer(RefundOutcome.FAILED, "NOT_REFUNDABLE", message)
            return refund_result(self.host.ledger.finish_refund(refund.refund_id, RefundStatus.FAILED, answer))
        return await self._run(refund, payment.order, handle, log)

    async def _run(self, refund: Refund, order: Order, handle: RefundHandle, log: EventLogger) -> RefundResult:
        started = time.monotonic()
        deadline = started + self.host.chain.settings.deadline_s
        self._observers.notify("refund_started", refund, order)
        outcome, answer, detail = await ask_refund(handle, order, refund, self.host.pool, deadline)
        if outcome is RefundOutcome.SUCCEEDED:
            status = RefundStatus.SUCCEEDED
        elif outcome is RefundOutcome.FAILED:
            status = RefundStatus.FAILED
        else:
            status, note = await settle_by_inquiry(handle, order, refund, self.host.pool, deadline)
            detail = f"{detail}; {note}"
        finished = self.host.ledger.finish_refund(refund.refund_id, status, answer)
        log.info(
            "refund.finished",
            status=status.value,
            amount=str(refund.amount),
            reason=answer.reason if answer is not None else None,
            detail=detail,
            duration_ms=round((time.monotonic() - started) * 1000, 3),
        )
        self._observers.notify("refund_finished", finished, order)
        return refund_result(finished)

    # --- inquiry --------------------------------------------------------------------------------------------

    def inquire_refund(self, trade_no: str, refund_request_id: str) -> RefundResult:
        """What became of the refund of ``trade_no`` requested under ``refund_request_id`` (see
        :meth:`inquire_refund_async`)."""
        return run_sync(self.inquire_refund_async(trade_no, refund_request_id))

    async def inquire_refund_async(self, trade_no: str, refund_request_id: str) -> RefundResult:
        """The refund's answer now; an unsettled one whose request has ended (``needs_reconciliation``, or
        ``processing`` for longer than a refund can take) is first settled through the provider's inquiry.
        ``F`` ``REFUND_NOT_FOUND`` when the order has no refund under that request id."""
        try:
            payment = self._paid(trade_no)
            refund = (
                self.host.ledger.find_refund(payment.order.merchant_id, refund_request_id)
                if payment is not None and payment.order is not None
                else None
            )
        except Exception as exc:
            _log.exception("refund.inquiry_failed", trade_no=trade_no)
            message = f"the ledger could not be read ({type(exc).__name__})"
            return RefundResult(ResultStatus.UNKNOWN, "SYSTEM_ERROR", message)
        if refund is None or refund.trade_no != trade_no or payment is None or payment.order is None:
            return _refused("REFUND_NOT_FOUND", f"order {trade_no} has no refund requested as {refund_request_id!r}")
        stale = time.time() - 2 * self.host.chain.settings.deadline_s
        if refund.status is RefundStatus.NEEDS_RECONCILIATION or (
            refund.status is RefundStatus.PROCESSING and refund.updated_at < stale
        ):
            refund = await settle_refund(self.host, refund, payment.order)
        return refund_result(refund)

    # --- close ----------------------------------------------------------------------------------------------

    def close_order(self, trade_no: str) -> Order:
        """Close the unpaid order ``trade_no`` in the host's order book: it can no longer be paid. A payment of
        it still in flight is waited for (up to twice the chain's deadline) and an unsettled one is reconciled
        first (inquiry, then the provider's ``cancel``). Raises :class:`InvalidInput` (field ``trade_no``) when
        the order is unknown, paid, or its payment's outcome stays unknown; nothing is changed then."""
        ledger = self.host.ledger
        latest = ledger.payments(trade_no=trade_no, limit=1)
        if latest and latest[0].status in _UNSETTLED_PAYMENT:
            payment = self._wait_settled(latest[0])
            if payment.status in _UNSETTLED_PAYMENT:
                reconcile_payment(self.host, payment)
        order = ledger.close_order(trade_no)
        _log.info("order.closed", trade_no=trade_no)
        return order

    def _wait_settled(self, payment: Payment) -> Payment:
        """``payment`` once it leaves ``processing`` or twice the chain's deadline passed (it may be paying in
        another host)."""
        window = 2 * self.host.chain.settings.deadline_s
        give_up = time.monotonic() + window
        while payment.status is PaymentStatus.PROCESSING and payment.updated_at > time.time() - window:
            if time.monotonic() >= give_up:
                break
            time.sleep(0.01)
            payment = self.host.ledger.get_payment(payment.payment_id) or payment
        return payment

    # --- helpers --------------------------------------------------------------------------------------------

    def _paid(self, trade_no: str) -> Payment | None:
        """The order's succeeded payment, or ``None``."""
        found = self.host.ledger.payments(trade_no=trade_no, status=PaymentStatus.SUCCEEDED, limit=1)
        return found[0] if found else None

    def _not_refundable(self, payment: Payment | None, request_id: str) -> RefundResult | None:
        """The refusal of a new refund of ``payment`` when the provider that took its money has no ``refund``
        hook (or is no longer configured); ``None`` when it can refund, or the request id names a refund
        already recorded (a repeat gets its answer)."""
        attempt = paying_attempt(payment) if payment is not None else None
        if attempt is None or payment is None or payment.order is None:
            return None  # not paid: the ledger refuses it
        handle = self.host.refunders.get(attempt.provider)
        if handle is not None and handle.refund is not None:
            return None
        if self.host.ledger.find_refund(payment.order.merchant_id, request_id) is not None:
            return None
        message = f"provider {attempt.provider!r}, which took the money, cannot refund (it has no refund hook)"
        return _refused("NOT_REFUNDABLE", message + "; nothing was recorded")

    @staticmethod
    def _amount(amount: object, payment: Payment | None) -> PaymentAmount:
        if isinstance(amount, PaymentAmount):
            return amount
        if not isinstance(amount, str):
            kind = type(amount).__name__
            raise InvalidInput("amount", f"must be a PaymentAmount or a string of minor units, got {kind}")
        if payment is None or payment.order is None:
            raise InvalidInput("amount", "needs a currency: the order has no succeeded payment to take it from")
        return PaymentAmount(payment.order.amount.currency, amount)
