"""SIGKILL a real process that is paying, at random points, hundreds of times; after each kill a new host
reconciles, and the files must be intact and no order charged twice.

Workers are forked from ``multiprocessing``'s fork server with :mod:`ledger_workers` preloaded (tradepay and
the wallet already imported, no SQLite file ever opened there: each worker checks that it holds none before it
opens its own connections), so a cycle costs milliseconds. A worker pays orders the test created beforehand,
on the shared ledger and two wallet files, from two threads, and is killed a random (seeded) delay after its
n-th answered payment (n random; 0: while it starts and opens the files), so the kill points follow its
progress whatever the machine's speed. The payers cover the paths where a kill hurts most: late successes
(money moves, the answer says timeout), a wallet that raises (nothing moved: the next wallet pays), declines
that fall through to the second wallet (where a late success waits), user cancels, payers who cannot pay.

After each kill, before anything repairs the files: ``PRAGMA integrity_check`` on all three, every debit under
a key the ledger committed first, no order charged twice. Now and then a restarted host is killed while it
reconciles, too. Then the test's own host reconciles (``stale_after_s=0``) and nothing may be left unsettled:
the money the wallets hold (debits less reversals, grouped by order through the ledger's attempt keys) is
exactly the ledger's succeeded payments.

Refunds get the same treatment (:func:`test_sigkill_during_refunds_never_refunds_twice`): paid orders are
refunded in parts from a worker, repeats of request ids included, killed at random points; after each kill
nothing is over-refunded and every refund the wallets made is one the ledger recorded first; after the
test's host reconciles, the ledger's refunds and the wallets' agree exactly, refund key by refund key.
"""

from __future__ import annotations

import collections
import contextlib
import multiprocessing
import multiprocessing.context
import random
import re
import signal
import sqlite3
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import PaymentAmount, PaymentRequest, PaymentService, PaymentType, SQLiteLedger
from tradepay.testing import sample_context

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import ledger_checks as checks
    from tests import ledger_reconcilers as reconcilers
    from tests import ledger_refund_bank as refund_bank
    from tests import ledger_workers as workers
else:
    import ledger_checks as checks
    import ledger_reconcilers as reconcilers
    import ledger_refund_bank as refund_bank
    import ledger_workers as workers

KILLS = 200
SLOW_KILLS = 3000
#: Kills on one set of files before the run starts on fresh ones (keeps each check quick in the long run).
EPOCH = 250
SEED = 20_261_125
#: The provider deadline of the test's own host, which settles what the kills left and is never killed: long
#: enough that a wallet slowed by a loaded machine still answers, so the check that nothing is left unsettled
#: is about the files, not the machine's speed (the killed workers keep the short one).
SETTLING_DEADLINE_S = 5.0
#: Payer -> (wallet balance, wallet fault, backup balance, backup fault); ``None`` balance: no account.
PAYERS: dict[str, tuple[int | None, str | None, int | None, str | None]] = {
    "ok": (10**12, None, 10**12, None),
    "late": (10**12, "late_success", 10**12, None),
    "broke": (None, None, 10**12, "late_success"),
    "flaky": (10**12, "exception", 10**12, None),
    "quitter": (10**12, "user_cancel", 10**12, None),
    "poor": (None, None, None, None),
}
OPEN_ORDERS = 12
BATCH = 6
MAX_DELAY_S = 0.015


def slow_selected(config: pytest.Config) -> bool:
    """The long runs take minutes: they run only when ``-m`` selects ``slow``."""
    return re.search(r"(?<!not )\bslow\b", str(config.getoption("markexpr") or "")) is not None


@pytest.fixture(scope="module")
def forkserver() -> multiprocessing.context.ForkServerContext:
    return workers.fork_server()


@dataclass
class Files:
    root: Path
    orders: int = 0

    @property
    def ledger(self) -> Path:
        return self.root / "ledger.sqlite3"

    @property
    def wallets(self) -> list[Path]:
        return [self.root / f"{name}.sqlite3" for name in workers.WALLETS]


def new_files(root: Path) -> Files:
    """Fresh files: payers' accounts and faults in both wallets (the test's host is closed again at once)."""
    root.mkdir(parents=True)
    host = workers.open_wallet_host(root)
    for payer, (balance, fault, backup_balance, backup_fault) in PAYERS.items():
        for name, amount, kind in (("wallet", balance, fault), ("backup", backup_balance, backup_fault)):
            provider: Any = host.provider(name)
            if amount is not None:
                provider.topup(payer, "USD", amount)
            if kind is not None:
                provider.set_fault(payer, kind)
    host.close()
    return Files(root)


