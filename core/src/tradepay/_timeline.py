"""A payment's story for people and for JSON: the result and each attempt, in order."""

from __future__ import annotations

from typing import Any

from ._models import PaymentResult
from ._orders import Order
from ._records import AttemptRecord, Payment

__all__ = ["payment_to_dict", "render_payment"]


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
            }
            for r in payment.attempts
        ],
    }
