"""http_pay_ratio: ``POST /v1/client/pay`` through the whole server, against the same framework's bare endpoint.

Two server processes in turn, each uvicorn on ``127.0.0.1`` with one worker: the **host** (``create_app`` on a
host with an in-memory ledger and one (async) reference provider that answers at once, orders made beforehand,
logging as every benchmark sets it up) and the **bare** endpoint (a FastAPI app whose one route parses the
same JSON body into the same model and returns a fixed ``PaymentResult``). A client process of its own sends
the requests from 64 concurrent keep-alive connections (plain HTTP/1.1 on asyncio streams), each request
paying a new order, after a warm-up round; it reports payments per second and the p99 latency. The key is the
host's throughput divided by the bare endpoint's, in the same run; the p99 of each is reported beside it. The
client runs on the same machine, so its own cost is in both figures alike: the ratio understates the
server's own share of the cost.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from starlette.requests import Request  # at module level: FastAPI reads the routes' annotations from here
from starlette.responses import JSONResponse

from ._harness import RUN_PY, Figure, Sizes, median

__all__ = ["client_worker", "measure", "server_worker"]

CONCURRENCY = 64
WARMUP = 256
#: Requests per side and timed round, and the rounds, by mode.
REQUESTS = {"smoke": 200, "quick": 4000, "full": 20_000}
ROUNDS = {"smoke": 1, "quick": 3, "full": 5}
FIXED = {"resultCode": "9000", "resultMessage": "paid", "hasError": False, "extendedInfo": {"paymentId": "pay_0"}}


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _host_app(orders: int, data_dir: Path) -> tuple[Any, str]:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from tradepay import Host, HostSettings, MemoryLedger, PaymentAmount
    from tradepay.server import create_app
    from tradepay.server.tokens import issue_token
    from tradepay.testing import AsyncReferenceProvider

    ledger = MemoryLedger()
    provider = AsyncReferenceProvider()  # answers at once, on the event loop: no provider thread
    host = Host.from_providers({"reference": provider}, ledger=ledger, host=HostSettings(data_dir=data_dir))
    for number in range(orders):
        ledger.create_order(PaymentAmount("USD", "100"), merchant_id="m1", payer_id="alice", trade_no=f"B{number}")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return create_app(host, key=key), issue_token(key, "alice", 24 * 3600)


def _bare_app() -> Any:
    from fastapi import FastAPI

    from tradepay.server.schemas import ClientPayRequest, parse

    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"ok": True})

    @app.post("/v1/client/pay")
    async def pay(request: Request) -> JSONResponse:
        parse(ClientPayRequest, await request.body())
        return JSONResponse(FIXED)

    return app


def server_worker(side: str, port: int, orders: int) -> None:
    """``run.py --worker http_server SIDE PORT ORDERS``: serve one side until killed; print the token first."""
    import uvicorn

    from ._harness import configure_null_logging

    configure_null_logging()
    with tempfile.TemporaryDirectory(prefix="tradepay-http-") as tmp:
        app, token = _host_app(orders, Path(tmp)) if side == "host" else (_bare_app(), "none")
        print(token, flush=True)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
        uvicorn.Server(config).run()


async def _connection(host: str, port: int, token: str, numbers: Any, latencies: list[float]) -> None:
    """One keep-alive connection paying the orders it takes from ``numbers``, one request at a time: plain
    HTTP/1.1 on asyncio streams (a client library's own pool would be measured too: httpx's slows down past a
    few dozen connections)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for number in numbers:
            body = json.dumps(
                {
                    "paymentRequest": {"type": "ORDER_ID", "paymentString": f"B{number}"},
                    "apiContext": {"source": "miniprogram"},
                }
            ).encode()
            head = (
                f"POST /v1/client/pay HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: {len(body)}\r\n\r\n"
            ).encode()
            began = time.perf_counter()
            writer.write(head + body)
            headers = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in headers.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            answer = await reader.readexactly(length)
            latencies.append(time.perf_counter() - began)
            if b'"9000"' not in answer:
                raise RuntimeError(f"payment B{number} answered {answer[:200]!r}")
    finally:
        writer.close()
        await writer.wait_closed()


async def _run(url: str, token: str, first: int, count: int) -> tuple[float, list[float]]:
    host, _, port = url.removeprefix("http://").partition(":")
    latencies: list[float] = []
    numbers = iter(range(first, first + count))
    began = time.perf_counter()
    await asyncio.gather(*(_connection(host, int(port), token, numbers, latencies) for _ in range(CONCURRENCY)))
    return time.perf_counter() - began, latencies


def client_worker(url: str, token: str, requests: int) -> None:
    """``run.py --worker http_client URL TOKEN REQUESTS``: wait for the server, warm up, then time ``REQUESTS``
    payments; print ``{"rps", "p99_ms"}``."""
    import httpx

    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                break
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    asyncio.run(_run(url, token, 0, WARMUP))
    elapsed, latencies = asyncio.run(_run(url, token, WARMUP, requests))
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(json.dumps({"rps": requests / elapsed, "p99_ms": p99 * 1000}))


def _round(side: str, requests: int) -> dict[str, float]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, str(RUN_PY), "--worker", "http_server", side, str(port), str(WARMUP + requests)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert server.stdout is not None
        token = server.stdout.readline().strip()
        done = subprocess.run(
            [sys.executable, str(RUN_PY), "--worker", "http_client", f"http://127.0.0.1:{port}", token, str(requests)],
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the HTTP client failed: {done.stderr}")
        figures: dict[str, float] = json.loads(done.stdout)
        return figures
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stdout is not None:
            server.stdout.close()


def measure(sizes: Sizes) -> Figure:
    """The ratio of the host's payments per second to the bare endpoint's, rounds interleaved."""
    requests, rounds = REQUESTS[sizes.mode], ROUNDS[sizes.mode]
    runs: dict[str, list[dict[str, float]]] = {"host": [], "bare": []}
    for number in range(rounds):
        for side in ("host", "bare") if number % 2 == 0 else ("bare", "host"):
            runs[side].append(_round(side, requests))
    host_rps = median([r["rps"] for r in runs["host"]])
    bare_rps = median([r["rps"] for r in runs["bare"]])
    details = {
        "host_payments_per_s": round(host_rps, 1),
        "bare_requests_per_s": round(bare_rps, 1),
        "host_p99_ms": round(median([r["p99_ms"] for r in runs["host"]]), 2),
        "bare_p99_ms": round(median([r["p99_ms"] for r in runs["bare"]]), 2),
        "concurrency": CONCURRENCY,
        "requests_per_round": requests,
        "rounds": rounds,
        "method": "uvicorn, one worker each; 64 keep-alive HTTP/1.1 connections from a second process on loopback",
    }
    return Figure("http_pay_ratio", round(host_rps / bare_rps, 3), details)
