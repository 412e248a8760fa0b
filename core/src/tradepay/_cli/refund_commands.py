"""The refund commands: ``tradepay refund``, ``tradepay refunds list`` and ``tradepay refunds show``; and how a
refund is shown, to people and as JSON."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from .._spi.refunds import Refund, RefundResult, RefundStatus, ResultStatus
from .guard import FAILED, REFUSED
from .input import AMOUNT_OPTIONS, typed_as
from .render import echo_json, echo_text, format_table, format_time, json_amount, json_time

if TYPE_CHECKING:
    from .main import _State

__all__ = ["refund_line", "refund_result_to_dict", "refund_to_dict", "register"]

#: How ``tradepay refund`` names the values it passes on, when the input rules refuse one.
_REFUND_OPTIONS = {**AMOUNT_OPTIONS, "trade_no": "TRADE_NO", "refund_request_id": "--request-id", "reason": "--reason"}


def refund_to_dict(refund: Refund) -> dict[str, Any]:
    """The refund as JSON-ready data (see ``docs/cli.md`` for the conventions)."""
    answer = refund.answer
    return {
        "refundId": refund.refund_id,
        "tradeNo": refund.trade_no,
        "paymentId": refund.payment_id,
        "attempt": {
            "number": refund.attempt.number,
            "provider": refund.attempt.provider,
            "idempotencyKey": refund.attempt.idempotency_key,
        },
        "amount": json_amount(refund.amount.currency, refund.amount.value),
        "requestId": refund.request_id,
        "merchantId": refund.merchant_id,
        "reason": refund.reason,
        "status": refund.status.value,
        "answer": None
        if answer is None
        else {"outcome": answer.outcome.value, "reason": answer.reason, "message": answer.message},
        "createdAt": json_time(refund.created_at),
        "updatedAt": json_time(refund.updated_at),
    }


def refund_result_to_dict(result: RefundResult) -> dict[str, Any]:
    """A refund request's answer as JSON-ready data."""
    return {
        "resultStatus": result.result_status.value,
        "resultCode": result.result_code,
        "resultMessage": result.result_message,
        "refund": refund_to_dict(result.refund) if result.refund is not None else None,
    }


def refund_line(refund: Refund) -> str:
    """One line of a refund, for a payment's story and ``refunds show``."""
    answer = refund.answer
    said = ""
    if answer is not None:
        said = f" ({answer.reason or answer.outcome.value}{': ' + answer.message if answer.message else ''})"
    return (
        f"refund {refund.refund_id}  {refund.amount} to #{refund.attempt.number} {refund.attempt.provider}"
        f"  {refund.status.value}{said}  request {refund.request_id}, {format_time(refund.created_at)}"
    )


def _show(refund: Refund) -> str:
    lines = [refund_line(refund), f"  order {refund.trade_no}, payment {refund.payment_id}"]
    lines.append(f"  attempt key {refund.attempt.idempotency_key}; refund key {refund.idempotency_key}")
    if refund.reason:
        lines.append(f"  reason: {refund.reason}")
    if refund.status in (RefundStatus.PROCESSING, RefundStatus.NEEDS_RECONCILIATION):
        lines.append("  its outcome is not known yet: `tradepay reconcile` settles it")
    return "\n".join(lines)


def register(cli: click.Group) -> None:
    """Add the refund commands to ``cli``."""

    @cli.command()
    @click.argument("trade_no")
    @click.option("--amount", required=True, help="Refund this much, in the minor unit of the order's currency.")
    @click.option("--request-id", required=True, help="The merchant's refund request id (a repeat is answered once).")
    @click.option("--reason", help="Why, as the merchant says it.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def refund(state: _State, trade_no: str, amount: str, request_id: str, reason: str | None, as_json: bool) -> None:
        """Refund part or all of a paid order, to the provider and attempt that took the money; print the
        answer (S refunded, F nothing moved, U unknown until reconciled). Exits 2 when the request is refused
        and nothing is recorded, 1 when the refund failed or its outcome is unknown."""
        from .._ledger.refunds import RefundRequest
        from .._refunding import RefundService
        from .._spi.models import PaymentAmount

        with typed_as(_REFUND_OPTIONS):  # the input's own rules, before anything is asked (the currency aside)
            RefundRequest(trade_no, PaymentAmount("USD", amount), request_id, reason)
        host = state.host(reconcile=None)
        result = RefundService(host).refund(trade_no, amount, request_id, reason)
        if as_json:
            echo_json(refund_result_to_dict(result))
        else:
            echo_text(f"{result.result_status.value} {result.result_code}: {result.result_message}")
            if result.refund is not None:
                echo_text(f"  {refund_line(result.refund)}")
        if result.result_status is not ResultStatus.SUCCESS:
            # Refused before anything was recorded: 2, as every refused request; else not done (failed, unknown).
            sys.exit(REFUSED if result.refund is None else FAILED)

    @cli.group()
    def refunds() -> None:
        """Refunds, as the ledger recorded them."""

    @refunds.command("list")
    @click.option("--status", type=click.Choice([s.value for s in RefundStatus]), help="Only this status.")
    @click.option("--order", "trade_no", help="Only the refunds of this order.")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_refunds(state: _State, status: str | None, trade_no: str | None, limit: int, as_json: bool) -> None:
        """List refunds, newest first (times in UTC)."""
        found = state.host().ledger.refunds(
            status=RefundStatus(status) if status else None, trade_no=trade_no, limit=limit
        )
        if as_json:
            echo_json([refund_to_dict(r) for r in found])
            return
        if not found:
            echo_text("no refunds")
            return
        rows = [
            (
                r.refund_id,
                format_time(r.created_at).removesuffix(" UTC"),
                r.trade_no,
                str(r.amount),
                r.attempt.provider,
                r.status.value,
                r.request_id,
            )
            for r in found
        ]
        echo_text(format_table(("REFUND", "CREATED (UTC)", "ORDER", "AMOUNT", "PROVIDER", "STATUS", "REQUEST"), rows))

    @refunds.command("show")
    @click.argument("refund_id", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show_refund(state: _State, refund_id: str, as_json: bool) -> None:
        """Show a refund: its order, the attempt it went to, its keys, its status and the provider's answer. ID
        is a refund id, or a trade number (its order's latest refund)."""
        ledger = state.host().ledger
        found = ledger.get_refund(refund_id)
        if found is None:
            latest = ledger.refunds(trade_no=refund_id, limit=1)
            if not latest:
                raise click.BadParameter(f"no refund, nor order with a refund, {refund_id!r}", param_hint="'ID'")
            found = latest[0]
        if as_json:
            echo_json(refund_to_dict(found))
            return
        echo_text(_show(found))
