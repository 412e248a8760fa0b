"""Delivery workers killed and raced: a worker process killed with SIGKILL at random moments, over a hundred
times, while payments and refunds make events (SQLite); and two workers on one PostgreSQL ledger that never
post one event at once, one taking over the events of the other once it is killed and its lease runs out."""

from __future__ import annotations

import asyncio
import functools
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from cryptography.hazmat.primitives import serialization

from tradepay import Host, PostgresLedger, SQLiteLedger
from tradepay._config import NotificationSettings
from tradepay._ledger.notifications import NotificationStatus
from tradepay.server import public_pem
from tradepay.server.notify_worker import NotifyWorker

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kits by their plain names
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.notify_kit import Receiver, serving_merchant, wait_for
    from tests.notify_world import final_states, make_traffic, paying_host
    from tests.server_kit import CASHIER, rsa_key
else:
    from notify_kit import Receiver, serving_merchant, wait_for
    from notify_world import final_states, make_traffic, paying_host
    from server_kit import CASHIER, rsa_key

KILLS = 110
#: Short leases so that a killed worker's events come back quickly; the timeouts' sum is half the lease.
SHORT: dict[str, Any] = {
    "first_retry_s": 0.001,
    "max_retry_s": 0.01,
    "attempts": 100,
    "connect_timeout_s": 0.05,
    "write_timeout_s": 0.05,
    "read_timeout_s": 0.1,
    "pool_timeout_s": 0.05,
    "lease_s": 0.5,
    "idle_s": 0.005,
}
WORKERS = Path(__file__).with_name("notify_workers.py")
PG_URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL", "")


class Spawner:
    """``notify_workers.py``: forks a delivery worker per order, in milliseconds; kills them by pid."""

    def __init__(self, key_path: Path) -> None:
        self.key_path = key_path
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(WORKERS.parent), os.environ.get("PYTHONPATH", "")])}
        self.process = subprocess.Popen(
            [sys.executable, str(WORKERS)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        self.pids: list[int] = []

    def start(self, ledger_url: str, settings: dict[str, Any], name: str | None = None) -> int:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        order = {"ledger": ledger_url, "key": str(self.key_path), "settings": settings, "name": name}
        self.process.stdin.write(json.dumps(order) + "\n")
        self.process.stdin.flush()
        pid = int(self.process.stdout.readline())
        self.pids.append(pid)
        return pid

    def kill(self, pid: int) -> None:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return

    def close(self) -> None:
        for pid in self.pids:
            self.kill(pid)
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait(timeout=30)
        self.process.stdout.close()


def gone(pid: int) -> bool:
    return not alive(pid)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture
def host_key_file(tmp_path: Path) -> Path:
    path = tmp_path / "host-key.pem"
    pem = rsa_key("host").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    return path


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    with serving_merchant(public_pem(rsa_key("host"))) as served:
        yield served


@pytest.fixture
def spawner(host_key_file: Path) -> Iterator[Spawner]:
    workers = Spawner(host_key_file)
    yield workers
    workers.close()


def settle(ledger: Any) -> None:
    """Deliver what is left in this process once every lease has run out (the last worker was killed too)."""
    worker = NotifyWorker(ledger, rsa_key("host"), NotificationSettings(**SHORT), rng=random.Random(5))
    deadline = time.monotonic() + 60
    while ledger.notification_counts()[NotificationStatus.PENDING]:
        assert time.monotonic() < deadline, "events still pending"
        asyncio.run(worker.run_once())
        time.sleep(0.05)  # a lease of a killed worker runs out


def test_a_worker_killed_at_random_moments_loses_no_event_and_duplicates_only_by_id(
    tmp_path: Path, receiver: tuple[Receiver, str], spawner: Spawner
) -> None:
    merchant, url = receiver
    merchant.delay_s = 0.01  # kills land mid-delivery too
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER)
    host = paying_host(tmp_path, ledger, url)
    done = threading.Event()
    traffic = threading.Thread(target=make_traffic, args=(host, 0), kwargs={"until": done, "pause_s": 0.1})
    traffic.start()
    rng = random.Random(11)
    ledger_url = f"sqlite:///{tmp_path / 'ledger.sqlite3'}"
    for _ in range(KILLS):
        pid = spawner.start(ledger_url, SHORT)
        time.sleep(rng.uniform(0.0, 0.25))
        spawner.kill(pid)
        wait_for(functools.partial(gone, pid), what="the killed worker's end")
    done.set()
    traffic.join(timeout=120)
    assert not traffic.is_alive()
    settle(ledger)

    events = ledger.notifications(limit=1000)
    assert len(events) < 1000  # all of them: a listing stops at 1000
    counts = ledger.notification_counts()
    assert counts[NotificationStatus.DELIVERED] == len(events) > 0
    assert merchant.inbox.seen == {e.event_id for e in events}  # none lost, none made up
    assert merchant.inbox.states == final_states(ledger)
    assert all(len(bodies) == 1 for bodies in merchant.bodies.values())  # a duplicate is the same event
    assert merchant.outcomes["refused"] == 0
    duplicates = sum(merchant.deliveries.values()) - len(events)
    print(f"{KILLS} kills, {len(events)} events, {duplicates} duplicate deliveries")
    host.close()


# --- two workers on PostgreSQL -----------------------------------------------------------------------------------

postgres = pytest.mark.skipif(not PG_URL, reason="set TRADEPAY_TEST_POSTGRES_URL to run the PostgreSQL tests")


@pytest.fixture
def pg_url() -> Iterator[str]:
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}schema=tp_notify_{secrets.token_hex(4)}"
    yield url
    ledger = PostgresLedger(url)
    ledger.postgres.drop_schema()
    ledger.close()


