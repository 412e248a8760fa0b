"""The ledger's commands: ``tradepay orders ...``, ``tradepay payments ...``, ``tradepay reconcile`` and
``tradepay doctor``."""

from __future__ import annotations

import json
import sys
import time
from typing import TYPE_CHECKING, Any

import click

from ._records import PaymentStatus

if TYPE_CHECKING:
    from ._cli import _State

__all__ = ["register"]

#: Above this many unsettled payments, ``reconcile`` shows a progress bar.
PROGRESS_BAR_FROM = 20


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


def _order_dict(state: _State, trade_no: str) -> dict[str, Any]:
    host = state.host()
    order = host.ledger.get_order(trade_no)
    if order is None:
        raise click.BadParameter(f"no order {trade_no!r}", param_hint="'TRADE_NO'")
    data: dict[str, Any] = {
        "tradeNo": order.trade_no,
        "amount": {"currency": order.amount.currency, "value": order.amount.value},
        "merchantId": order.merchant_id,
        "payerId": order.payer_id,
        "status": order.status.value,
        "expiresAt": order.expires_at,
        "cashierUrl": host.ledger.cashier_url(order.trade_no),
    }
    if order.merchant_id in (host.config.merchants if host.config else {}):
        data["orderStr"] = host.ledger.order_string(order.trade_no)
    return data


def _with_progress_bar(host: Any, stale: float | None, count: int) -> Any:
    with click.progressbar(length=count, label="reconciling", file=sys.stderr) as bar:

        def tick(_settlement: object) -> None:
            bar.update(1)

        return host.reconcile(stale_after_s=stale, progress=tick)


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
    @click.option("--expires-in", type=click.IntRange(min=1), metavar="SECONDS", help="Close it for payment after.")
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
        from ._models import PaymentAmount

        order = state.host().ledger.create_order(
            PaymentAmount(currency, amount),
            merchant_id=merchant,
            payer_id=payer,
            trade_no=trade_no,
            expires_at=time.time() + expires_in if expires_in else None,
        )
        data = _order_dict(state, order.trade_no)
        if as_json:
            _echo_json(data)
            return
        click.echo(order.trade_no)
        click.echo(f"  cashier URL: {data['cashierUrl']}")
        if "orderStr" in data:
            click.echo(f"  order string: {data['orderStr']}")

    @orders.command("show")
    @click.argument("trade_no")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show(state: _State, trade_no: str, as_json: bool) -> None:
        """Show an order and its payments."""
        data = _order_dict(state, trade_no)
        payments = state.host().ledger.payments(trade_no=trade_no)
        data["payments"] = [{"paymentId": p.payment_id, "status": p.status.value} for p in payments]
        if as_json:
            _echo_json(data)
            return
        amount = data["amount"]
        click.echo(
            f"{trade_no}: {amount['currency']} {amount['value']} (minor units) from {data['payerId']} "
            f"to {data['merchantId']}, {data['status']}"
        )
        for p in data["payments"]:
            click.echo(f"  {p['paymentId']}  {p['status']}")

    @orders.command("close")
    @click.argument("trade_no")
    @click.pass_obj
    def close(state: _State, trade_no: str) -> None:
        """Close an open order with no payment under way: it can no longer be paid."""
        order = state.host().ledger.close_order(trade_no)
        click.echo(f"{order.trade_no} {order.status.value}")

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
        """List payments, newest first."""
        from ._timeline import payment_to_dict

        found = state.host().ledger.payments(
            status=PaymentStatus(status) if status else None, trade_no=trade_no, limit=limit
        )
        if as_json:
            _echo_json([payment_to_dict(p) for p in found])
            return
        for p in found:
            result = p.result.result_code.value if p.result else "-"
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p.created_at))
            click.echo(
                f"{p.payment_id}  {when}  {p.trade_no:<24} {p.status.value:<21} {result}  "
                f"{len(p.attempts) + (p.pending is not None)} attempt(s)"
            )
        if not found:
            click.echo("no payments")

    @payments.command("show")
    @click.argument("payment_id")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def show_payment(state: _State, payment_id: str, as_json: bool) -> None:
        """Show a payment's story: every attempt with its provider, key, answer, rule, decision and duration."""
        from ._timeline import payment_to_dict, render_story

        host = state.host()
        payment = host.ledger.get_payment(payment_id)
        if payment is None:
            raise click.BadParameter(f"no payment {payment_id!r}", param_hint="'PAYMENT_ID'")
        if as_json:
            _echo_json(payment_to_dict(payment))
        else:
            # The order as the order book has it now, else as the payment recorded it (another book's order).
            click.echo(render_story(payment, host.ledger.get_order(payment.trade_no) or payment.order))

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
        """Settle every payment left unsettled (by a crash, a kill or an unknown answer) through its provider's
        inquiry; list what stays unsettled. Exits 1 when some payment still needs reconciliation."""
        host = state.host()
        stale = 0.0 if everything else None
        unsettled = host.ledger.unsettled(
            updated_before=time.time() - (stale if stale is not None else 2 * host.chain.settings.deadline_s)
        )
        if len(unsettled) >= PROGRESS_BAR_FROM and not as_json:
            done = _with_progress_bar(host, stale, len(unsettled))
        else:
            done = host.reconcile(stale_after_s=stale)
        left = [s for s in done if s.after in (PaymentStatus.PROCESSING, PaymentStatus.NEEDS_RECONCILIATION)]
        if as_json:
            _echo_json(
                [
                    {
                        "paymentId": s.payment_id,
                        "tradeNo": s.trade_no,
                        "before": s.before.value,
                        "after": s.after.value,
                        "detail": s.detail,
                    }
                    for s in done
                ]
            )
        else:
            for s in done:
                click.echo(f"{s.payment_id}  {s.trade_no:<24} {s.before.value} -> {s.after.value}  ({s.detail})")
            click.echo(f"{len(done)} payment(s) reconciled, {len(left)} still need reconciliation")
        if left:
            raise SystemExit(1)

    @cli.command()
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def doctor(state: _State, as_json: bool) -> None:
        """Check the configuration, the data directory, the providers and the ledger (connection, schema
        version, unsettled payments); say what is wrong and how to fix it. Exits 1 when a check fails."""
        from ._doctor import diagnose, render

        checks = diagnose(state.config_path)
        if as_json:
            _echo_json([{"status": c.status, "check": c.what, "detail": c.detail} for c in checks])
            ok = all(c.status != "fail" for c in checks)
        else:
            ok = render(checks, click.echo)
        if not ok:
            raise SystemExit(1)
