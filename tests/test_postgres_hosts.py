"""Several host processes, one PostgreSQL ledger and one PostgreSQL wallet: no order is ever charged twice.

Needs ``TRADEPAY_TEST_POSTGRES_URL`` (CI sets it); every run works in schemas of its own and drops them.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradepay import PaymentAmount, PaymentStatus, PostgresLedger, ProviderConfig
from tradepay._ledger.postgres import PostgresDatabase
from tradepay_wallet import EntryKind, WalletProvider

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import ledger_reconcilers as reconcilers
else:
    import ledger_reconcilers as reconcilers

URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL", "")
pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not URL, reason="set TRADEPAY_TEST_POSTGRES_URL to run the multi-host PostgreSQL tests"),
]
WORKER = Path(__file__).with_name("pg_hosts_worker.py")
PAYERS = [f"p{i}" for i in range(20)]


def schema_url(schema: str) -> str:
    return f"{URL}{'&' if '?' in URL else '?'}schema={schema}"


@dataclass
class World:
    config: Path
    ledger: PostgresLedger
    wallet: WalletProvider
    tmp: Path
    ledger_url: str
    wallet_url: str

    def host_command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "tradepay", "--config", str(self.config), *args]

    def net_charges(self) -> dict[str, int]:
        """trade_no -> minor units debited and not reversed, from the wallet's own journal."""
        net: dict[str, int] = {}
        keys: dict[str, str] = {}
        for payer in [*PAYERS, "slow"]:
            for entry in self.wallet.history(payer):
                if entry.kind is EntryKind.DEBIT and entry.trade_no and entry.idempotency_key:
                    net[entry.trade_no] = net.get(entry.trade_no, 0) + entry.amount
                    keys[entry.idempotency_key] = entry.trade_no
        for payer in [*PAYERS, "slow"]:
            for entry in self.wallet.history(payer):
                if entry.kind is EntryKind.REVERSAL and entry.idempotency_key in keys:
                    trade_no = keys[entry.idempotency_key]
                    net[trade_no] -= entry.amount
        return {trade_no: amount for trade_no, amount in net.items() if amount}


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    tag = secrets.token_hex(4)
    ledger_url, wallet_url = schema_url(f"tp_hosts_ledger_{tag}"), schema_url(f"tp_hosts_wallet_{tag}")
    config = tmp_path / "tradepay.toml"
    config.write_text(
        f"""
[chain]
providers = ["wallet"]
deadline_s = 20.0
provider_deadline_s = 10.0
inquiry_interval_s = 0.01

[providers.wallet]
database = "{wallet_url}"

[ledger]
url = "{ledger_url}"
""",
        encoding="utf-8",
    )
    ledger = PostgresLedger(ledger_url)
    wallet = WalletProvider(ProviderConfig("wallet", {"database": wallet_url}, tmp_path))
    yield World(config, ledger, wallet, tmp_path, ledger_url, wallet_url)
    wallet.close()
    ledger.postgres.drop_schema()
    ledger.close()
    admin = PostgresDatabase(wallet_url)
    admin.drop_schema()
    admin.close()


def test_four_hosts_paying_the_same_200_orders_charge_each_at_most_once(world: World) -> None:
    orders = []
    for i in range(200):
        payer = PAYERS[i % len(PAYERS)]
        order = world.ledger.create_order(PaymentAmount("USD", str(100 + i)), merchant_id="m1", payer_id=payer)
        orders.append((order.trade_no, payer))
    for n, payer in enumerate(PAYERS):
        # Enough for most of each payer's ten orders, not all: some payments are declined for balance.
        world.wallet.topup(payer, "USD", 1_000 + 100 * n)
        if n < 4:
            world.wallet.set_fault(payer, "late_success")  # money moves, the answer is a timeout: inquired
    orders_file = world.tmp / "orders.json"
    orders_file.write_text(json.dumps(orders), encoding="utf-8")
    hosts = [
        subprocess.Popen(
            [
                sys.executable,
                str(WORKER),
                str(world.config),
                str(orders_file),
                str(seed),
                str(world.tmp / f"{seed}.json"),
            ]
        )
        for seed in range(4)
    ]
    for host in hosts:
        assert host.wait(timeout=300) == 0
    answers = [json.loads((world.tmp / f"{seed}.json").read_text(encoding="utf-8")) for seed in range(4)]

    charges = world.net_charges()
    amounts = {trade_no: 100 + i for i, (trade_no, _) in enumerate(orders)}
    for trade_no, _payer in orders:
        succeeded = [p for p in world.ledger.payments(trade_no=trade_no) if p.status is PaymentStatus.SUCCEEDED]
        assert len(succeeded) <= 1, trade_no
        # The wallet and the ledger agree: charged exactly when the ledger says paid, and by the order's amount.
        assert charges.get(trade_no, 0) == (amounts[trade_no] if succeeded else 0), trade_no
        codes = {a[trade_no] for a in answers}
        assert codes <= {"9000", "8000", "4000"}, (trade_no, codes)
        if "9000" in codes:
            assert succeeded, trade_no
    assert len(charges) >= 100  # most orders were paid: the test exercised the path it is about
    assert any("inquiry: paid" in r.detail for p in world.ledger.payments(limit=1000) for r in p.attempts), (
        "no late success was found by inquiry"
    )


def test_a_host_killed_mid_payment_is_settled_by_another_hosts_reconcile(world: World) -> None:
    order = world.ledger.create_order(PaymentAmount("USD", "700"), merchant_id="m1", payer_id="slow")
    world.wallet.topup("slow", "USD", 5_000)
    world.wallet.set_fault("slow", "latency", seconds=60)  # the host is inside the provider call when killed
    orders_file = world.tmp / "orders.json"
    orders_file.write_text(json.dumps([[order.trade_no, "slow"]]), encoding="utf-8")
    victim = subprocess.Popen([sys.executable, str(WORKER), str(world.config), str(orders_file), "0", "/dev/null"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        payments = world.ledger.payments(trade_no=order.trade_no)
        if payments and payments[0].pending is not None:
            break
        time.sleep(0.05)
    else:
        victim.kill()
        pytest.fail("the host never recorded its attempt")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=30)
    (cut_off,) = world.ledger.payments(trade_no=order.trade_no)
    assert cut_off.status is PaymentStatus.PROCESSING

    world.wallet.clear_fault("slow")
    settled = subprocess.run(world.host_command("reconcile", "--all", "--json"), capture_output=True, text=True)
    assert settled.returncode == 0, settled.stdout + settled.stderr
    assert json.loads(settled.stdout)["settlements"][0]["after"] == "failed"  # the wallet never debited: nothing moved
    assert world.net_charges() == {}

    paid = subprocess.run(
        world.host_command("pay", "--trade-no", order.trade_no, "--json"), capture_output=True, text=True
    )
    assert paid.returncode == 0, paid.stdout + paid.stderr
    assert world.net_charges() == {order.trade_no: 700}
    assert world.wallet.balance("slow", "USD") == 5_000 - 700


def test_four_reconcilers_racing_over_a_killed_hosts_payments_settle_each_once(world: World) -> None:
    """Four reconciler processes at once, as several ``tradepay reconcile`` runs or several hosts starting with
    ``reconcile_on_start``: each payment is settled by one of them, the others find it settled."""
    config = reconcilers.write_config(world.tmp / "race.toml", world.ledger_url, world.wallet_url)
    batch = reconcilers.kill_mid_payment(config, world.ledger, world.wallet, world.tmp, 16)
    reports = reconcilers.race_reconcilers(config)
    reconcilers.check_race(batch, reports, world.ledger, world.wallet)
