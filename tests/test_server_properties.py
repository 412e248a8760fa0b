"""Property-based requests (hypothesis) against every POST endpoint of the OpenAPI document: whatever the body,
the answer is never a 5xx, always carries a well-formed ``result``, and a refused request stores nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

FIELDS = [
    "referenceOrderId", "orderAmount", "currency", "value", "userId", "orderDescription", "paymentExpiryTime",
    "tradeNO", "paymentRequest", "apiContext", "type", "paymentString", "paymentAmount", "extendedInfo", "source",
    "refundRequestId", "refundAmount", "refundReason",
]  # fmt: skip
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=70)
VALUES = st.recursive(
    SCALARS | st.sampled_from(["USD", "1250", "ORDER_ID", "alice", "2030-01-01T00:00:00Z", "T1"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS) | st.text(max_size=8), inner),
    max_leaves=12,
)
BODIES = st.dictionaries(st.sampled_from(FIELDS), VALUES, max_size=6) | VALUES.map(lambda v: v)
RAW = st.binary(max_size=64)


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return kit.make_client(kit.make_host(tmp_path_factory.mktemp("server")))


def stored(client: Any) -> tuple[int, int, int, list[str]]:
    ledger = client.app.state.tradepay.host.ledger
    statuses = sorted(order.status.value for order in ledger._orders.values())
    return len(ledger._orders), len(ledger.payments(limit=10_000)), len(ledger.refunds(limit=10_000)), statuses


def check(answer: Any) -> None:
    assert answer.status_code < 500, answer.text
    assert answer.status_code in (200, 400, 401, 403, 413, 422), answer.status_code
    data = answer.json()
    if "result" in data:  # every answer but the client API's PaymentResult
        result = data["result"]
        assert result["resultStatus"] in ("S", "F", "U")
        assert isinstance(result["resultCode"], str)
        assert isinstance(result["resultMessage"], str)
        assert "Traceback" not in result["resultMessage"]
    else:
        assert answer.status_code == 200
        assert data["resultCode"] in ("9000", "8000", "4000", "6001", "6002", "6004")


def posts(client: Any) -> list[str]:
    """The JSON POST paths of the OpenAPI document, every one exercised (the cashier page's form is HTML: its
    own tests cover it)."""
    document = client.get("/openapi.json").json()
    return sorted(path for path, operations in document["paths"].items() if "post" in operations and path[:4] == "/v1/")


def test_the_document_lists_the_endpoints_exercised_here(client: Any) -> None:
    assert set(posts(client)) >= {
        "/v1/orders/create",
        "/v1/payments/inquiry",
        "/v1/orders/close",
        "/v1/refunds/create",
        "/v1/refunds/inquiry",
        "/v1/client/pay",
    }


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=BODIES | RAW, index=st.integers(0, 10), signed=st.booleans())
def test_any_body_to_any_endpoint_is_answered_without_a_5xx(client: Any, body: Any, index: int, signed: bool) -> None:
    paths = posts(client)
    path = paths[index % len(paths)]
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    before = stored(client)
    if path.startswith("/v1/client/"):
        answer = client.post(path, content=raw, headers={"Content-Type": "application/json", **kit.bearer("carol")})
    elif signed:
        answer = kit.signed_post(client, path, raw)
    else:
        answer = client.post(path, content=raw, headers={"Content-Type": "application/json"})
    check(answer)
    if answer.status_code != 200 or answer.json().get("result", {}).get("resultStatus") == "F":
        assert stored(client) == before  # refused: nothing stored
