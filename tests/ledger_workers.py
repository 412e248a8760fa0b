"""What the processes of the crash and duplicate tests run, and the hosts they build.

It is a module of its own because a forked worker must find its function by name (pytest's importlib mode
gives test modules names no other process can import), and because the tests preload it into
``multiprocessing``'s fork server: every worker is then forked from a process that has already imported
tradepay and the wallet, and that has never opened a SQLite file. Each worker opens its own connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import random
import threading
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import Connection
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier, Semaphore
from pathlib import Path
from typing import Any

import structlog

from tradepay import (
    ChainSettings,
    Host,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
    PostgresLedger,
    ProviderConfig,
    SQLiteLedger,
    hookimpl,
)
from tradepay._chain.capabilities import Attempt
from tradepay._ledger.records import Payment
from tradepay.testing import sample_context
from tradepay_wallet import WalletProvider

__all__ = [
    "CONTEXT",
    "FAILED",
    "FAILURE_FILE",
    "PRELOAD",
    "WALLETS",
    "Answer",
    "GatedWallet",
    "SignallingLedger",
    "answer",
    "crash_worker",
    "duplicate_host",
    "duplicate_worker",
    "fork_server",
    "fork_with_the_ledger_open",
    "open_ledger",
    "open_wallet_host",
    "quiet",
    "reconcile_worker",
    "refund_amount",
    "refund_crash_worker",
    "refund_race_worker",
    "wallet",
]

#: The chain of the crash test: two wallets, each on a file of its own.
WALLETS = ("wallet", "backup")
CONTEXT = sample_context()
#: (result code, paymentId, error code, message): what a caller was answered, comparable across processes.
Answer = tuple[str, str | None, int | None, str]


def answer(result: PaymentResult) -> Answer:
    error = result.result_error
    return (
        result.result_code.value,
        result.extended_info.get("paymentId"),
        int(error.error_code) if error else None,
        result.result_message,
    )


def _drop(logger: Any, method: str, event: Any) -> Any:
    raise structlog.DropEvent


def quiet() -> None:
    """Drop the worker's log events (they would land on the test run's captured output)."""
    structlog.configure(processors=[_drop], cache_logger_on_first_use=False)


def wallet(root: Path, name: str) -> WalletProvider:
    return WalletProvider(ProviderConfig(name, {"database": str(root / f"{name}.sqlite3")}, root))


def open_wallet_host(root: Path, *, provider_deadline_s: float = 0.5) -> Host:
    """A host on ``root``'s ledger and its two wallets, with connections of its own: build it in the process
    that uses it. The wallets answer at once, so a short chain deadline (``provider_deadline_s``, the whole
    payment twice that) changes no payment on a quiet machine; it keeps the claim a killed reconciliation
    leaves behind (twice the deadline) short, which the next host waits out. A host that is never killed (the
    test's own, which must settle everything) takes a longer one: on a loaded machine a wallet's answer can
    take longer than half a second, and an inquiry cut short leaves its payment unsettled, rightly."""
    chain = ChainSettings(
        providers=WALLETS,
        inquiry_attempts=2,
        inquiry_interval_s=0.001,
        deadline_s=2 * provider_deadline_s,
        provider_deadline_s=provider_deadline_s,
    )
    providers = {name: wallet(root, name) for name in WALLETS}
    return Host.from_providers(providers, chain=chain, ledger=SQLiteLedger(root / "ledger.sqlite3"))


# --- the fork server -----------------------------------------------------------------------------------------

#: What the fork server imports once, so that a worker starts in milliseconds. (Each worker also reruns the
#: main script, pytest's: with pytest imported already that is quick. Python 3.11's fork server never
#: preloads ``__main__`` itself.)
PRELOAD = [
    "pkgutil",
    "runpy",
    "pytest",
    "tradepay",
    "tradepay._host",
    "tradepay._ledger.reconcile",
    "tradepay._service",
    "tradepay._refunding",
    "tradepay._ledger.sql",
    "tradepay.testing",
    "tradepay_wallet",
    "ledger_workers",
    "ledger_checks",
]


def fork_server() -> multiprocessing.context.ForkServerContext:
    """The ``forkserver`` context, its server started with PRELOAD imported (if this call starts it)."""
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    # Python 3.11's fork server does not apply the sys.path it is handed before it preloads: this folder
    # reaches it through the environment of the one process that starts it.
    here = str(Path(__file__).parent)
    saved = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (here, saved) if p)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        if saved is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = saved
    return ctx


# --- the crash test -----------------------------------------------------------------------------------------


#: Log events that mean a payment failed inside the host (answered 6004 and hidden from the caller).
FATAL_EVENTS = frozenset(
    {
        "payment.crashed",
        "payment.interrupted",
        "observer.failed",
        "callback.failed",
        "refund.interrupted",
        "refund.failed_unrecorded",
    }
)
#: Where a worker that failed by itself (not by the kill) says why, before it exits with ``FAILED``.
FAILURE_FILE = "worker-failure.txt"
FAILED = 3


def _fail(root: Path, what: str) -> None:
    (root / FAILURE_FILE).write_text(f"{what}\n{traceback.format_exc()}")
    os._exit(FAILED)


def die_on_host_failures(root: Path) -> None:
    """Drop the worker's log events, but end it at once (exit ``FAILED``) on an event in FATAL_EVENTS: the
    service hides such failures from the caller, and a worker must not hide them from the test."""

    def processor(logger: Any, method: str, event: Any) -> Any:
        if event.get("event") in FATAL_EVENTS:
            _fail(root, repr(event))
        raise structlog.DropEvent

    structlog.configure(processors=[processor], cache_logger_on_first_use=False)


def inherited_sqlite_files() -> list[str]:
    """The SQLite files (and their -wal and -shm) this process holds open: a fresh worker must hold none."""
    fds = Path("/proc/self/fd")
    if not fds.is_dir():  # pragma: no cover - not Linux
        return []
    names = []
    for fd in fds.iterdir():
        with contextlib.suppress(OSError):
            names.append(os.readlink(fd))
    return [n for n in names if n.endswith((".sqlite3", ".sqlite3-wal", ".sqlite3-shm"))]


def _open_checked(root: str) -> Host:
    """The worker's host on ``root``'s files, once it is sure it inherited no open SQLite file; its host
    failures end it (see :func:`die_on_host_failures`)."""
    die_on_host_failures(Path(root))
    if inherited := inherited_sqlite_files():
        _fail(Path(root), f"forked with SQLite files open: {inherited}")
    return open_wallet_host(Path(root))


def _until_killed(
    root: str, ready: Connection, seed: int, threads: int, one: Callable[[random.Random], object]
) -> None:
    """Say ``ready``, then call ``one`` over and over from ``threads`` threads (each with a random generator
    of its own, from ``seed``), saying ``done`` on ``ready`` after each call, until killed (or 30 s)."""
    rng = random.Random(seed)
    ready.send_bytes(b"ready")
    lock = threading.Lock()

    def loop(seed: float) -> None:
        choose = random.Random(seed)
        end = time.monotonic() + 30  # a worker the test forgot would stop on its own
        try:
            while time.monotonic() < end:
                one(choose)
                with lock:
                    ready.send_bytes(b"done")
        except BaseException as exc:
            _fail(Path(root), repr(exc))

    workers = [threading.Thread(target=loop, args=(rng.random(),)) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def crash_worker(root: str, ready: Connection, seed: int, trade_nos: list[str], threads: int) -> None:
    """Pay orders of ``trade_nos`` (repeats included) from ``threads`` threads until killed; say on ``ready``
    when the host is open, and after each payment answered."""
    service = PaymentService(_open_checked(root))

    def pay(choose: random.Random) -> object:
        return service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, choose.choice(trade_nos)), CONTEXT)

    _until_killed(root, ready, seed, threads, pay)


def reconcile_worker(root: str, ready: Connection) -> None:
    """Start a host on the files and reconcile, as a restarted host does (until killed)."""
    die_on_host_failures(Path(root))
    host = open_wallet_host(Path(root))
    ready.send_bytes(b"ready")
    host.reconcile(stale_after_s=0)
    host.close()


# --- the refund crash test ----------------------------------------------------------------------------------

#: Each order's refund request ids: ``<trade_no>-r0`` to ``-r7``, each always for the same amount, so that a
#: worker repeats earlier requests (after a kill, too) with the same fields.
REFUND_REQUESTS = 8


def refund_amount(number: int) -> int:
    """The amount (minor units) of an order's refund request ``number``: all eight together exceed 1000."""
    return 1 + 37 * number


def refund_crash_worker(root: str, ready: Connection, seed: int, trade_nos: list[str], threads: int) -> None:
    """Refund parts of the paid orders ``trade_nos`` (repeated request ids included) from ``threads`` threads
    until killed; say on ``ready`` when the host is open, and after each refund answered."""
    from tradepay import RefundService

    service = RefundService(_open_checked(root))

    def refund(choose: random.Random) -> object:
        trade_no, number = choose.choice(trade_nos), choose.randrange(REFUND_REQUESTS)
        return service.refund(trade_no, str(refund_amount(number)), f"{trade_no}-r{number}")

    _until_killed(root, ready, seed, threads, refund)


# --- the refund races ---------------------------------------------------------------------------------------


def open_ledger(location: str, *, max_connections: int = 10) -> SQLiteLedger | PostgresLedger:
    """The ledger at ``location``: a PostgreSQL URL, or a SQLite file's path."""
    if location.startswith("postgresql://"):
        return PostgresLedger(location, max_connections=max_connections)
    return SQLiteLedger(location)


def refund_race_worker(location: str, trade_no: str, number: int, start: Barrier, answers: Queue[str]) -> None:
    """Open the ledger at ``location`` (a SQLite path or a PostgreSQL URL), wait for every other worker, then
    ask to refund 300 of ``trade_no`` under request id ``r-NUMBER``; put the answer's code on ``answers``."""
    from tradepay import RefundStatus
    from tradepay._ledger.refunds import RefundRefused, RefundRequest

    quiet()
    ledger = open_ledger(location, max_connections=1)
    try:
        start.wait(timeout=60)
        try:
            refund, _ = ledger.begin_refund(RefundRequest(trade_no, PaymentAmount("USD", "300"), f"r-{number}"))
        except RefundRefused as refused:
            answers.put(refused.code)
            return
        ledger.finish_refund(refund.refund_id, RefundStatus.SUCCEEDED, None)
        answers.put("SUCCESS")
    finally:
        ledger.close()


# --- the duplicates test ------------------------------------------------------------------------------------


class SignallingLedger(SQLiteLedger):
    """The SQLite ledger, telling ``on_repeat`` each time a request finds the order's payment already made."""

    def __init__(self, path: Path, on_repeat: Callable[[], object]) -> None:
        super().__init__(path)
        self._on_repeat = on_repeat

    def begin_payment(self, order: Order, app_id: str | None) -> tuple[Payment, bool]:
        payment, created = super().begin_payment(order, app_id)
        if not created:
            self._on_repeat()
        return payment, created


class GatedWallet(WalletProvider):
    """The wallet, whose ``pay`` first waits for ``gate`` (every other duplicate has found the payment in
    flight): the race is then decided by the ledger alone, never by timing."""

    def __init__(self, config: ProviderConfig, gate: Callable[[], None]) -> None:
        super().__init__(config)
        self._gate = gate

    @hookimpl
    async def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        await asyncio.to_thread(self._gate)
        return await super().pay(order, attempt)


def wait_for(arrivals: Any, count: int) -> Callable[[], None]:
    """A gate that opens once ``arrivals`` (a semaphore) has been released ``count`` times."""

    def gate() -> None:
        for _ in range(count):
            if not arrivals.acquire(timeout=20):
                raise RuntimeError("the other duplicates never arrived")

    return gate


def duplicate_host(root: Path, mode: str, arrivals: Any, others: int) -> Host:
    """A host whose ledger counts repeats on ``arrivals`` and whose wallet waits for ``others`` of them."""
    ledger = SignallingLedger(root / "ledger.sqlite3", arrivals.release)
    config = ProviderConfig("wallet", {"database": str(root / "wallet.sqlite3")}, root)
    chain = ChainSettings(providers=("wallet",), in_flight_repeat=mode)
    return Host.from_providers({"wallet": GatedWallet(config, wait_for(arrivals, others))}, chain=chain, ledger=ledger)


def duplicate_worker(
    root: str, trade_no: str, mode: str, others: int, barrier: Barrier, arrivals: Semaphore, results: Queue[Any]
) -> None:
    """One of the parallel duplicates, in a process of its own: its own host, released with the others."""
    quiet()
    try:
        host = duplicate_host(Path(root), mode, arrivals, others)
        service = PaymentService(host)
        barrier.wait(timeout=60)
        result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no), CONTEXT)
        service.close()
        host.close()
        results.put(answer(result))
    except BaseException as exc:  # reported, so that the test fails on it rather than waiting
        results.put(("error", None, None, repr(exc)))


