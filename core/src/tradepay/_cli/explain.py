"""``tradepay explain``: the plan for an order and the rule that meets each possible answer, without paying."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._chain.rules import effective_decision
from .._host import Host
from .._ledger.orders import Order
from .._ledger.records import Decision, OutcomeKind
from .._spi.models import ErrorCode, PaymentAmount, PaymentRequest, PaymentResult, PaymentType, ResultCode, ResultError
from .render import json_amount

__all__ = ["SAMPLE_OUTCOMES", "Explanation", "explain_chain"]


def _answer(code: ResultCode, error: ErrorCode | None = None, reason: str | None = None) -> PaymentResult:
    return PaymentResult(
        code, "sample", ResultError(error, "sample") if error else None, {"reason": reason} if reason else {}
    )


#: The answers ``explain`` shows a decision for: (label, kind, result).
SAMPLE_OUTCOMES: tuple[tuple[str, OutcomeKind, PaymentResult | None], ...] = (
    ("9000 success", OutcomeKind.ANSWER, _answer(ResultCode.SUCCESS)),
    ("6001 user cancel", OutcomeKind.ANSWER, _answer(ResultCode.USER_CANCEL, ErrorCode.USER_CANCEL)),
    (
        "4000/1002 declined",
        OutcomeKind.ANSWER,
        _answer(ResultCode.FAILED, ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"),
    ),
    (
        "4000/1002 RISK_REJECT",
        OutcomeKind.ANSWER,
        _answer(ResultCode.FAILED, ErrorCode.APP_SERVICE_ERROR, "RISK_REJECT"),
    ),
    (
        "4000/1002 STOLEN_CARD",
        OutcomeKind.ANSWER,
        _answer(ResultCode.FAILED, ErrorCode.APP_SERVICE_ERROR, "STOLEN_CARD"),
    ),
    ("4000/1005 system error", OutcomeKind.ANSWER, _answer(ResultCode.FAILED, ErrorCode.SYSTEM_ERROR)),
    ("4000/2001 agreement pending", OutcomeKind.ANSWER, _answer(ResultCode.FAILED, ErrorCode.AUTH_PENDING_AGREEMENT)),
    ("4000/1003 timeout", OutcomeKind.ANSWER, _answer(ResultCode.FAILED, ErrorCode.TIMEOUT)),
    ("4000/1000 unknown error", OutcomeKind.ANSWER, _answer(ResultCode.FAILED, ErrorCode.UNKNOWN_ERROR)),
    ("8000 processing", OutcomeKind.ANSWER, _answer(ResultCode.PROCESSING)),
    ("6002 network error", OutcomeKind.ANSWER, _answer(ResultCode.NETWORK_ERROR)),
    ("6004 unknown result", OutcomeKind.ANSWER, _answer(ResultCode.UNKNOWN)),
    ("exception", OutcomeKind.EXCEPTION, None),
    ("invalid answer", OutcomeKind.INVALID, None),
    ("deadline missed", OutcomeKind.TIMEOUT, None),
)


@dataclass(frozen=True, slots=True)
class Explanation:
    """The plan (provider, skipped reason) and, per tried provider, (answer, rule, decision, then)."""

    order: Order
    plan: list[tuple[str, str | None]]
    decisions: dict[str, list[tuple[str, str, str, str]]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": json_amount(self.order.amount.currency, self.order.amount.value),
            "plan": [{"provider": p, "skipped": reason} for p, reason in self.plan],
            "decisions": {
                provider: [{"answer": a, "rule": r, "decision": d, "then": t} for a, r, d, t in rows]
                for provider, rows in self.decisions.items()
            },
        }

    def render(self) -> str:
        lines = [f"paying {self.order.amount}:"]
        for number, (provider, reason) in enumerate(self.plan, 1):
            lines.append(f"  {number}. {provider}: " + (f"skipped ({reason})" if reason else "tried"))
        for provider, rows in self.decisions.items():
            lines.append(f"\nanswers from {provider}:")
            lines.extend(f"  {a:<30} {r:<20} {d:<12} {t}" for a, r, d, t in rows)
        return "\n".join(lines)


def _then(decision: Decision, has_inquiry: bool, has_cancel: bool) -> str:
    if decision is Decision.STOP:
        return "answer now"
    if decision is Decision.FALLTHROUGH:
        return "try the next provider"
    if not has_inquiry:
        return "no inquiry: stop, reconcile"
    return "inquire; paid: stop; not paid: next" + ("; unknown: cancel" if has_cancel else "; unknown: reconcile")


def explain_chain(host: Host, amount: str, currency: str, payment_type: str) -> Explanation:
    """Explain how ``host`` would pay ``amount`` of ``currency`` by a ``payment_type`` request."""
    order = Order("EXPLAIN", PaymentAmount(currency, amount), "merchant", "payer")
    request = PaymentRequest(PaymentType(payment_type), "EXPLAIN")
    chain = host.chain
    plan = [
        (
            step.provider,
            step.skip_reason
            or (
                None
                if chain.circuit(step.provider) == "closed"
                else f"circuit {chain.circuit(step.provider).replace('_', '-')}"
            ),
        )
        for step in chain.plan(order, request)
    ]
    decisions = {}
    for handle in chain.handles:
        rows = []
        for label, kind, result in SAMPLE_OUTCOMES:
            detail = (result.reason or "") if result else ""
            rule = chain.rules.match(handle.name, kind, result, detail)
            decision = effective_decision(rule, kind, result)
            rows.append(
                (
                    label,
                    rule.name,
                    decision.value,
                    _then(decision, handle.inquire is not None, handle.cancel is not None),
                )
            )
        decisions[handle.name] = rows
    return Explanation(order, plan, decisions)