def pg_host(tmp_path: Path, pg_url: str, notify_url: str) -> tuple[PostgresLedger, Host]:
    ledger = PostgresLedger(pg_url, cashier_url=CASHIER)
    return ledger, paying_host(tmp_path, ledger, notify_url)


@postgres
def test_two_workers_never_post_one_event_at_once(
    tmp_path: Path, receiver: tuple[Receiver, str], spawner: Spawner, pg_url: str
) -> None:
    merchant, url = receiver
    merchant.delay_s = 0.02  # a delivery takes a while: two workers on one event would overlap
    ledger, host = pg_host(tmp_path, pg_url, url)
    settings = {**SHORT, "read_timeout_s": 1.0, "lease_s": 3.0, "concurrency": 2}
    first, second = spawner.start(pg_url, settings, "first"), spawner.start(pg_url, settings, "second")
    make_traffic(host, 20)
    expected = final_states(ledger)
    wait_for(lambda: merchant.inbox.states == expected, timeout_s=60, what="every event's delivery")
    wait_for(lambda: ledger.notification_counts()[NotificationStatus.PENDING] == 0, what="every acknowledgement")
    assert merchant.inflight_overlaps == 0
    assert alive(first)
    assert alive(second)
    events = ledger.notifications(limit=1000)
    assert merchant.inbox.seen == {e.event_id for e in events}
    host.close()
    ledger.close()


@postgres
def test_a_killed_workers_lease_is_taken_over_once_it_runs_out(
    tmp_path: Path, receiver: tuple[Receiver, str], spawner: Spawner, pg_url: str
) -> None:
    merchant, url = receiver
    ledger, host = pg_host(tmp_path, pg_url, url)
    make_traffic(host, 1)
    events = ledger.notifications(limit=100)
    merchant.script = ["slow"] * len(events)
    merchant.slow_s = 0.8
    settings = {**SHORT, "read_timeout_s": 2.0, "lease_s": 5.0, "concurrency": len(events)}
    doomed = spawner.start(pg_url, settings, "doomed")
    wait_for(lambda: sum(merchant.inflight.values()) == len(events), what="the first worker's deliveries")
    held = {e.event_id: e for e in ledger.notifications(limit=100)}
    assert {e.leased_by for e in held.values()} == {"doomed"}
    spawner.kill(doomed)
    spawner.start(pg_url, settings, "heir")
    wait_for(lambda: ledger.notification_counts()[NotificationStatus.PENDING] == 0, what="the heir's deliveries")
    for event in ledger.notifications(limit=100):
        lease = held[event.event_id].lease_until
        assert lease is not None
        assert event.delivered_at is not None
        assert event.delivered_at >= lease  # not before the killed worker's lease ran out
        assert event.attempts == 1  # the killed worker recorded nothing
    assert merchant.inflight_overlaps == 0
    assert merchant.inbox.states == final_states(ledger)
    host.close()
    ledger.close()