# --- fork with the ledger open --------------------------------------------------------------------------------


def fork_with_the_ledger_open(root: str, rounds: int, copies: int, results: Queue[Any]) -> None:
    """Open a ledger (and ``copies - 1`` more ledger objects on the same file), fork, and let the child use
    the first (the ledger promises a fresh connection in the child) while the parent closes its own and
    another connection writes. Reports, per round, the child's exit code and the orders the file holds at the
    end (all four were committed)."""
    quiet()
    amount = PaymentAmount("USD", "1")
    report = []
    for n in range(rounds):
        path = Path(root) / f"fork-{copies}-{n}.sqlite3"
        ledger, *more = [SQLiteLedger(path) for _ in range(copies)]
        ledger.create_order(amount, merchant_id="shop-1", payer_id="payer-1", trade_no="before-fork")
        go_r, go_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: wait for the parent's go, then write through the inherited ledger
            code = 1
            try:
                os.read(go_r, 1)
                ledger.create_order(amount, merchant_id="shop-1", payer_id="payer-1", trade_no="child")
                code = 0
            finally:
                os._exit(code)
        for each in (ledger, *more):
            each.close()
        other = SQLiteLedger(path)
        other.create_order(amount, merchant_id="shop-1", payer_id="payer-1", trade_no="other-1")
        os.write(go_w, b"x")
        _, status = os.waitpid(pid, 0)
        other.create_order(amount, merchant_id="shop-1", payer_id="payer-1", trade_no="other-2")
        other.close()
        os.close(go_r)
        os.close(go_w)
        final = SQLiteLedger(path)
        held = sorted(t for t in ("before-fork", "child", "other-1", "other-2") if final.get_order(t) is not None)
        final.close()
        report.append((os.waitstatus_to_exitcode(status), held))
    results.put(report)  # once, at the end: no queue thread runs while this process forks
