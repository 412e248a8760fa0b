"""The merchant API: create-order (idempotent on referenceOrderId), payment inquiry, bad input, ownership."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import APIContext, PaymentRequest, PaymentType, SQLiteLedger
from tradepay.server import ServerSettings
from tradepay.testing import Outcome, ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests.server_kit import CASHIER, TestClient, make_client, make_host, order_fields, signed_post
else:
    from server_kit import CASHIER, TestClient, make_client, make_host, order_fields, signed_post

CREATE = "/v1/orders/create"
INQUIRY = "/v1/payments/inquiry"


@pytest.fixture(params=["memory", "sqlite"])
def client(request: pytest.FixtureRequest, tmp_path: Path) -> TestClient:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", cashier_url=CASHIER) if request.param == "sqlite" else None
    return make_client(make_host(tmp_path, ledger=ledger))


def ledger_of(client: TestClient) -> Any:
    return client.app.state.tradepay.host.ledger


def _order_numbers(client: TestClient) -> list[str]:
    ledger = ledger_of(client)
    if hasattr(ledger, "database"):
        with ledger.database.read() as db:
            return [row[0] for row in db.execute("SELECT trade_no FROM orders").fetchall()]
    return list(ledger._orders)


def test_create_order_answers_a_trade_number_and_the_cashier_url(client: TestClient) -> None:
    answer = signed_post(client, CREATE, order_fields()).json()
    assert answer["result"]["resultStatus"] == "S"
    trade_no = answer["tradeNO"]
    assert answer["paymentUrl"] == f"{CASHIER}?tradeNO={trade_no}"
    order = ledger_of(client).get_order(trade_no)
    assert (order.merchant_id, order.payer_id, order.amount.value, order.amount.currency) == (
        "shop-1",
        "alice",
        "1250",
        "USD",
    )


def test_the_same_order_again_gets_the_first_answer(client: TestClient) -> None:
    first = signed_post(client, CREATE, order_fields())
    again = signed_post(client, CREATE, order_fields())
    assert again.json() == first.json()
    assert _order_numbers(client) == [first.json()["tradeNO"]]


def test_the_same_reference_with_other_fields_is_refused_and_changes_nothing(client: TestClient) -> None:
    first = signed_post(client, CREATE, order_fields()).json()
    other = signed_post(client, CREATE, order_fields(value="999")).json()
    assert other["result"]["resultStatus"] == "F"
    assert other["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT"
    assert "tradeNO" not in other
    assert _order_numbers(client) == [first["tradeNO"]]
    assert ledger_of(client).get_order(first["tradeNO"]).amount.value == "1250"


def test_two_merchants_may_use_the_same_reference(client: TestClient) -> None:
    one = signed_post(client, CREATE, order_fields()).json()
    two = signed_post(client, CREATE, order_fields(), merchant="shop-2").json()
    assert one["tradeNO"] != two["tradeNO"]
    assert ledger_of(client).get_order(two["tradeNO"]).merchant_id == "shop-2"


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        (b"{not json", 400, "not valid JSON"),
        (b"[1, 2]", 422, "must be a JSON object"),
        ({**order_fields(), "surprise": 1}, 422, "surprise: unknown field"),
        ({"orderAmount": {"currency": "USD", "value": "1"}, "userId": "a"}, 422, "referenceOrderId: is required"),
        ({**order_fields(), "orderAmount": {"currency": "USD", "value": 1250}}, 422, "orderAmount.value"),
        ({**order_fields(), "orderAmount": {"currency": "USD", "value": "-5"}}, 422, "orderAmount.value"),
        ({**order_fields(), "orderAmount": {"currency": "XXY", "value": "5"}}, 422, "orderAmount.currency"),
        ({**order_fields(), "userId": "4242424242424242"}, 422, "userId"),
        ({**order_fields(), "userId": ""}, 422, "userId"),
        ({**order_fields(), "paymentExpiryTime": "soon"}, 422, "paymentExpiryTime"),
        ({**order_fields(), "paymentExpiryTime": "2001-01-01T00:00:00Z"}, 422, "not in the future"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_stored(
    client: TestClient, body: Any, status: int, says: str
) -> None:
    answer = signed_post(client, CREATE, body)
    assert answer.status_code == status, answer.text
    result = answer.json()["result"]
    assert result["resultStatus"] == "F"
    assert result["resultCode"] == "PARAM_ILLEGAL"
    assert says in result["resultMessage"]
    assert "Traceback" not in answer.text
    assert _order_numbers(client) == []


def test_a_body_over_the_limit_is_413(tmp_path: Path) -> None:
    client = make_client(make_host(tmp_path), ServerSettings(max_body_bytes=200))
    answer = signed_post(client, CREATE, {**order_fields(), "orderDescription": "x" * 300})
    assert answer.status_code == 413
    assert "larger than 200 bytes" in answer.json()["result"]["resultMessage"]
    assert _order_numbers(client) == []


def test_an_order_with_an_expiry_expires(client: TestClient) -> None:
    soon = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    answer = signed_post(client, CREATE, {**order_fields(), "paymentExpiryTime": soon}).json()
    order = ledger_of(client).get_order(answer["tradeNO"])
    assert order.expires_at == pytest.approx(datetime.fromisoformat(soon).timestamp())


def _pay(client: TestClient, trade_no: str, user: str = "alice") -> str:
    service = client.app.state.tradepay.service
    result = service.pay_blocking(
        PaymentRequest(PaymentType.ORDER_ID, trade_no), APIContext("test", extended_info={"userId": user})
    )
    return str(result.result_code.value)


def test_inquiry_of_an_open_order_is_unresolved_then_paid(client: TestClient) -> None:
    trade_no = signed_post(client, CREATE, order_fields()).json()["tradeNO"]
    open_answer = signed_post(client, INQUIRY, {"tradeNO": trade_no}).json()
    assert open_answer["result"]["resultStatus"] == "U"
    assert open_answer["paymentStatus"] == "PENDING"
    assert _pay(client, trade_no) == "9000"
    paid = signed_post(client, INQUIRY, {"referenceOrderId": "order-1"}).json()
    assert paid["result"] == {"resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "the order is paid"}
    assert paid["tradeNO"] == trade_no
    assert paid["paymentStatus"] == "SUCCESS"
    assert paid["paymentAmount"] == {"currency": "USD", "value": "1250"}
    assert paid["provider"] == "reference"
    assert paid["paymentId"].startswith("pay_")
    assert datetime.fromisoformat(paid["paymentTime"]).tzinfo is not None


def test_inquiry_after_a_decline_is_still_unresolved(tmp_path: Path) -> None:
    client = make_client(make_host(tmp_path, ReferenceProvider(script=[Outcome.DECLINE])))
    trade_no = signed_post(client, CREATE, order_fields()).json()["tradeNO"]
    assert _pay(client, trade_no) == "4000"
    answer = signed_post(client, INQUIRY, {"tradeNO": trade_no}).json()
    assert answer["result"]["resultStatus"] == "U"
    assert answer["paymentStatus"] == "PENDING"
    assert "provider" not in answer


def test_a_closed_order_inquires_as_failed(client: TestClient) -> None:
    trade_no = signed_post(client, CREATE, order_fields()).json()["tradeNO"]
    ledger_of(client).close_order(trade_no)
    answer = signed_post(client, INQUIRY, {"tradeNO": trade_no}).json()
    assert answer["result"]["resultStatus"] == "F"
    assert answer["result"]["resultCode"] == "ORDER_IS_CLOSED"


def test_a_merchant_sees_only_its_own_orders(client: TestClient) -> None:
    trade_no = signed_post(client, CREATE, order_fields()).json()["tradeNO"]
    for body in ({"tradeNO": trade_no}, {"referenceOrderId": "order-1"}):
        answer = signed_post(client, INQUIRY, body, merchant="shop-2").json()
        assert answer["result"]["resultCode"] == "ORDER_NOT_EXIST"
        assert "paymentAmount" not in answer


@pytest.mark.parametrize("body", [{}, {"tradeNO": "T1", "referenceOrderId": "order-1"}])
def test_inquiry_needs_exactly_one_reference(client: TestClient, body: dict[str, str]) -> None:
    answer = signed_post(client, INQUIRY, body)
    assert answer.status_code == 422
    assert "exactly one of tradeNO and referenceOrderId" in answer.json()["result"]["resultMessage"]


def test_an_unknown_trade_number_does_not_exist(client: TestClient) -> None:
    answer = signed_post(client, INQUIRY, {"tradeNO": "T-none"}).json()
    assert answer["result"] == {
        "resultStatus": "F",
        "resultCode": "ORDER_NOT_EXIST",
        "resultMessage": "no order 'T-none' of this merchant",
    }


def test_health_and_readiness(client: TestClient) -> None:
    assert client.get("/healthz").json()["result"]["resultStatus"] == "S"
    ready = client.get("/readyz").json()
    assert ready["result"]["resultStatus"] == "S"
    assert ready["providers"] == ["reference"]


def test_the_openapi_document_lists_the_merchant_api(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"][CREATE]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert set(body["required"]) == {"referenceOrderId", "orderAmount", "userId"}
    assert body["additionalProperties"] is False
    assert INQUIRY in document["paths"]


def test_a_host_failure_is_500_without_a_traceback_and_still_signed(client: TestClient) -> None:
    trade_no = signed_post(client, CREATE, order_fields()).json()["tradeNO"]

    def broken(trade_no: str) -> None:
        raise RuntimeError("the disk is on fire")

    ledger_of(client).get_order = broken
    answer = signed_post(client, INQUIRY, {"tradeNO": trade_no})
    assert answer.status_code == 500
    assert answer.json() == {
        "result": {
            "resultStatus": "U",
            "resultCode": "UNKNOWN_EXCEPTION",
            "resultMessage": "the host failed: try again later",
        }
    }
    assert "fire" not in answer.text
    assert answer.headers["Signature"].startswith("algorithm=RSA256")


@pytest.mark.parametrize(
    ("body", "field"), [({"tradeNO": "T 1"}, "tradeNO"), ({"referenceOrderId": "订单"}, "referenceOrderId")]
)
def test_an_order_id_that_is_no_identifier_is_a_422_naming_it(
    client: TestClient, body: dict[str, str], field: str
) -> None:
    answer = signed_post(client, INQUIRY, body)
    assert answer.status_code == 422
    assert answer.json()["result"]["resultMessage"].startswith(f"{field}: ")
