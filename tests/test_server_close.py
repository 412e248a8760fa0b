"""The merchant API's ``POST /v1/orders/close``: an unpaid order can no longer be paid, a paid one is not closed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay.server import verify_response
from tradepay.testing import ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

TestClient = kit.TestClient

CLOSE = "/v1/orders/close"


@pytest.fixture(params=["memory", "sqlite"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    return kit.client_on(request.param, tmp_path, ReferenceProvider())


def charged(client: TestClient) -> int:
    """What the client's provider has charged, in minor units."""
    provider = client.app.state.tradepay.host.provider("reference")
    assert isinstance(provider, ReferenceProvider)
    return provider.charged


def new_order(client: TestClient, reference: str = "order-1", merchant: str = "shop-1") -> str:
    created = kit.signed_post(client, "/v1/orders/create", kit.order_fields(reference), merchant=merchant).json()
    return str(created["tradeNO"])


def status_of(client: TestClient, trade_no: str) -> str:
    return str(client.app.state.tradepay.host.ledger.get_order(trade_no).status.value)


def pay(client: TestClient, trade_no: str) -> dict[str, Any]:
    answer = client.post("/v1/client/pay", json=kit.pay_body(trade_no), headers=kit.bearer("alice"))
    data: dict[str, Any] = answer.json()
    return data


def close_is_refused(client: TestClient, trade_no: str, code: str, status: str) -> None:
    """Closing ``trade_no`` is answered ``F`` / ``code``, and the order stays ``status``."""
    data = kit.signed_post(client, CLOSE, {"tradeNO": trade_no}).json()
    assert (data["result"]["resultStatus"], data["result"]["resultCode"]) == ("F", code)
    assert data["orderStatus"] == status.upper()
    assert status_of(client, trade_no) == status


def test_a_closed_order_can_no_longer_be_paid(client: TestClient) -> None:
    trade_no = new_order(client)
    answer = kit.signed_post(client, CLOSE, {"tradeNO": trade_no})
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["result"]["resultStatus"] == "S"
    assert (data["tradeNO"], data["orderStatus"]) == (trade_no, "CLOSED")
    assert verify_response(kit.rsa_key("host").public_key(), "POST", CLOSE, answer.headers, answer.content)
    assert status_of(client, trade_no) == "closed"
    paid = pay(client, trade_no)
    assert paid["resultCode"] == "4000"
    assert "closed" in paid["resultMessage"]
    assert charged(client) == 0
    inquiry = kit.signed_post(client, "/v1/payments/inquiry", {"tradeNO": trade_no}).json()
    assert inquiry["result"]["resultCode"] == "ORDER_IS_CLOSED"


def test_closing_again_answers_closed(client: TestClient) -> None:
    trade_no = new_order(client)
    kit.signed_post(client, CLOSE, {"tradeNO": trade_no})
    again = kit.signed_post(client, CLOSE, {"referenceOrderId": "order-1"}).json()
    assert again["result"]["resultStatus"] == "S"
    assert again["orderStatus"] == "CLOSED"


def test_a_paid_order_is_not_closed(client: TestClient) -> None:
    trade_no = new_order(client)
    assert pay(client, trade_no)["resultCode"] == "9000"
    close_is_refused(client, trade_no, "ORDER_IS_PAID", "paid")
    assert charged(client) == 1250


def test_a_merchant_closes_only_its_own_orders(client: TestClient) -> None:
    trade_no = new_order(client)
    for body in ({"tradeNO": trade_no}, {"referenceOrderId": "order-1"}):
        data = kit.signed_post(client, CLOSE, body, merchant="shop-2").json()
        assert data["result"]["resultCode"] == "ORDER_NOT_EXIST"
        assert "orderStatus" not in data
    assert status_of(client, trade_no) == "open"
    assert pay(client, trade_no)["resultCode"] == "9000"


def test_an_unknown_order_does_not_exist(client: TestClient) -> None:
    data = kit.signed_post(client, CLOSE, {"tradeNO": "T-none"}).json()
    assert data["result"] == {
        "resultStatus": "F",
        "resultCode": "ORDER_NOT_EXIST",
        "resultMessage": "no order 'T-none' of this merchant",
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "tradeNO"),
        ({"tradeNO": "T1", "referenceOrderId": "order-1"}, "tradeNO"),
        ({"tradeNO": "订单-1"}, "tradeNO"),
        ({"tradeNO": ""}, "tradeNO"),
        ({"tradeNO": 7}, "tradeNO"),
        ({"referenceOrderId": "o" * 65}, "referenceOrderId"),
        ({"tradeNO": "T1", "force": True}, "force"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_changes_nothing(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    trade_no = new_order(client)
    answer = kit.signed_post(client, CLOSE, body)
    assert answer.status_code == 422, answer.text
    assert answer.json()["result"]["resultMessage"].startswith(f"{field}:")
    assert status_of(client, trade_no) == "open"


def test_an_unsigned_close_is_refused_and_changes_nothing(client: TestClient) -> None:
    trade_no = new_order(client)
    assert client.post(CLOSE, json={"tradeNO": trade_no}).status_code == 401
    assert status_of(client, trade_no) == "open"


def test_an_order_whose_payment_stays_unknown_is_not_closed(tmp_path: Path) -> None:
    # The provider's outcome is unknown, its inquiry cannot tell and its cancel never confirms: the order may
    # have been paid, so it must stay open until reconciliation knows.
    provider = ReferenceProvider(script=["unknown_result"], inquiry="unknown", cancel="refuse")
    client = kit.make_client(kit.make_host(tmp_path, provider))
    trade_no = new_order(client)
    assert pay(client, trade_no)["resultCode"] == "6004"
    close_is_refused(client, trade_no, "PAYMENT_IN_PROCESS", "open")
