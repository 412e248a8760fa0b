"""A payment's story for people and for JSON: the result and each attempt, in order."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from .._ledger.orders import Order, OrderStatus
from .._ledger.records import AttemptRecord, Payment
from .._ledger.refunds import order_refund_state
from .._spi.models import PaymentResult
from .._spi.refunds import Refund
from .refund_commands import refund_line
from .render import format_time, json_amount, json_time

__all__ = ["order_state", "order_to_dict", "payment_to_dict", "render_payment", "render_story"]


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


def _decision(record: AttemptRecord) -> str:
    if record.final is record.decision:
        return record.final.value
    return f"{record.decision.value} -> {record.final.value}"


def _outcome(result: PaymentResult, payment: Payment | None) -> str:
    """The last line: the code, then what became of the payment, then the message (never a code glued to
    an amount: ``=> 9000 succeeded: USD 9.00 debited ...``)."""
    status = payment.status.value if payment is not None else "refused, nothing recorded"
    message = f": {result.result_message}" if result.result_message else ""
    return f"  => {result.result_code.value} {status}{message}"


def order_state(order: Order, now: float | None = None) -> str:
    """The order's status as a person needs it: ``open``, ``paid``, ``closed``, or ``expired`` for an open
    order whose ``expires_at`` has passed (it can no longer be paid)."""
    expired = order.expires_at is not None and order.expires_at <= (time.time() if now is None else now)
    return "expired" if order.status is OrderStatus.OPEN and expired else order.status.value


def _order_line(order: Order) -> str:
    return f"{order.amount} from {order.payer_id} to {order.merchant_id}"


def render_payment(order: Order, result: PaymentResult, payment: Payment | None, *, stored: bool = False) -> str:
    """What ``tradepay pay`` prints: the payment and its order, then ``#n provider  answer  rule ->
    decision [detail]`` per attempt, then the result. With ``stored`` (the order's payment existed before the
    call), the attempts are not shown again: the answer is the stored one and no provider was called."""
    head = f"payment {payment.payment_id} of order" if payment is not None else "order"
    lines = [f"{head} {order.trade_no}: {_order_line(order)}"]
    if stored and payment is not None:
        lines.append(
            f"  no provider called: the stored answer of this payment (`tradepay payments show "
            f"{payment.payment_id}` tells its story)"
        )
    else:
        for record in payment.attempts if payment else ():
            detail = f"  [{record.detail}]" if record.detail else ""
            lines.append(
                f"  #{record.attempt.number} {record.attempt.provider:<10} {_answer(record):<32} "
                f"{record.rule} -> {_decision(record)}{detail}  ({record.duration_ms:.1f} ms)"
            )
    lines.append(_outcome(result, payment))
    return "\n".join(lines)


def order_to_dict(order: Order) -> dict[str, Any]:
    """The order as JSON-ready data (see ``docs/cli.md`` for the conventions)."""
    return {
        "tradeNo": order.trade_no,
        "amount": json_amount(order.amount.currency, order.amount.value),
        "merchantId": order.merchant_id,
        "payerId": order.payer_id,
        "status": order.status.value,
        "expired": order_state(order) == "expired",
        "expiresAt": json_time(order.expires_at),
    }


def payment_to_dict(payment: Payment) -> dict[str, Any]:
    """The payment as JSON-ready data (see ``docs/cli.md`` for the conventions)."""
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
                "status": r.status.value,
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
        "createdAt": json_time(payment.created_at),
        "updatedAt": json_time(payment.updated_at),
    }


def render_story(payment: Payment, order: Order | None, refunds: Sequence[Refund] = ()) -> str:
    """A payment for an operator: the order, the status, each attempt with its key, the attempt still in
    flight (or cut off), if any, and the payment's ``refunds``, oldest first."""
    lines = [
        f"payment {payment.payment_id} of order {payment.trade_no}: {payment.status.value} "
        f"(started {format_time(payment.created_at)})"
    ]
    if order is not None:
        lines.append(f"  order: {_order_line(order)}, {order_state(order)}")
    for record in payment.attempts:
        lines.append(f"  #{record.attempt.number} {record.attempt.provider:<10} key {record.attempt.idempotency_key}")
        lines.append(
            f"      answer {_answer(record)}; rule {record.rule} -> {_decision(record)}; status {record.status.value}; "
            f"{record.duration_ms:.1f} ms"
        )
        if record.detail:
            lines.append(f"      {record.detail}")
    if payment.pending is not None:
        p = payment.pending
        lines.append(f"  #{p.number} {p.provider:<10} key {p.idempotency_key}")
        lines.append("      sent, no answer recorded (in flight, or cut off: `tradepay reconcile` settles it)")
    if payment.result is not None:
        lines.append(_outcome(payment.result, payment))
    if refunds and payment.order is not None:
        state = order_refund_state(payment.order.amount, refunds)
        lines.append(f"  refunds ({state.value.replace('_', ' ')}):")
        lines.extend(f"    {refund_line(r)}" for r in sorted(refunds, key=lambda r: r.created_at))
    return "\n".join(lines)
