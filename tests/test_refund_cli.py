"""Refunds end to end from the command line, with the installed providers: `tradepay refund`, `tradepay refunds
list` / `show`, the refunds in `payments show` and `orders show`, `tradepay orders close`, and an unknown refund
settled by `tradepay reconcile` (and by a host that starts)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from click.testing import CliRunner, Result

from tradepay import Config, Host, PaymentAmount, RefundStatus
from tradepay._cli.main import cli
from tradepay._ledger.refunds import RefundRequest

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.test_cli_json import PROVIDERS, workspace
else:
    from test_cli_json import PROVIDERS, workspace

__all__ = ["workspace"]  # the fixture: a folder with the demo's chain configured, as the working directory


def run(*args: str) -> Result:
    # Each run is a new process for the command line: its plugin commands are loaded afresh.
    cli._plugins_loaded = False
    return CliRunner().invoke(cli, list(args), prog_name="tradepay")


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (args, result.output, result.exception)
    return result.stdout


def paid_by_the_card(trade_no: str) -> None:
    """An order of bob's whose wallet is short: the agreement and the wallet decline, the card pays."""
    ok("wallet", "topup", "bob", "USD", "100")
    ok("card", "add", "bob", "4242424242424242", "--exp", "12/30", "--cvc", "123")
    ok("orders", "create", "--amount", "2500", "--currency", "USD", "--payer", "bob", "--merchant", "m-coffee",
       "--trade-no", trade_no)  # fmt: skip
    ok("pay", "--trade-no", trade_no)


def test_refund_from_the_command_line_goes_to_the_card(workspace: Path) -> None:
    paid_by_the_card("T-refund")
    text = ok("refund", "T-refund", "--amount", "1000", "--request-id", "r-1", "--reason", "one item back")
    assert text.splitlines()[0] == "S SUCCESS: refunded USD 10.00"
    assert "to #3 card  succeeded (succeeded: USD 10.00 refunded to Visa ending 4242)  request r-1" in text
    assert ok("refund", "T-refund", "--amount", "1000", "--request-id", "r-1", "--reason", "one item back") == text
    other = run("refund", "T-refund", "--amount", "999", "--request-id", "r-1", "--reason", "one item back")
    assert other.exit_code == 2
    assert other.stdout.startswith("F REPEAT_REQ_INCONSISTENT: ")
    over = run("refund", "T-refund", "--amount", "1501", "--request-id", "r-2", "--json")
    assert over.exit_code == 2
    assert json.loads(over.stdout)["resultCode"] == "REFUND_AMOUNT_EXCEED"
    [listed] = json.loads(ok("refunds", "list", "--json"))
    assert (listed["status"], listed["attempt"]["provider"], listed["amount"]) == (
        "succeeded",
        "card",
        {"currency": "USD", "value": "1000"},
    )
    shown = ok("refunds", "show", listed["refundId"])
    assert f"refund key {listed['refundId']}" in shown
    assert "reason: one item back" in shown
    assert ok("refunds", "show", "T-refund") == shown
    story = ok("payments", "show", "T-refund")
    assert "refunds (partially refunded):" in story
    assert json.loads(ok("payments", "show", "T-refund", "--json"))["refunds"] == [listed]
    order = json.loads(ok("orders", "show", "T-refund", "--json"))
    assert order["refundState"] == "partially_refunded"
    assert "paid, partially refunded" in ok("orders", "show", "T-refund")
    ok("refund", "T-refund", "--amount", "1500", "--request-id", "r-3")
    assert json.loads(ok("orders", "show", "T-refund", "--json"))["refundState"] == "refunded"
    assert ok("wallet", "balance", "bob").strip() == "USD 1.00"  # the wallet, which declined, got nothing


def test_refund_input_is_refused_naming_the_option(workspace: Path) -> None:
    for args, option in (
        (["--amount", "1.5", "--request-id", "r-1"], "--amount"),
        (["--amount", "100", "--request-id", ""], "--request-id"),
    ):
        result = run("refund", "T-none", *args)
        assert result.exit_code == 2
        assert f"Invalid value for '{option}'" in result.stderr
    unpaid = run("refund", "T-none", "--amount", "100", "--request-id", "r-1")
    assert unpaid.exit_code == 2
    assert unpaid.stdout.startswith("F ")
    assert json.loads(ok("refunds", "list", "--json")) == []
    missing = run("refunds", "show", "rfd_none")
    assert missing.exit_code == 2