def orders_for_a_worker(files: Files, rng: random.Random) -> list[str]:
    """Top the open orders up to OPEN_ORDERS, and pick a batch: open ones, and now and then a paid one."""
    view = checks.read_ledger(files.ledger)
    live = {p.trade_no for p in view.payments.values() if p.status != "failed" and p.status != "cancelled"}
    open_orders = [t for t, (_, status) in view.orders.items() if status == "open" and t not in live]
    ledger = SQLiteLedger(files.ledger)
    while len(open_orders) < OPEN_ORDERS:
        files.orders += 1
        trade_no = f"T{files.orders}"
        payer = rng.choice(sorted(PAYERS))
        amount = PaymentAmount("USD", str(rng.randint(1, 999)))
        ledger.create_order(amount, merchant_id="shop-1", payer_id=payer, trade_no=trade_no)
        open_orders.append(trade_no)
    ledger.close()
    paid = sorted(t for t, (_, status) in view.orders.items() if status == "paid")
    batch = rng.sample(sorted(open_orders), BATCH - 1)
    return [*batch, rng.choice(paid)] if paid else batch


def kill_after(
    ctx: multiprocessing.context.ForkServerContext,
    target: Callable[..., None],
    root: Path,
    args: tuple[Any, ...],
    delay: float,
    *,
    messages: int = 1,
) -> int:
    """Start ``target(str(root), pipe, *args)`` in a forked worker and SIGKILL it ``delay`` seconds after its
    ``messages``-th message on the pipe (it says when it is ready, and the payer after each payment: so the
    kill point follows the worker's progress, whatever the machine's speed); its exit code (``-9`` when the
    kill ended it). A pipe, not an event: a worker killed while writing to it cannot leave a lock held."""
    reader, writer = ctx.Pipe(duplex=False)
    process = ctx.Process(target=target, args=(str(root), writer, *args), daemon=True)
    process.start()
    writer.close()
    with contextlib.suppress(EOFError):  # the worker ended before it said as much
        for _ in range(messages):
            if not reader.poll(60):
                break
            reader.recv_bytes()
    time.sleep(delay)  # not synchronisation: the random point at which the worker dies
    process.kill()
    reader.close()
    process.join(timeout=60)
    code = process.exitcode
    process.close()
    assert code is not None, "the worker outlived its kill"
    failure = root / workers.FAILURE_FILE
    assert code != workers.FAILED, f"the worker failed by itself: {failure.read_text()}"
    return code


def check_files(files: Files, *, settled: bool) -> checks.LedgerFile:
    """Integrity of the three files, the ledger's rules and the money; all settled if ``settled``."""
    for path in (files.ledger, *files.wallets):
        checks.check_integrity(path)
    view = checks.read_ledger(files.ledger)
    checks.check_ledger(view)
    checks.check_money(view, checks.read_wallet_money(files.wallets))
    for path in files.wallets:
        checks.check_wallet_books(path)
    if settled:
        assert not view.unsettled, [(p.payment_id, p.status) for p in view.unsettled]
    return view


