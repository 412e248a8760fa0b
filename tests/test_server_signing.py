"""The merchant API's signatures: requests are verified, stale or foreign ones refused 401, answers signed."""

from __future__ import annotations

import os
import stat
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradepay.server import ServerSettings, sign_request, verify_response
from tradepay.server.signing import load_host_key

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.server_kit import TestClient, body_of, make_client, make_host, order_fields, rsa_key, signed_post
else:
    from server_kit import TestClient, body_of, make_client, make_host, order_fields, rsa_key, signed_post

CREATE = "/v1/orders/create"


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    return make_client(make_host(tmp_path))


def test_a_signed_request_is_answered_and_the_answer_is_signed_by_the_host(client: TestClient) -> None:
    answer = signed_post(client, CREATE, order_fields())
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == {
        "resultStatus": "S",
        "resultCode": "SUCCESS",
        "resultMessage": "the order was created",
    }
    host_public = rsa_key("host").public_key()
    assert verify_response(host_public, "POST", CREATE, answer.headers, answer.content)
    assert answer.headers["Client-Id"] == "shop-1"
    # Another body, or another key, does not verify: the check can fail.
    assert not verify_response(host_public, "POST", CREATE, answer.headers, answer.content + b" ")
    assert not verify_response(rsa_key("shop-1").public_key(), "POST", CREATE, answer.headers, answer.content)


def _created(client: TestClient) -> int:
    return len(client.app.state.tradepay.host.ledger._orders)


@pytest.mark.parametrize(
    ("drop", "says"),
    [
        ("Client-Id", "Client-Id header is missing"),
        ("Request-Time", "Request-Time header is missing"),
        ("Signature", "Signature header is missing"),
    ],
)
def test_an_unsigned_request_is_refused_401_and_nothing_is_stored(client: TestClient, drop: str, says: str) -> None:
    body = body_of(order_fields())
    headers = sign_request(rsa_key("shop-1"), "POST", CREATE, "shop-1", body)
    del headers[drop]
    answer = client.post(CREATE, content=body, headers=headers)
    assert answer.status_code == 401
    assert answer.json()["result"]["resultStatus"] == "F"
    assert says in answer.json()["result"]["resultMessage"]
    assert _created(client) == 0


def test_a_request_signed_by_another_key_is_refused(client: TestClient) -> None:
    answer = signed_post(client, CREATE, order_fields(), key=rsa_key("shop-2"))
    assert answer.status_code == 401
    assert answer.json()["result"]["resultCode"] == "INVALID_SIGNATURE"
    assert "does not match" in answer.json()["result"]["resultMessage"]
    assert _created(client) == 0


def test_a_body_changed_after_signing_is_refused(client: TestClient) -> None:
    body = body_of(order_fields())
    headers = sign_request(rsa_key("shop-1"), "POST", CREATE, "shop-1", body)
    answer = client.post(CREATE, content=body.replace(b"1250", b"1"), headers=headers)
    assert answer.status_code == 401
    assert _created(client) == 0


def test_a_signature_for_another_path_is_refused(client: TestClient) -> None:
    body = body_of(order_fields())
    headers = sign_request(rsa_key("shop-1"), "POST", "/v1/payments/inquiry", "shop-1", body)
    assert client.post(CREATE, content=body, headers=headers).status_code == 401


def test_an_unknown_merchant_is_refused(client: TestClient) -> None:
    answer = signed_post(client, CREATE, order_fields(), merchant="shop-9")
    assert answer.status_code == 401
    assert answer.json()["result"]["resultCode"] == "INVALID_CLIENT"
    assert "shop-9" in answer.json()["result"]["resultMessage"]
    assert _created(client) == 0


@pytest.mark.parametrize("offset_s", [-301, 301, -86400])
def test_a_request_outside_the_clock_skew_window_is_refused(client: TestClient, offset_s: int) -> None:
    moment = (datetime.now(UTC) + timedelta(seconds=offset_s)).isoformat()
    answer = signed_post(client, CREATE, order_fields(), time=moment)
    assert answer.status_code == 401
    assert "outside the allowed 300 s" in answer.json()["result"]["resultMessage"]
    assert _created(client) == 0


def test_the_window_is_configurable(tmp_path: Path) -> None:
    client = make_client(make_host(tmp_path), ServerSettings(clock_skew_s=5))
    moment = (datetime.now(UTC) - timedelta(seconds=60)).isoformat()
    assert signed_post(client, CREATE, order_fields(), time=moment).status_code == 401
    moment = (datetime.now(UTC) - timedelta(seconds=2)).isoformat()
    assert signed_post(client, CREATE, order_fields(), time=moment).status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "algorithm=RSA1, keyVersion=1, signature=abc",
        "algorithm=RSA256, keyVersion=2, signature=abc",
        "algorithm=RSA256, signature=abc",
        "nonsense",
        "algorithm=RSA256, keyVersion=1, signature=",
    ],
)
def test_a_malformed_signature_header_is_refused(client: TestClient, header: str) -> None:
    body = body_of(order_fields())
    headers = {**sign_request(rsa_key("shop-1"), "POST", CREATE, "shop-1", body), "Signature": header}
    answer = client.post(CREATE, content=body, headers=headers)
    assert answer.status_code == 401
    assert "Signature header" in answer.json()["result"]["resultMessage"]


def test_a_malformed_request_time_is_refused(client: TestClient) -> None:
    answer = signed_post(client, CREATE, order_fields(), time="yesterday")
    assert answer.status_code == 401
    assert "ISO 8601" in answer.json()["result"]["resultMessage"]


def test_the_host_key_is_made_once_with_mode_0600(tmp_path: Path) -> None:
    key = load_host_key(tmp_path)
    path = tmp_path / "server-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = load_host_key(tmp_path)
    assert key.private_numbers() == again.private_numbers()
