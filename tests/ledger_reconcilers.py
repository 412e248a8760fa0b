"""Four reconcilers, each a real process, racing over one batch of payments a killed host left behind.

The batch is made for real: a host process pays every order of the batch at once, from a thread per order,
each payer's wallet call held up by a latency fault; once every payment has its attempt recorded, the host is
SIGKILLed. Then half of the lost requests are delivered to the wallet late (it debits them), so the
reconcilers find payments that were charged and payments that never were. Four reconciler processes start,
each with its own host and connections, say they are ready, and are released together; each reconciles
everything (as ``tradepay reconcile --all`` does) and reports its settlements and the wallet calls it made.

Run as a script: ``python ledger_reconcilers.py pay CONFIG ORDERS_JSON`` (the host that is killed) or
``python ledger_reconcilers.py reconcile CONFIG`` (one reconciler: ``ready`` on stdout, a line on stdin to
start, then one JSON report).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog

from tradepay import (
    APIContext,
    Host,
    Ledger,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentService,
    PaymentStatus,
    PaymentType,
    load_config,
)
from tradepay_wallet import EntryKind, WalletProvider

__all__ = ["RECONCILERS", "Batch", "check_race", "kill_mid_payment", "net_charges", "race_reconcilers", "write_config"]

RECONCILERS = 4
SCRIPT = Path(__file__)
#: The wallet's events that mean it was asked about an attempt (by inquiry, or by cancel).
_WALLET_CALLS = frozenset({"wallet.inquired", "wallet.cancelled"})


def write_config(path: Path, ledger_url: str, wallet_database: str) -> Path:
    """A host configuration: one wallet, on ``wallet_database``, and the ledger at ``ledger_url``."""
    path.write_text(
        f"""
[chain]
providers = ["wallet"]
deadline_s = 90.0
provider_deadline_s = 60.0
inquiry_interval_s = 0.01

[providers.wallet]
database = "{wallet_database}"

[ledger]
url = "{ledger_url}"
reconcile_on_start = false
""",
        encoding="utf-8",
    )
    return path


@dataclass(frozen=True)
class Batch:
    """What the killed host left: its payments, and which of them the wallet charged late."""

    orders: Mapping[str, Order]
    payments: Mapping[str, str]  # payment id -> trade number
    charged: frozenset[str]  # payment ids


def kill_mid_payment(config: Path, ledger: Ledger, wallet: WalletProvider, tmp: Path, size: int) -> Batch:
    """Create ``size`` orders, let a host process start paying them all and SIGKILL it while every payment has
    its attempt sent; then deliver every other lost request to the wallet."""
    orders = {}
    for n in range(size):
        payer = f"payer-{n}"
        order = ledger.create_order(PaymentAmount("USD", str(100 + n)), merchant_id="shop-1", payer_id=payer)
        wallet.topup(payer, "USD", 10_000)
        wallet.set_fault(payer, "latency", seconds=120)  # the host is inside the wallet call when it dies
        orders[order.trade_no] = order
    orders_file = tmp / "orders.json"
    orders_file.write_text(json.dumps([[o.trade_no, o.payer_id] for o in orders.values()]), encoding="utf-8")
    victim = subprocess.Popen([sys.executable, str(SCRIPT), "pay", str(config), str(orders_file)])
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            sent = [p for t in orders for p in ledger.payments(trade_no=t) if p.pending is not None]
            if len(sent) == size:
                break
            assert victim.poll() is None, f"the paying host ended by itself with {victim.returncode}"
            time.sleep(0.05)
        else:
            raise AssertionError("the paying host never recorded every attempt")
    finally:
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=60)
    wallet.clear_faults()
    payments = {p.payment_id: p.trade_no for p in sent}
    charged = set()
    for n, payment in enumerate(sorted(sent, key=lambda p: p.trade_no)):
        assert payment.status is PaymentStatus.PROCESSING
        if n % 2 == 0:  # the request reached the wallet; its answer died with the host
            assert payment.pending is not None
            answer = asyncio.run(wallet.pay(orders[payment.trade_no], payment.pending))
            assert answer.result_code.value == "9000", answer
            charged.add(payment.payment_id)
    return Batch(orders, payments, frozenset(charged))


def race_reconcilers(config: Path) -> list[dict[str, Any]]:
    """Start RECONCILERS reconciler processes, release them together once all are ready, and return their
    reports (each must exit 0 and write nothing to standard error)."""
    reconcilers = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT), "reconcile", str(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(RECONCILERS)
    ]
    try:
        for process in reconcilers:
            assert process.stdout is not None
            line = process.stdout.readline()
            assert line == "ready\n", (line, process.stderr.read() if process.stderr else "")
        for process in reconcilers:  # go, all at once
            assert process.stdin is not None
            process.stdin.write("go\n")
            process.stdin.flush()
        reports = []
        for process in reconcilers:
            out, err = process.communicate(timeout=300)
            assert process.returncode == 0, f"a reconciler failed ({process.returncode}):\n{err}"
            assert err == "", f"a reconciler wrote to standard error:\n{err}"
            reports.append(json.loads(out))
        return reports
    finally:
        for process in reconcilers:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=60)


def net_charges(wallet: WalletProvider, payers: list[str]) -> dict[str, int]:
    """trade_no -> minor units debited and not reversed, from the wallet's own journal."""
    net: dict[str, int] = {}
    keys: dict[str, str] = {}
    entries = [entry for payer in payers for entry in wallet.history(payer)]
    for entry in entries:
        if entry.kind is EntryKind.DEBIT and entry.trade_no and entry.idempotency_key:
            net[entry.trade_no] = net.get(entry.trade_no, 0) + entry.amount
            keys[entry.idempotency_key] = entry.trade_no
    for entry in entries:
        if entry.kind is EntryKind.REVERSAL and entry.idempotency_key in keys:
            net[keys[entry.idempotency_key]] -= entry.amount
    return {trade_no: amount for trade_no, amount in net.items() if amount}


