"""Notifications end to end on a real SQLite ledger: payments and refunds made through the host, delivered by the
worker to a real merchant receiver (uvicorn on 127.0.0.1) that verifies each with the docs' sample, through
failures; the worker inside ``tradepay serve``'s app; the ``tradepay notify`` commands."""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from click.testing import CliRunner

from tradepay import SQLiteLedger
from tradepay._cli.main import cli
from tradepay._ledger.notifications import NotificationStatus
from tradepay.server import public_pem
from tradepay.server.notify_worker import NotifyWorker
from tradepay.server.signing import HOST_KEY_FILE, load_host_key

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kits by their plain names
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.notify_kit import Receiver, fast_settings, serving_merchant, wait_for
    from tests.notify_world import final_states, make_traffic, paying_host
    from tests.server_kit import CASHIER, free_port, rsa_key
else:
    from notify_kit import Receiver, fast_settings, serving_merchant, wait_for
    from notify_world import final_states, make_traffic, paying_host
    from server_kit import CASHIER, free_port, rsa_key

FAST = fast_settings(attempts=20)


class Merchant:
    """A merchant's receiver and its notification URL."""

    def __init__(self, receiver: Receiver, url: str) -> None:
        self.receiver = receiver
        self.url = url


@pytest.fixture(autouse=True)
def logging_given_back(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The command line configures logging as an application does: here uncached, and given back afterwards,
    so that no logger stays bound to a configuration of this module's tests."""
    import structlog

    import tradepay._logging

    configure = tradepay._logging.configure_logging
    saved = structlog.get_config()
    monkeypatch.setattr(tradepay._logging, "configure_logging", lambda **kw: configure(**{**kw, "cache": False}))
    yield
    structlog.configure(**saved)


@pytest.fixture
def merchant() -> Iterator[Merchant]:
    with serving_merchant(public_pem(rsa_key("host"))) as (receiver, url):
        yield Merchant(receiver, url)


def test_every_event_arrives_verified_and_the_merchants_view_is_the_ledgers(tmp_path: Path, merchant: Merchant) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER)
    host = paying_host(tmp_path, ledger, merchant.url)
    merchant.receiver.script = ["fail", "slow", "garbage", "redirect", "huge", "nack", "fail", "garbage"] * 2
    make_traffic(host, 12)
    worker = NotifyWorker(ledger, rsa_key("host"), FAST, rng=random.Random(3))
    for _ in range(200):
        asyncio.run(worker.run_once())
        if not ledger.notifications(status=NotificationStatus.PENDING, limit=1):
            break
    counts = ledger.notification_counts()
    assert counts[NotificationStatus.PENDING] == counts[NotificationStatus.DEAD] == 0
    events = ledger.notifications(limit=1000)
    assert merchant.receiver.inbox.seen == {e.event_id for e in events}
    assert merchant.receiver.inbox.states == final_states(ledger)
    assert merchant.receiver.outcomes["refused"] == 0
    assert all(len(bodies) == 1 for bodies in merchant.receiver.bodies.values())
    assert sum(e.attempts for e in events) == len(events) + 16  # every scripted failure was one attempt more
    host.close()


# --- inside tradepay serve ---------------------------------------------------------------------------------------


def write_config(tmp_path: Path, **notifications: Any) -> Path:
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in notifications.items())
    config = tmp_path / "tradepay.toml"
    config.write_text(
        f"""
[chain]
providers = ["reference"]

[host]
data_dir = "data"
cashier_url = "{CASHIER}"

[ledger]
url = "sqlite:///ledger.sqlite3"

[notifications]
{table}
""",
        encoding="utf-8",
    )
    return config


def host_key(tmp_path: Path) -> Any:
    (tmp_path / "data").mkdir(exist_ok=True)
    return load_host_key(tmp_path / "data")


def test_the_server_delivers_while_it_serves_and_counts_it(
    tmp_path: Path, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    from tradepay.server.main import app_from_environment

    config = write_config(tmp_path, idle_s=0.01, first_retry_s=0.001, max_retry_s=0.01)
    merchant.receiver.inbox.key = host_key(tmp_path).public_key()  # the server signs with its own key
    monkeypatch.setenv("TRADEPAY_CONFIG", str(config))
    app = app_from_environment()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_for(lambda: server.started, what="the server's start")
        ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER)
        host = paying_host(tmp_path, ledger, merchant.url)
        merchant.receiver.script = ["fail"]
        make_traffic(host, 1)
        expected = final_states(ledger)
        wait_for(lambda: merchant.receiver.inbox.states == expected, what="every notification's delivery")
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics").text
        events = len(ledger.notifications(limit=100))
        assert f'tradepay_notifications{{status="delivered"}} {float(events)}' in metrics
        assert f'tradepay_notification_deliveries_total{{outcome="delivered"}} {float(events)}' in metrics
        assert 'tradepay_notification_delivery_failures_total{failure="status"} 1.0' in metrics
        host.close()
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()  # the worker stopped with the server


