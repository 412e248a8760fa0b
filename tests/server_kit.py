"""What the server's tests share: keys made once, a host with a scripted provider, signed requests."""

from __future__ import annotations

import asyncio
import json
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from httpx import Response

from tradepay import Host, HostSettings, MemoryLedger
from tradepay._ledger.merchants import merchant_book
from tradepay.server import ServerSettings, create_app, public_pem, sign_request
from tradepay.testing import ReferenceProvider

CASHIER = "http://testserver/cashier"


class TestClient:
    """A blocking client of an ASGI app, in process: each request on its own event loop (httpx's
    ``ASGITransport``)."""

    __test__ = False  # not a test class

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def request(self, method: str, path: str, **kwargs: Any) -> Response:
        async def send() -> Response:
            transport = httpx.ASGITransport(app=self.app, raise_app_exceptions=False)  # as uvicorn
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run(send())

    def post(self, path: str, **kwargs: Any) -> Response:
        return self.request("POST", path, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Response:
        return self.request("GET", path, **kwargs)


@cache
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """A 2048-bit RSA key per ``name``, made once per test run (making one takes a moment)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def make_host(tmp_path: Path, provider: ReferenceProvider | None = None, ledger: Any = None) -> Host:
    settings = HostSettings(data_dir=tmp_path / "data", cashier_url=CASHIER)
    return Host.from_providers(
        {"reference": provider or ReferenceProvider()},
        host=settings,
        ledger=ledger if ledger is not None else MemoryLedger(cashier_url=CASHIER),
    )


def make_client(host: Host, settings: ServerSettings | None = None, **kwargs: Any) -> TestClient:
    """A test client of the server of ``host``, with merchants ``shop-1`` and ``shop-2`` registered."""
    return TestClient(make_app(host, settings, **kwargs))


def client_on(ledger: str, tmp_path: Path, provider: ReferenceProvider) -> TestClient:
    """A test client of a host paying through ``provider`` on a ``"memory"`` or ``"sqlite"`` ledger."""
    from tradepay import SQLiteLedger

    book = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER) if ledger == "sqlite" else None
    return make_client(make_host(tmp_path, provider, ledger=book))


def make_app(host: Host, settings: ServerSettings | None = None, **kwargs: Any) -> FastAPI:
    """The server of ``host`` (signing with the test key ``host``), merchants ``shop-1`` and ``shop-2`` registered."""
    book = merchant_book(host.ledger)
    for merchant in ("shop-1", "shop-2"):
        if book.get_merchant(merchant) is None:
            book.add_merchant(merchant, public_pem(rsa_key(merchant)))
    return create_app(host, settings, key=kwargs.pop("key", rsa_key("host")), **kwargs)


def http_post(base_url: str, path: str, payload: Any, merchant: str = "shop-1") -> Response:
    """POST ``payload`` signed as ``merchant`` to a server over a real socket."""
    body = body_of(payload)
    headers = sign_request(rsa_key(merchant), "POST", path, merchant, body)
    return httpx.post(base_url + path, content=body, headers=headers, timeout=30)


def body_of(payload: Any) -> bytes:
    return payload if isinstance(payload, bytes) else json.dumps(payload).encode()


def signed_post(
    client: TestClient,
    path: str,
    payload: Any,
    merchant: str = "shop-1",
    *,
    key: rsa.RSAPrivateKey | None = None,
    time: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """POST ``payload`` (JSON, or bytes as they are) to ``path``, signed as ``merchant`` (with ``key``)."""
    body = body_of(payload)
    signed = sign_request(key or rsa_key(merchant), "POST", path, merchant, body, time=time)
    return client.post(path, content=body, headers={**signed, **(headers or {})})


def order_fields(reference: str = "order-1", value: str = "1250", payer: str = "alice") -> dict[str, Any]:
    return {"referenceOrderId": reference, "orderAmount": {"currency": "USD", "value": value}, "userId": payer}


def bearer(user: str, ttl_s: float = 3600, *, key: str = "host") -> dict[str, str]:
    """The ``Authorization`` header of a token the host (``key``) signed for ``user``."""
    from tradepay.server.tokens import issue_token

    return {"Authorization": f"Bearer {issue_token(rsa_key(key), user, ttl_s)}"}


def pay_body(trade_no: str, **context: Any) -> dict[str, Any]:
    """A ``POST /v1/client/pay`` body paying order ``trade_no``, as the super app's PaymentService sends it."""
    return {
        "paymentRequest": {"type": "ORDER_ID", "paymentString": trade_no},
        "apiContext": {"source": "miniprogram", "miniProgramInfo": {"appId": "2021000000000001"}, **context},
    }


def free_port() -> int:
    """A port free on 127.0.0.1 now (the servers of the tests listen there only)."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LiveServer:
    """``app`` served by uvicorn on ``127.0.0.1:port`` in a thread, for a real browser or socket."""

    def __init__(self, app: FastAPI, port: int) -> None:
        import threading

        import uvicorn

        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="live-server", daemon=True)
        self.url = f"http://127.0.0.1:{port}"

    def __enter__(self) -> LiveServer:
        import time

        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
