"""Operations: metrics, the request log and its request id, and ``tradepay serve`` over a real socket."""

from __future__ import annotations

import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import structlog

from tradepay import configure_logging
from tradepay.testing import Outcome, ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

PAY = "/v1/client/pay"


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Logging configured as an application does (JSON lines), into a buffer; put back afterwards."""
    saved, was_configured = structlog.get_config(), structlog.is_configured()
    stream = io.StringIO()
    configure_logging(fmt="json", level="info", stream=stream, cache=False)
    yield stream
    if was_configured:
        structlog.configure(**saved)
    else:
        structlog.reset_defaults()


def events(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]


def test_the_request_id_is_returned_and_on_every_event_of_the_payment(tmp_path: Path, log_lines: io.StringIO) -> None:
    client = kit.make_client(kit.make_host(tmp_path))
    trade_no = kit.signed_post(client, "/v1/orders/create", kit.order_fields()).json()["tradeNO"]
    answer = client.post(PAY, json=kit.pay_body(trade_no), headers={**kit.bearer("alice"), "X-Request-Id": "req-42"})
    assert answer.json()["resultCode"] == "9000"
    assert answer.headers["X-Request-Id"] == "req-42"
    mine = [e for e in events(log_lines) if e.get("request_id") == "req-42"]
    assert {e["event"] for e in mine} >= {"attempt.finished", "payment.finished", "http.request"}
    [request] = [e for e in mine if e["event"] == "http.request"]
    assert (request["route"], request["status"], request["user"], request["method"]) == (PAY, 200, "alice", "POST")
    assert request["duration_ms"] >= 0
    created = [e for e in events(log_lines) if e["event"] == "http.request" and e["route"] == "/v1/orders/create"]
    assert created[0]["merchant"] == "shop-1"
    assert created[0]["request_id"] != "req-42"  # a new id when none (or a malformed one) is sent


def test_a_malformed_request_id_is_replaced(tmp_path: Path) -> None:
    client = kit.make_client(kit.make_host(tmp_path))
    answer = client.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert answer.headers["X-Request-Id"] != "bad id with spaces"
    assert len(answer.headers["X-Request-Id"]) == 32
    int(answer.headers["X-Request-Id"], 16)  # hex digits, as uuid4().hex gave
    again = client.get("/healthz").headers["X-Request-Id"]
    assert again != answer.headers["X-Request-Id"]


@pytest.mark.parametrize("fails", [False, True], ids=["answered", "raised"])
@pytest.mark.parametrize("outer", [None, "outer-1"], ids=["unbound-before", "bound-before"])
def test_the_request_id_is_bound_for_the_request_only(outer: str | None, fails: bool) -> None:
    """Inside the app, the request's own id is bound; afterwards the context holds what it held before (the
    outer id, or none), whether the app answered or raised."""
    import asyncio

    from tradepay.server.metrics import Metrics
    from tradepay.server.requestlog import RequestLog

    seen: list[object] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append(structlog.contextvars.get_contextvars().get("request_id"))
        if fails:
            raise RuntimeError("the app broke")
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def one_request() -> object:
        if outer is not None:
            structlog.contextvars.bind_contextvars(request_id=outer)
        scope = {"type": "http", "method": "GET", "path": "/x", "headers": [(b"x-request-id", b"req-inner")]}
        with contextlib.suppress(RuntimeError):
            await RequestLog(app, Metrics())(scope, receive, send)
        return structlog.contextvars.get_contextvars().get("request_id")

    after = asyncio.run(one_request())
    assert seen == ["req-inner"]
    assert after == outer
    if not fails:
        assert (b"x-request-id", b"req-inner") in sent[0]["headers"]


def test_the_client_pay_route_is_tried_first(tmp_path: Path) -> None:
    """Every mini program's payment takes ``/v1/client/pay``: its router is the first of the API's that FastAPI
    tries (a speed-up of the server's pay requests, docs/performance.md)."""
    routes = kit.make_app(kit.make_host(tmp_path)).router.routes
    included = [route for route in routes if hasattr(route, "original_router")]
    assert [getattr(r, "path", None) for r in included[0].original_router.routes] == [PAY]
    # Only FastAPI's own documentation pages (a fixed, short list) come before it.
    before = routes[: routes.index(included[0])]
    assert {getattr(r, "path", None) for r in before} <= {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def metric(text: str, name: str, **labels: str) -> float:
    """The value of sample ``name{labels}`` in a Prometheus text exposition (0 when absent)."""
    for line in text.splitlines():
        sample, _, value = line.rpartition(" ")
        found, _, rest = sample.partition("{")
        pairs = dict(pair.split("=", 1) for pair in rest.rstrip("}").split(",") if pair)
        if found == name and {key: item.strip('"') for key, item in pairs.items()} == labels:
            return float(value)
    return 0.0


def test_metrics_count_payments_attempts_fallthroughs_and_requests(tmp_path: Path) -> None:
    declining, paying = ReferenceProvider(script=[Outcome.DECLINE]), ReferenceProvider()
    from tradepay import Host, HostSettings, MemoryLedger

    host = Host.from_providers(
        {"wallet": declining, "card": paying},
        host=HostSettings(data_dir=tmp_path, cashier_url=kit.CASHIER),
        ledger=MemoryLedger(cashier_url=kit.CASHIER),
    )
    client = kit.make_client(host)
    trade_no = kit.signed_post(client, "/v1/orders/create", kit.order_fields()).json()["tradeNO"]
    assert client.post(PAY, json=kit.pay_body(trade_no), headers=kit.bearer("alice")).json()["resultCode"] == "9000"
    client.post(PAY, json=kit.pay_body(trade_no))  # 401
    page = client.get("/metrics")
    assert page.headers["content-type"].startswith("text/plain")
    text = page.text
    assert metric(text, "tradepay_payments_total", result_code="9000") == 1
    assert metric(text, "tradepay_attempts_total", provider="wallet", decision="fallthrough") == 1
    assert metric(text, "tradepay_attempts_total", provider="card", decision="stop") == 1
    assert metric(text, "tradepay_fallthroughs_total", provider="wallet") == 1
    assert metric(text, "tradepay_provider_latency_seconds_count", provider="card") == 1
    assert metric(text, "tradepay_http_requests_total", route=PAY, method="POST", status="200") == 1
    assert metric(text, "tradepay_http_requests_total", route=PAY, method="POST", status="401") == 1
    assert metric(text, "tradepay_payments_awaiting_reconciliation") == 0


def test_a_remembered_label_child_is_the_metrics_own_and_counts_every_time() -> None:
    from prometheus_client import generate_latest

    from tradepay.server.metrics import Metrics

    metrics = Metrics()
    for _ in range(3):
        metrics.labelled(metrics.payments, "9000").inc()
    metrics.payments.labels("4000").inc()
    assert metrics.labelled(metrics.payments, "9000") is metrics.payments.labels("9000")
    assert metrics.labelled(metrics.attempts, "a", "stop") is not metrics.labelled(metrics.attempts, "b", "stop")
    assert metrics.labelled(metrics.fallthroughs, "a") is not metrics.labelled(metrics.refunds, "a")
    text = generate_latest(metrics.registry).decode()
    assert metric(text, "tradepay_payments_total", result_code="9000") == 3
    assert metric(text, "tradepay_payments_total", result_code="4000") == 1


# --- tradepay serve, a real process on a real socket -----------------------------------------------------------


def wait_until_up(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"tradepay serve exited {process.returncode}: {log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError("tradepay serve did not become ready within a minute")


def tradepay(config: Path, *args: str) -> str:
    command = [sys.executable, "-m", "tradepay", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True).stdout


def write_config(tmp_path: Path, port: int, ledger_url: str | None = None, provider: str = "reference") -> Path:
    config = tmp_path / "tradepay.toml"
    ledger = f'\n[ledger]\nurl = "{ledger_url}"\n' if ledger_url else ""
    config.write_text(
        f'[chain]\nproviders = ["{provider}"]\n\n[host]\ndata_dir = "state"\n'
        f'cashier_url = "http://127.0.0.1:{port}/cashier"\n{ledger}',
        encoding="utf-8",
    )
    key = tmp_path / "shop-1.pub.pem"
    from tradepay.server import public_pem

    key.write_text(public_pem(kit.rsa_key("shop-1")), encoding="ascii")
    tradepay(config, "merchants", "add", "shop-1", "--public-key", str(key))
    return config


@contextlib.contextmanager
def serving(config: Path, port: int, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """``tradepay --config CONFIG ... serve --port PORT OPTIONS`` running and ready; stopped with SIGTERM after.
    Its log (JSON lines at ``info``) is ``serve.log`` beside the configuration."""
    command = [sys.executable, "-m", "tradepay", "--config", str(config), "--log-level", "info", "--log-format", "json"]
    command += ["serve", "--port", str(port), *options]
    log = config.parent / "serve.log"
    with log.open("wb") as output, subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT) as process:
        try:
            wait_until_up(f"http://127.0.0.1:{port}", process, log)
            yield process
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    # uvicorn shuts down gracefully on SIGTERM, then raises the signal again so that the exit says why.
    assert process.returncode in (0, -signal.SIGTERM), log.read_text(errors="replace")
    assert "Traceback" not in log.read_text(errors="replace")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL ledger URL with a schema of its own, dropped afterwards."""
    base = os.environ.get("TRADEPAY_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("set TRADEPAY_TEST_POSTGRES_URL to run against PostgreSQL")
    url = f"{base}?schema=serve_{uuid.uuid4().hex[:12]}"
    yield url
    from tradepay._ledger.postgres import PostgresDatabase

    database = PostgresDatabase(url)
    database.drop_schema()
    database.close()


def statuses_of(url: str, trade_no: str) -> list[str]:
    """The statuses of order ``trade_no``'s payments in the ledger at ``url``, newest first."""
    from tradepay import PostgresLedger

    ledger = PostgresLedger(url)
    try:
        return [p.status.value for p in ledger.payments(trade_no=trade_no)]
    finally:
        ledger.close()


def serve_and_pay(config: Path, port: int, *options: str, orders: int = 3) -> None:
    """As a merchant and the super app do, against ``tradepay serve``: create orders (signed), pay each as its
    user, inquire; then every worker's log holds one ``http.request`` line per payment, with its request id."""
    url = f"http://127.0.0.1:{port}"
    with serving(config, port, *options):
        token = tradepay(config, "tokens", "issue", "alice", "--ttl", "600").strip()
        for number in range(orders):
            created = kit.http_post(url, "/v1/orders/create", kit.order_fields(f"order-{number}")).json()
            assert created["paymentUrl"].startswith(f"{url}/cashier?tradeNO=")
            paid = httpx.post(
                f"{url}{PAY}", json=kit.pay_body(created["tradeNO"]), headers={"Authorization": f"Bearer {token}"}
            )
            assert paid.json()["resultCode"] == "9000", paid.text
            inquiry = kit.http_post(url, "/v1/payments/inquiry", {"referenceOrderId": f"order-{number}"}).json()
            assert inquiry["result"]["resultStatus"] == "S"
        assert httpx.get(f"{url}/cashier?tradeNO={created['tradeNO']}").text.count("already paid") == 1
    lines = (config.parent / "serve.log").read_text(errors="replace").splitlines()
    requests = [json.loads(line) for line in lines if '"http.request"' in line]
    paid_lines = [r for r in requests if r["route"] == PAY]
    assert len(paid_lines) == orders
    assert all(r["status"] == 200 and r["user"] == "alice" and r["request_id"] for r in paid_lines)


def test_tradepay_serve_on_sqlite(tmp_path: Path) -> None:
    port = kit.free_port()
    serve_and_pay(write_config(tmp_path, port), port)


@pytest.mark.postgres
def test_tradepay_serve_with_two_workers_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    port = kit.free_port()
    serve_and_pay(write_config(tmp_path, port, postgres_url), port, "--workers", "2", orders=6)


@pytest.mark.postgres
def test_fifty_concurrent_payments_of_one_order_from_five_processes_charge_once(
    tmp_path: Path, postgres_url: str
) -> None:
    """Two workers on PostgreSQL, the wallet provider (its balances in one file both workers share): 50
    payments of one order released together from 5 client processes move the money once."""
    port = kit.free_port()
    config = write_config(tmp_path, port, postgres_url, provider="wallet")
    tradepay(config, "wallet", "topup", "alice", "USD", "5000")
    server = f"http://127.0.0.1:{port}"
    with serving(config, port, "--workers", "2"):
        trade_no = kit.http_post(server, "/v1/orders/create", kit.order_fields(value="2500")).json()["tradeNO"]
        token = tradepay(config, "tokens", "issue", "alice").strip()
        start = str(time.time() + 5)
        client = [sys.executable, str(Path(__file__).parent / "server_clients.py"), server, token, trade_no]
        clients = [subprocess.Popen([*client, "10", start], stdout=subprocess.PIPE, text=True) for _ in range(5)]
        codes = [code for c in clients for code in json.loads(c.communicate(timeout=300)[0])]
        inquiry = kit.http_post(server, "/v1/payments/inquiry", {"tradeNO": trade_no}).json()
    assert len(codes) == 50
    # One payment succeeded; a request that came while it was in flight is told 8000 (processing).
    assert set(codes) <= {"9000", "8000"}, codes
    assert "9000" in codes
    assert inquiry["result"]["resultStatus"] == "S"
    balance = json.loads(tradepay(config, "wallet", "balance", "alice", "--json"))["balances"]
    assert balance == [{"currency": "USD", "value": "2500"}]
    assert statuses_of(postgres_url, trade_no) == ["succeeded"]


def worker_pids(serve: int) -> list[int]:
    """The uvicorn worker processes of the ``tradepay serve`` process ``serve`` (its spawned children)."""
    children = Path(f"/proc/{serve}/task/{serve}/children").read_text().split()
    return [int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]


def wait_for_the_attempt(url: str, trade_no: str) -> None:
    """Until the ledger at ``url`` holds an attempt of order ``trade_no`` sent to its provider."""
    from tradepay import PostgresLedger

    ledger = PostgresLedger(url)
    try:
        deadline = time.monotonic() + 30
        while not any(p.pending is not None for p in ledger.payments(trade_no=trade_no)):
            assert time.monotonic() < deadline, "the payment never reached the wallet"
            time.sleep(0.05)
    finally:
        ledger.close()


def tradepay_status(config: Path, *args: str) -> str:
    """``tradepay`` whatever its exit status (``reconcile`` exits 1 while something stays unsettled)."""
    command = [sys.executable, "-m", "tradepay", "--config", str(config), *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False).stdout


@pytest.mark.postgres
def test_a_worker_killed_mid_payment_is_settled_by_reconcile_and_never_charges_twice(
    tmp_path: Path, postgres_url: str
) -> None:
    """SIGKILL the workers while the wallet is inside a payment (before it moved money); uvicorn starts new
    workers, whose reconciliation at start (or ``tradepay reconcile``, in another process) settles the cut-off
    payment through the wallet's inquiry; paying again charges once."""
    port = kit.free_port()
    config = write_config(tmp_path, port, postgres_url, provider="wallet")
    # A short payment deadline, so that reconciliation may take the cut-off payment a few seconds later.
    config.write_text(
        config.read_text().replace('providers = ["wallet"]', 'providers = ["wallet"]\ndeadline_s = 2.0'), "utf-8"
    )
    tradepay(config, "wallet", "topup", "alice", "USD", "5000")
    tradepay(config, "wallet", "fault", "set", "alice", "latency", "--seconds", "3", "--times", "1")
    server = f"http://127.0.0.1:{port}"
    with serving(config, port, "--workers", "2") as process:
        trade_no = kit.http_post(server, "/v1/orders/create", kit.order_fields(value="2500")).json()["tradeNO"]
        token = tradepay(config, "tokens", "issue", "alice").strip()
        headers = {"Authorization": f"Bearer {token}"}
        body = kit.pay_body(trade_no)
        cut_off = subprocess.Popen(  # the payment the kill cuts off, from a client of its own
            [sys.executable, "-c", f"import httpx; httpx.post({server + PAY!r}, json={body!r}, "
             f"headers={headers!r}, timeout=30)"],
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for_the_attempt(postgres_url, trade_no)  # the wallet is sleeping inside pay: nothing moved yet
        killed = worker_pids(process.pid)
        assert len(killed) == 2
        for pid in killed:
            os.kill(pid, signal.SIGKILL)
        cut_off.wait(timeout=60)
        wait_until_up(server, process, config.parent / "serve.log")  # uvicorn started new workers
        assert not set(worker_pids(process.pid)) & set(killed)
        time.sleep(4.5)  # older than reconciliation's lease (twice the payment deadline)
        settled = json.loads(tradepay_status(config, "reconcile", "--json"))
        paid = httpx.post(server + PAY, json=body, headers=headers, timeout=30).json()
    # Settled by a new worker's reconciliation at its start, or by `tradepay reconcile`: nothing is left.
    assert settled["tooYoung"] == 0
    assert all(s["after"] in ("succeeded", "failed") for s in settled["settlements"]), settled
    assert paid["resultCode"] == "9000", paid
    balance = json.loads(tradepay(config, "wallet", "balance", "alice", "--json"))["balances"]
    assert balance == [{"currency": "USD", "value": "2500"}]  # charged once
    assert statuses_of(postgres_url, trade_no) == ["succeeded", "failed"]  # the cut-off one settled not paid