def check_race(batch: Batch, reports: list[dict[str, Any]], ledger: Ledger, wallet: WalletProvider) -> None:
    """Each payment was settled by one reconciler alone, who alone asked the wallet about it; the others found
    it settled; the ledger and the wallet agree, and nothing is left unsettled."""
    final = {
        pid: PaymentStatus.SUCCEEDED.value if pid in batch.charged else PaymentStatus.FAILED.value
        for pid in batch.payments
    }
    settled_by: dict[str, int] = {}
    asked: dict[str, int] = {}
    elsewhere = 0
    for n, report in enumerate(reports):
        for settlement in report["settlements"]:
            pid = settlement["paymentId"]
            assert settlement["after"] == final[pid], (n, settlement)
            if settlement["detail"] == "settled elsewhere":
                elsewhere += 1
            else:
                assert pid not in settled_by, f"{pid} was settled by reconcilers {settled_by[pid]} and {n}"
                settled_by[pid] = n
        for key in report["asked"]:
            assert key not in asked or asked[key] == n, f"the wallet was asked about {key} by two reconcilers"
            asked[key] = n
    assert settled_by.keys() == batch.payments.keys()
    assert elsewhere > 0, "no reconciler found a payment settled by another: they never raced"
    for pid in batch.payments:
        payment = ledger.get_payment(pid)
        assert payment is not None
        assert payment.status.value == final[pid], payment
        (attempt,) = payment.attempts
        assert attempt.detail.count("reconciliation") == 1, attempt  # one settlement was written
        assert asked.get(attempt.attempt.idempotency_key) == settled_by[pid]
        assert payment.result is not None
        assert payment.result.extended_info["paymentId"] == pid
    assert ledger.unsettled(updated_before=4e9) == []
    payers = [order.payer_id for order in batch.orders.values()]
    charges = net_charges(wallet, payers)
    assert charges == {
        batch.payments[pid]: batch.orders[batch.payments[pid]].amount.minor_units for pid in batch.charged
    }


# --- the processes ----------------------------------------------------------------------------------------------


def _pay_all(config: str, orders_file: str) -> None:
    """The host that is killed: pay every order at once, a thread per order."""
    structlog.configure(processors=[_drop], cache_logger_on_first_use=False)
    orders = json.loads(Path(orders_file).read_text(encoding="utf-8"))
    host = Host.from_config(load_config(config), reconcile=False)
    service = PaymentService(host)

    def pay(trade_no: str, payer: str) -> None:
        context = APIContext("reconcile-race", extended_info={"userId": payer})
        service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no), context)

    threads = [threading.Thread(target=pay, args=(trade_no, payer)) for trade_no, payer in orders]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _drop(logger: Any, method: str, event: Any) -> Any:
    raise structlog.DropEvent


def _reconcile(config: str) -> None:
    """One reconciler: its own host, released by a line on stdin; reports its settlements and wallet calls."""
    asked: list[str] = []
    failures: list[str] = []

    def collect(logger: Any, method: str, event: Any) -> Any:
        if event.get("event") in _WALLET_CALLS:
            asked.append(str(event["idempotency_key"]))
        if method in ("error", "exception", "critical"):
            failures.append(repr(event))
        raise structlog.DropEvent

    structlog.configure(processors=[collect], cache_logger_on_first_use=False)
    host = Host.from_config(load_config(config), reconcile=False)
    print("ready", flush=True)
    sys.stdin.readline()
    settlements = host.reconcile(stale_after_s=0)
    host.close()
    if failures:
        print("\n".join(failures), file=sys.stderr)
    report = {
        "settlements": [
            {"paymentId": s.payment_id, "before": s.before.value, "after": s.after.value, "detail": s.detail}
            for s in settlements
        ],
        "asked": asked,
    }
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "pay":
        _pay_all(sys.argv[2], sys.argv[3])
    else:
        _reconcile(sys.argv[2])
