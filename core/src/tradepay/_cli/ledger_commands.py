"""The ledger's commands: ``tradepay orders ...``, ``tradepay payments ...``, ``tradepay reconcile`` and
``tradepay doctor``."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any

import click

from .._ledger.records import PaymentStatus
from .._spi.refunds import RefundStatus
from .input import AMOUNT_OPTIONS, typed_as
from .render import echo_json, echo_text, format_table, format_time

if TYPE_CHECKING:
    from .._ledger.records import Payment
    from .main import _State

__all__ = ["register"]

#: Above this many unsettled payments, ``reconcile`` shows a progress bar.
PROGRESS_BAR_FROM = 20
#: The longest ``orders create --expires-in``: a hundred years (and a number that time arithmetic can hold).
MAX_EXPIRES_IN_S = 100 * 365 * 24 * 3600


def _order_dict(state: _State, trade_no: str) -> dict[str, Any]:
    from .timeline import order_to_dict

    host = state.host()
    order = host.ledger.get_order(trade_no)
    if order is None:
        raise click.BadParameter(f"no order {trade_no!r}", param_hint="'TRADE_NO'")
    data = order_to_dict(order)
    data["cashierUrl"] = host.ledger.cashier_url(order.trade_no)
    if order.merchant_id in (host.config.merchants if host.config else {}):
        data["orderStr"] = host.ledger.order_string(order.trade_no)
    return data


def _with_progress_bar(host: Any, stale: float | None, count: int) -> Any:
    with click.progressbar(length=count, label="reconciling", file=sys.stderr) as bar:

        def tick(_settlement: object) -> None:
            bar.update(1)

        return host.reconcile(stale_after_s=stale, progress=tick)


def _latest_payment(host: Any, reference: str) -> tuple[Payment, list[Payment]]:
    """The payment ``reference`` names: a payment id, or a trade number (its order's latest payment, and the
    order's earlier payments)."""
    payment = host.ledger.get_payment(reference)
    if payment is not None:
        return payment, []
    order = host.ledger.get_order(reference)
    if order is None:
        raise click.BadParameter(f"no payment or order {reference!r}", param_hint="'ID'")
    found = host.ledger.payments(trade_no=reference, limit=1_000_000)
    if not found:
        raise click.ClickException(
            f"order {reference} has no payment yet: `tradepay pay --trade-no {reference}` pays it"
        )
    return found[0], found[1:]


def register(cli: click.Group) -> None:
    """Add the ledger's commands to ``cli``."""

    @cli.group()
    def orders() -> None:
        """Orders: the super app's create-order API, on the command line."""

    @orders.command("create")
    @click.option("--amount", required=True, help="Amount in the currency's minor unit, e.g. 100 for USD 1.00.")
    @click.option("--currency", required=True, help="ISO 4217 code, e.g. USD.")
    @click.option("--payer", required=True, help="The paying user's id.")
    @click.option("--merchant", required=True, help="The merchant's id.")
    @click.option("--trade-no", help="The trade number (default: a new random one).")
    @click.option(
        "--expires-in",
        type=click.IntRange(min=1, max=MAX_EXPIRES_IN_S),
        metavar="SECONDS",
        help="Close it for payment after.",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def create(
        state: _State,
        amount: str,
        currency: str,
        payer: str,
        merchant: str,
        trade_no: str | None,
        expires_in: int | None,
        as_json: bool,
    ) -> None:
        """Create an open order; print its trade number, cashier URL and (for a merchant with a secret)
        its signed order string."""
        from .._ledger.orders import check_trade_no
        from .._spi.models import PaymentAmount
        from .main import existing_order_error

        with typed_as(AMOUNT_OPTIONS):
            if trade_no is not None:
                check_trade_no(trade_no, "trade_no")
            requested = PaymentAmount(currency, amount)
        ledger = state.host().ledger
        existing = ledger.get_order(trade_no) if trade_no is not None else None
        if existing is not None:
            raise existing_order_error(existing)
        with typed_as(AMOUNT_OPTIONS):
            order = ledger.create_order(
                requested,
                merchant_id=merchant,
                payer_id=payer,
                trade_no=trade_no,
                expires_at=time.time() + expires_in if expires_in else None,
            )
        data = _order_dict(state, order.trade_no)
        if as_json:
            echo_json(data)
            return
        echo_text(order.trade_no)
        echo_text(f"  cashier URL: {data['cashierUrl']}")
        if "orderStr" in data:
            echo_text(f"  order string: {data['orderStr']}")

    @orders.command("show")
    @click.argument("trade_no")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show(state: _State, trade_no: str, as_json: bool) -> None:
        """Show an order (open, paid, closed, or expired: open but past its expiry), and its payments."""
        from .._ledger.orders import OrderStatus
        from .._ledger.refunds import OrderRefundState, order_refund_state
        from .timeline import order_state

        data = _order_dict(state, trade_no)
        ledger = state.host().ledger
        order = ledger.get_order(trade_no)
        payments = ledger.payments(trade_no=trade_no, limit=1_000_000)
        data["payments"] = [{"paymentId": p.payment_id, "status": p.status.value} for p in payments]
        refunds = ledger.refunds(trade_no=trade_no, limit=1_000_000)
        data["refunds"] = [{"refundId": r.refund_id, "status": r.status.value} for r in refunds]
        refunded = order_refund_state(order.amount, refunds) if order.status is OrderStatus.PAID else None
        data["refundState"] = refunded.value if refunded is not None else None
        if as_json:
            echo_json(data)
            return
        status = order_state(order)
        if status == "expired":
            status = f"expired at {format_time(order.expires_at)}: it can no longer be paid"
        elif status == "open" and order.expires_at is not None:
            status = f"open until {format_time(order.expires_at)}"
        elif refunded is not None and refunded is not OrderRefundState.PAID:
            status = f"paid, {refunded.value.replace('_', ' ')}"
        echo_text(f"order {trade_no}: {order.amount} from {order.payer_id} to {order.merchant_id}, {status}")
        for p in payments:
            echo_text(f"  payment {p.payment_id}  {p.status.value}  (started {format_time(p.created_at)})")
        for r in refunds:
            echo_text(f"  refund {r.refund_id}  {r.amount}  {r.status.value}  (request {r.request_id})")

    @orders.command("close")
    @click.argument("trade_no")
    @click.pass_obj
    def close(state: _State, trade_no: str) -> None:
        """Close an unpaid order: it can no longer be paid. A payment of it in flight is waited for, and an
        unsettled one reconciled first (inquiry, then the provider's cancel); a paid order is refused."""
        from .._refunding import RefundService

        with typed_as({"trade_no": "TRADE_NO"}):
            order = RefundService(state.host()).close_order(trade_no)
        echo_text(f"{order.trade_no} {order.status.value}")

    @cli.group()
    def payments() -> None:
        """Payments and their attempts, as the ledger recorded them."""

    @payments.command("list")
    @click.option("--status", type=click.Choice([s.value for s in PaymentStatus]), help="Only this status.")
    @click.option("--order", "trade_no", help="Only the payments of this order.")
    @click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_payments(state: _State, status: str | None, trade_no: str | None, limit: int, as_json: bool) -> None:
        """List payments, newest first (times in UTC)."""
        from .timeline import payment_to_dict

        found = state.host().ledger.payments(
            status=PaymentStatus(status) if status else None, trade_no=trade_no, limit=limit
        )
        if as_json:
            echo_json([payment_to_dict(p) for p in found])
            return
        if not found:
            echo_text("no payments")
            return
        rows = [
            (
                p.payment_id,
                format_time(p.created_at).removesuffix(" UTC"),
                p.trade_no,
                p.status.value,
                p.result.result_code.value if p.result else "-",
                str(len(p.attempts) + (p.pending is not None)),
            )
            for p in found
        ]
        echo_text(format_table(("PAYMENT", "STARTED (UTC)", "ORDER", "STATUS", "RESULT", "ATTEMPTS"), rows))

    @payments.command("show")
    @click.argument("reference", metavar="ID")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show_payment(state: _State, reference: str, as_json: bool) -> None:
        """Show a payment's story: every attempt with its provider, key, answer, rule, decision and duration,
        then its refunds. ID is a payment id, or a trade number (its order's latest payment)."""
        from .refund_commands import refund_to_dict
        from .timeline import payment_to_dict, render_story

        host = state.host()
        payment, earlier = _latest_payment(host, reference)
        refunds = [
            r
            for r in host.ledger.refunds(trade_no=payment.trade_no, limit=1_000_000)
            if r.payment_id == payment.payment_id
        ]
        if as_json:
            echo_json({**payment_to_dict(payment), "refunds": [refund_to_dict(r) for r in reversed(refunds)]})
            return
        # The order as the order book has it now, else as the payment recorded it (another book's order).
        echo_text(render_story(payment, host.ledger.get_order(payment.trade_no) or payment.order, refunds))
        if earlier:
            echo_text(
                f"(the latest of {len(earlier) + 1} payments of order {payment.trade_no}: "
                f"`tradepay payments list --order {payment.trade_no}` lists them)"
            )

    @cli.command()
    @click.option(
        "--all",
        "everything",
        is_flag=True,
        help="Also settle processing payments younger than twice the chain deadline (only when no host is paying).",
    )
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def reconcile(state: _State, everything: bool, as_json: bool) -> None:
        """Settle every payment, then every refund, left unsettled (by a crash, a kill or an unknown answer)
        through its provider's inquiry; list what stays unsettled, and how many processing payments were too
        young to touch. Exits 1 when some payment or refund still needs reconciliation."""
        from .._ledger.reconcile import too_young_note, too_young_to_settle

        host = state.host()
        stale = 0.0 if everything else None
        window = 2 * host.chain.settings.deadline_s
        unsettled = host.ledger.unsettled(updated_before=time.time() - (stale if stale is not None else window))
        if len(unsettled) >= PROGRESS_BAR_FROM and not as_json:
            done = _with_progress_bar(host, stale, len(unsettled))
        else:
            done = host.reconcile(stale_after_s=stale)
        refunds = host.reconcile_refunds(stale_after_s=stale)
        young = too_young_to_settle(host, stale_after_s=stale)
        left = [s for s in done if s.after in (PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION)]
        refunds_left = [s for s in refunds if s.after in (RefundStatus.PROCESSING, RefundStatus.NEEDS_RECONCILIATION)]
        if as_json:
            settlements = [
                {
                    "paymentId": s.payment_id,
                    "tradeNo": s.trade_no,
                    "before": s.before.value,
                    "after": s.after.value,
                    "detail": s.detail,
                }
                for s in done
            ]
            refund_settlements = [
                {
                    "refundId": s.refund_id,
                    "tradeNo": s.trade_no,
                    "before": s.before.value,
                    "after": s.after.value,
                    "detail": s.detail,
                }
                for s in refunds
            ]
            echo_json({"settlements": settlements, "refunds": refund_settlements, "tooYoung": len(young)})
        else:
            for s in done:
                echo_text(f"{s.payment_id}  {s.trade_no:<24} {s.before.value} -> {s.after.value}  ({s.detail})")
            echo_text(f"{len(done)} payment(s) reconciled, {len(left)} still need reconciliation")
            for r in refunds:
                echo_text(f"{r.refund_id}  {r.trade_no:<24} {r.before.value} -> {r.after.value}  ({r.detail})")
            if refunds:
                echo_text(f"{len(refunds)} refund(s) reconciled, {len(refunds_left)} still need reconciliation")
            if young:
                echo_text(too_young_note(len(young), window))
        if left or refunds_left:
            raise SystemExit(1)

    @cli.command()
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def doctor(state: _State, as_json: bool) -> None:
        """Check the configuration, the data directory, the providers and the ledger (connection, schema
        version, unsettled payments, and processing ones too young to settle); say what is wrong and how to
        fix it. Exits 1 when a check fails."""
        from .doctor import diagnose, render

        checks = diagnose(state.config_path)
        if as_json:
            echo_json([{"status": c.status, "check": c.what, "detail": c.detail} for c in checks])
            ok = all(c.status != "fail" for c in checks)
        else:
            ok = render(checks, echo_text)
        if not ok:
            raise SystemExit(1)