def run_kills(ctx: multiprocessing.context.ForkServerContext, tmp: Path, kills: int) -> collections.Counter[str]:
    """SIGKILL ``kills`` paying workers, checking the files after each; fresh files every EPOCH kills."""
    rng = random.Random(SEED)
    stats: collections.Counter[str] = collections.Counter()
    for epoch in range(-(-kills // EPOCH)):
        files = new_files(tmp / f"files-{epoch}")
        for _ in range(min(EPOCH, kills - stats["kills"])):
            kill_a_payer(ctx, files, rng, stats)
        view = checks.read_ledger(files.ledger)
        stats["payments"] += len(view.payments)
        stats["succeeded"] += sum(p.status == "succeeded" for p in view.payments.values())
    return stats


def kill_a_payer(
    ctx: multiprocessing.context.ForkServerContext, files: Files, rng: random.Random, stats: collections.Counter[str]
) -> None:
    """One cycle: a worker pays and is killed; the files are checked; (now and then a restart is killed while
    it reconciles;) the test's host reconciles; the files are checked again, with nothing left unsettled."""
    args = (rng.randrange(2**32), orders_for_a_worker(files, rng), 2)
    # Killed while it starts (opens and checks the files) now and then, else after its first few payments.
    messages = rng.choice([0, 1, 1, 2, 3, 4])
    code = kill_after(ctx, workers.crash_worker, files.root, args, rng.uniform(0, MAX_DELAY_S), messages=messages)
    assert code == -signal.SIGKILL, f"the paying worker ended on its own with {code}"
    stats["kills"] += 1
    view = check_files(files, settled=False)
    if view.unsettled:
        stats["kills that left a payment unsettled"] += 1
        if rng.random() < 0.25:
            code = kill_after(ctx, workers.reconcile_worker, files.root, (), rng.uniform(0, 0.005))
            assert code in (0, -signal.SIGKILL), f"the reconciling worker failed with {code}"
            stats["reconciling restarts killed" if code else "reconciling restarts that finished"] += 1
            check_files(files, settled=False)
    host = workers.open_wallet_host(files.root, provider_deadline_s=SETTLING_DEADLINE_S)
    stats["payments reconciled"] += len(host.reconcile(stale_after_s=0))
    host.close()
    check_files(files, settled=True)


def report(stats: collections.Counter[str], elapsed: float) -> str:
    return f"{elapsed:.1f}s: " + ", ".join(f"{key} {value}" for key, value in sorted(stats.items()))


def test_sigkill_at_random_points_never_charges_twice(
    forkserver: multiprocessing.context.ForkServerContext, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    stats = run_kills(forkserver, tmp_path, KILLS)
    with capsys.disabled():
        print(f"\n[crash test] {report(stats, time.monotonic() - started)}")
    assert stats["kills"] >= KILLS
    # The kills must land mid-payment often enough to mean something (else the delays are wrong).
    assert stats["kills that left a payment unsettled"] >= KILLS // 10, stats
    assert stats["succeeded"] > 0


@pytest.mark.slow
def test_sigkill_thousands_of_times(
    request: pytest.FixtureRequest,
    forkserver: multiprocessing.context.ForkServerContext,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if not slow_selected(request.config):
        pytest.skip("a long run: select it with -m slow")
    started = time.monotonic()
    stats = run_kills(forkserver, tmp_path, SLOW_KILLS)
    with capsys.disabled():
        print(f"\n[crash test, long] {report(stats, time.monotonic() - started)}")
    assert stats["kills that left a payment unsettled"] >= SLOW_KILLS // 10, stats


# --- refunds -------------------------------------------------------------------------------------------------

REFUND_KILLS = 120
REFUND_ORDERS = 30


def paid_files(root: Path) -> tuple[Files, list[str]]:
    """Fresh files and REFUND_ORDERS orders of USD 10.00, each paid by the first wallet."""
    files = new_files(root)
    host = workers.open_wallet_host(files.root)
    trade_nos = []
    with PaymentService(host) as service:
        for number in range(REFUND_ORDERS):
            trade_no = f"R{number}"
            host.ledger.create_order(
                PaymentAmount("USD", "1000"), merchant_id="shop-1", payer_id="ok", trade_no=trade_no
            )
            result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no), sample_context("ok"))
            assert result.result_code.value == "9000", result
            trade_nos.append(trade_no)
    host.close()
    return files, trade_nos


def check_refunds(files: Files, *, settled: bool) -> int:
    """The three files intact, the ledger's refunds against the wallets' (:func:`ledger_refund_bank.check_refunds`)
    and the wallets' books; how many refunds are unsettled."""
    for path in (files.ledger, *files.wallets):
        checks.check_integrity(path)
    for path in files.wallets:
        check_refunded_books(path)
    return refund_bank.check_refunds(checks.read_ledger(files.ledger), files.ledger, files.wallets, settled=settled)


def check_refunded_books(path: Path) -> None:
    """A wallet's books with refunds: each balance is its journal's sum (refunds credit), and each refund
    entry is one succeeded refund key of the wallet's, for its amount."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)) as db:
        for payer, currency, balance in db.execute("SELECT payer, currency, balance FROM accounts").fetchall():
            entries = db.execute(
                "SELECT kind, amount FROM entries WHERE payer = ? AND currency = ? ORDER BY id", (payer, currency)
            ).fetchall()
            total = sum(-a if kind == "debit" else a for kind, a in entries)
            assert total == balance, f"{path.name}: {payer} {currency} balance {balance}, journal {total}"
        credited = dict(db.execute("SELECT idempotency_key, amount FROM entries WHERE kind = 'refund'").fetchall())
        keys = dict(db.execute("SELECT refund_key, amount FROM refunds WHERE status = 'succeeded'").fetchall())
    assert credited == keys, f"{path.name}: refund entries {credited} but succeeded refund keys {keys}"


def test_sigkill_during_refunds_never_refunds_twice(
    forkserver: multiprocessing.context.ForkServerContext, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    rng = random.Random(SEED + 1)
    stats: collections.Counter[str] = collections.Counter()
    files, trade_nos = paid_files(tmp_path / "refunds")
    for _ in range(REFUND_KILLS):
        args = (rng.randrange(2**32), trade_nos, 2)
        messages = rng.choice([0, 1, 1, 2, 3, 5])
        code = kill_after(
            ctx=forkserver,
            target=workers.refund_crash_worker,
            root=files.root,
            args=args,
            delay=rng.uniform(0, MAX_DELAY_S),
            messages=messages,
        )
        assert code == -signal.SIGKILL, f"the refunding worker ended on its own with {code}"
        stats["kills"] += 1
        if check_refunds(files, settled=False):
            stats["kills that left a refund unsettled"] += 1
        if rng.random() < 0.5:  # else the next worker runs with the refunds the kill left unsettled
            host = workers.open_wallet_host(files.root, provider_deadline_s=SETTLING_DEADLINE_S)
            stats["refunds reconciled"] += len(host.reconcile_refunds(stale_after_s=0))
            host.close()
            check_refunds(files, settled=True)
    host = workers.open_wallet_host(files.root, provider_deadline_s=SETTLING_DEADLINE_S)
    host.reconcile_refunds(stale_after_s=0)
    host.close()
    check_refunds(files, settled=True)
    ledger = refund_bank.read_ledger_refunds(files.ledger)
    stats["refunds"] = len(ledger)
    stats["succeeded"] = sum(r.status == "succeeded" for r in ledger.values())
    with capsys.disabled():
        print(f"\n[refund crash test] {report(stats, time.monotonic() - started)}")
    assert stats["kills"] >= 100
    assert stats["kills that left a refund unsettled"] >= REFUND_KILLS // 10, stats
    assert stats["succeeded"] > 0


@pytest.fixture
def results(forkserver: multiprocessing.context.ForkServerContext) -> Iterator[Any]:
    queue = forkserver.Queue()
    yield queue
    queue.close()
    queue.join_thread()


@pytest.mark.parametrize("copies", [1, 2])
def test_a_child_forked_with_the_ledger_open_keeps_its_writes(
    copies: int, forkserver: multiprocessing.context.ForkServerContext, tmp_path: Path, results: Any
) -> None:
    """The ledger promises a connection of its own to a forked child. Here the parent (itself a fresh worker)
    forks with its ledger open (and, with ``copies=2``, a second ledger object on the same file) and closes
    it; another connection writes; the child writes through the ledger it inherited; the other connection
    writes again. All four writes were committed: all four must be there.
    """
    args = (str(tmp_path), 3, copies, results)
    process = forkserver.Process(target=workers.fork_with_the_ledger_open, args=args)
    process.start()
    report = results.get(timeout=60)
    process.join(timeout=60)
    assert process.exitcode == 0
    assert report == [(0, ["before-fork", "child", "other-1", "other-2"])] * 3


def test_four_reconcilers_racing_over_a_killed_hosts_payments_settle_each_once(tmp_path: Path) -> None:
    """The SQLite file shared by four reconciler processes at once (``tradepay reconcile`` on four terminals,
    or four hosts starting): each payment is settled by one of them, the others find it settled."""
    config = reconcilers.write_config(
        tmp_path / "tradepay.toml", f"sqlite:///{tmp_path / 'ledger.sqlite3'}", str(tmp_path / "wallet.sqlite3")
    )
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    wallet = workers.wallet(tmp_path, "wallet")
    try:
        batch = reconcilers.kill_mid_payment(config, ledger, wallet, tmp_path, 16)
        reports = reconcilers.race_reconcilers(config)
        reconcilers.check_race(batch, reports, ledger, wallet)
    finally:
        wallet.close()
        ledger.close()