def test_the_server_runs_no_worker_when_notifications_are_disabled(
    tmp_path: Path, merchant: Merchant, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tradepay.server.main import app_from_environment

    monkeypatch.setenv("TRADEPAY_CONFIG", str(write_config(tmp_path, enabled=False)))
    app = app_from_environment()

    async def serve_briefly() -> list[str]:
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.05)
            return [task.get_name() for task in asyncio.all_tasks()]

    assert "tradepay-notify" not in asyncio.run(serve_briefly())


# --- the commands ------------------------------------------------------------------------------------------------


def run(config: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--config", str(config), *args], catch_exceptions=False)


def test_notify_once_delivers_and_list_show_retry_tell_the_outbox(tmp_path: Path, merchant: Merchant) -> None:
    config = write_config(tmp_path, first_retry_s=0.001, max_retry_s=0.001, attempts=1)
    merchant.receiver.inbox.key = host_key(tmp_path).public_key()
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER)
    host = paying_host(tmp_path, ledger, merchant.url)
    merchant.receiver.script = ["fail"]
    make_traffic(host, 1)
    events = ledger.notifications(limit=100)
    assert events

    once = run(config, "notify", "--once")
    assert (once.exit_code, once.stdout) == (0, f"deliveries made: {len(events)}\n")
    listed = json.loads(run(config, "notify", "list", "--dead", "--json").stdout)
    assert [e["lastError"] for e in listed] == ["HTTP 500"]  # one attempt allowed: the failed one is dead
    dead = listed[0]["notificationId"]
    table = run(config, "notify", "list", "--trade-no", events[0].trade_no).output
    assert table.splitlines()[0].split()[:3] == ["NOTIFICATION", "CREATED", "(UTC)"]
    assert dead in table

    shown = run(config, "notify", "show", dead)
    assert f"notification {dead}" in shown.output
    assert "last error: HTTP 500" in shown.stdout
    retried = json.loads(run(config, "notify", "retry", dead, "--json").stdout)
    assert (retried["status"], retried["attempts"]) == ("pending", 1)
    assert run(config, "notify", "--once").stdout == "deliveries made: 1\n"
    delivered = json.loads(run(config, "notify", "show", dead, "--json").stdout)
    assert delivered["status"] == "delivered"
    assert json.loads(delivered["payload"])["notificationId"] == dead
    assert merchant.receiver.inbox.states == final_states(ledger)

    again = run(config, "notify", "retry", dead)
    assert again.exit_code == 1
    assert f"notification {dead} was delivered already" in again.output
    host.close()


@pytest.mark.parametrize(
    ("args", "code", "said"),
    [
        (["notify", "show", "evt_nope"], 2, "no notification, nor order with a notification, 'evt_nope'"),
        (["notify", "retry", "evt_nope"], 2, "no notification, nor order with a notification, 'evt_nope'"),
        (["notify"], 2, "give exactly one of --once and --follow"),
        (["notify", "--once", "--follow"], 2, "give exactly one of --once and --follow"),
        (["notify", "--once", "list"], 2, "--once and --follow deliver: give them without a sub-command"),
        (["notify", "list", "--dead", "--status", "pending"], 2, "--dead and --status pending contradict"),
    ],
)
def test_notify_refuses_what_it_cannot_do(tmp_path: Path, args: list[str], code: int, said: str) -> None:
    result = run(write_config(tmp_path), *args)
    assert result.exit_code == code
    assert said in result.output


def test_notify_follow_runs_until_sigterm(tmp_path: Path, merchant: Merchant) -> None:
    import signal
    import subprocess

    config = write_config(tmp_path, idle_s=0.01)
    merchant.receiver.inbox.key = host_key(tmp_path).public_key()
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER)
    host = paying_host(tmp_path, ledger, merchant.url)
    command = [sys.executable, "-m", "tradepay", "--config", str(config), "notify", "--follow"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as worker:
        make_traffic(host, 1)
        expected = final_states(ledger)
        wait_for(lambda: merchant.receiver.inbox.states == expected, what="delivery by tradepay notify --follow")
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0
    assert (tmp_path / "data" / HOST_KEY_FILE).exists()
    host.close()
