"""A payment's story for people and for JSON: the result and each attempt, in order."""

from __future__ import annotations

import time
from typing import Any

from ._models import PaymentResult
from ._orders import Order
from ._records import AttemptRecord, Payment

__all__ = ["payment_to_dict", "render_payment", "render_story"]


def _answer(record: AttemptRecord) -> str:
    result = record.result
    if result is None:
        return record.kind.value
    text = result.result_code.value
    if result.result_error is not None:
        text += f"/{int(result.result_error.error_code)}"
    if result.reason:
        text += f" {result.reason}"
    return text


def render_payment(order: Order, result: PaymentResult, payment: Payment | None) -> str:
    """Lines: the order, then ``#n provider  answer  rule -> decision [detail]``, then the result."""
    lines = [f"order {order.trade_no}: {order.amount} from {order.payer_id} to {order.merchant_id}"]
    for record in payment.attempts if payment else ():
        final = (
            record.final.value
            if record.final is record.decision
            else f"{record.decision.value} -> {record.final.value}"
        )
        detail = f"  [{record.detail}]" if record.detail else ""
        lines.append(
            f"  #{record.attempt.number} {record.attempt.provider:<10} {_answer(record):<32} "
            f"{record.rule} -> {final}{detail}  ({record.duration_ms:.1f} ms)"
        )
    status = f" ({payment.status.value})" if payment else ""
    lines.append(f"  => {result.result_code.value} {result.result_message}{status}")
    return "\n".join(lines)


def payment_to_dict(payment: Payment) -> dict[str, Any]:
    """The payment as JSON-ready data."""
    return {
        "paymentId": payment.payment_id,
        "tradeNo": payment.trade_no,
        "status": payment.status.value,
        "appId": payment.app_id,
        "result": payment.result.to_dict() if payment.result else None,
        "attempts": [
            {
                "number": r.attempt.number,
                "provider": r.attempt.provider,
                "idempotencyKey": r.attempt.idempotency_key,
                "kind": r.kind.value,
                "answer": r.result.to_dict() if r.result else None,
                "rule": r.rule,
                "decision": r.decision.value,
                "final": r.final.value,
                "detail": r.detail,
                "durationMs": r.duration_ms,
                "money": r.status.value,
            }
            for r in payment.attempts
        ],
        "pending": None
        if payment.pending is None
        else {
            "number": payment.pending.number,
            "provider": payment.pending.provider,
            "idempotencyKey": payment.pending.idempotency_key,
        },
        "createdAt": payment.created_at,
        "updatedAt": payment.updated_at,
    }


def render_story(payment: Payment, order: Order | None) -> str:
    """A payment for an operator: the order, the status, each attempt with its key, and the attempt still in
    flight (or cut off), if any."""
    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(payment.created_at))
    lines = [f"payment {payment.payment_id} of order {payment.trade_no}: {payment.status.value} (started {when})"]
    if order is not None:
        lines.append(f"  order: {order.amount} from {order.payer_id} to {order.merchant_id}, {order.status.value}")
    for record in payment.attempts:
        final = (
            record.final.value
            if record.final is record.decision
            else f"{record.decision.value} -> {record.final.value}"
        )
        lines.append(f"  #{record.attempt.number} {record.attempt.provider:<10} key {record.attempt.idempotency_key}")
        lines.append(
            f"      answer {_answer(record)}; rule {record.rule} -> {final}; money {record.status.value}; "
            f"{record.duration_ms:.1f} ms"
        )
        if record.detail:
            lines.append(f"      {record.detail}")
    if payment.pending is not None:
        p = payment.pending
        lines.append(f"  #{p.number} {p.provider:<10} key {p.idempotency_key}")
        lines.append("      sent, no answer recorded (in flight, or cut off: `tradepay reconcile` settles it)")
    if payment.result is not None:
        lines.append(f"  => {payment.result.result_code.value} {payment.result.result_message}")
    return "\n".join(lines)