def test_orders_close_refuses_a_paid_order_and_closes_an_unpaid_one(workspace: Path) -> None:
    paid_by_the_card("T-paid")
    refused = run("orders", "close", "T-paid")
    assert refused.exit_code == 2
    assert "is paid and cannot be closed" in refused.stderr
    ok("orders", "create", "--amount", "100", "--currency", "USD", "--payer", "nobody", "--merchant", "m-coffee",
       "--trade-no", "T-open")  # fmt: skip
    assert ok("orders", "close", "T-open").strip() == "T-open closed"
    assert run("pay", "--trade-no", "T-open").exit_code == 1


def test_a_card_that_declines_refunds_fails_the_refund(workspace: Path) -> None:
    ok("card", "add", "dave", "4000000000005126", "--exp", "12/30", "--cvc", "123")  # refunds declined
    ok("orders", "create", "--amount", "700", "--currency", "USD", "--payer", "dave", "--merchant", "m-coffee",
       "--trade-no", "T-declined")  # fmt: skip
    ok("pay", "--trade-no", "T-declined")
    result = run("refund", "T-declined", "--amount", "700", "--request-id", "r-1", "--json")
    assert result.exit_code == 1  # recorded, and failed: not done
    answer = json.loads(result.stdout)
    assert (answer["resultStatus"], answer["resultCode"]) == ("F", "REFUND_DECLINED")
    assert answer["refund"]["status"] == "failed"


def host_of(workspace: Path, *, reconcile: bool = False) -> Host:
    """A host of the workspace's chain and files (one that starts reconciles, with ``reconcile``)."""
    raw = {"chain": {"providers": PROVIDERS}, "host": {"data_dir": "state"}}
    return Host.from_config(Config.from_mapping(raw, base_dir=workspace), reconcile=reconcile)


def test_refunds_a_crash_left_unsettled_are_settled_by_reconcile_and_at_start_up(workspace: Path) -> None:
    paid_by_the_card("T-crash")
    host = host_of(workspace)
    # Three refunds as a host killed at three points leaves them: recorded and never sent; sent and refunded
    # by the card, unrecorded; and one whose answer was unknown (needs reconciliation), refunded too.
    never_sent, _ = host.ledger.begin_refund(RefundRequest("T-crash", PaymentAmount("USD", "100"), "r-1"))
    refunded, _ = host.ledger.begin_refund(RefundRequest("T-crash", PaymentAmount("USD", "200"), "r-2"))
    unknown, _ = host.ledger.begin_refund(RefundRequest("T-crash", PaymentAmount("USD", "300"), "r-3"))
    card: Any = host.provider("card")
    [payment] = host.ledger.payments(trade_no="T-crash")
    for refund in (refunded, unknown):
        assert card.refund(order=payment.order, attempt=refund.attempt, refund=refund).outcome.value == "succeeded"
    host.ledger.finish_refund(unknown.refund_id, RefundStatus.NEEDS_RECONCILIATION, None)
    host.close()
    doctor = run("doctor")
    assert "warn  unsettled refunds: 1: run `tradepay reconcile`" in doctor.stdout.splitlines(), doctor.output
    # A host that starts settles what needs reconciliation; the processing ones may still be in flight.
    started = host_of(workspace, reconcile=True)
    assert started.ledger.get_refund(unknown.refund_id).status is RefundStatus.SUCCEEDED  # type: ignore[union-attr]
    assert started.ledger.get_refund(never_sent.refund_id).status is RefundStatus.PROCESSING  # type: ignore[union-attr]
    started.close()
    result = run("reconcile", "--all", "--json")
    assert result.exit_code == 0, result.output
    settled = {s["refundId"]: (s["before"], s["after"]) for s in json.loads(result.stdout)["refunds"]}
    assert settled == {
        never_sent.refund_id: ("processing", "failed"),  # the card never saw it: voided, it can never move money
        refunded.refund_id: ("processing", "succeeded"),
    }
    host = host_of(workspace)
    succeeded = [r for r in host.ledger.refunds() if r.status is RefundStatus.SUCCEEDED]
    assert sum(r.amount.minor_units for r in succeeded) == 500
    assert card.refund(order=payment.order, attempt=never_sent.attempt, refund=never_sent).outcome.value == "failed"
    host.close()
