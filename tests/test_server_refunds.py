"""The merchant API's refunds: ``POST /v1/refunds/create`` (idempotent on refundRequestId) and
``POST /v1/refunds/inquiry``, on RefundService: bad input, ownership, the provider's answers, concurrency."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tradepay.server import sign_request, verify_response
from tradepay.server.signing import load_host_key
from tradepay.testing import ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
    from tests.test_server_operations import serving, tradepay, write_config
else:
    import server_kit as kit
    from test_server_operations import serving, tradepay, write_config

TestClient = kit.TestClient

REFUND = "/v1/refunds/create"
INQUIRY = "/v1/refunds/inquiry"


@pytest.fixture
def provider() -> ReferenceProvider:
    return ReferenceProvider()


@pytest.fixture(params=["memory", "sqlite"])
def client(request: pytest.FixtureRequest, tmp_path: Path, provider: ReferenceProvider) -> TestClient:
    return kit.client_on(request.param, tmp_path, provider)


def paid_order(client: TestClient, reference: str = "order-1", value: str = "1250", merchant: str = "shop-1") -> str:
    """A new order of ``merchant``, paid by alice through the client API: its trade number."""
    created = kit.signed_post(client, "/v1/orders/create", kit.order_fields(reference, value), merchant=merchant)
    trade_no = str(created.json()["tradeNO"])
    paid = client.post("/v1/client/pay", json=kit.pay_body(trade_no), headers=kit.bearer("alice"))
    assert paid.json()["resultCode"] == "9000", paid.text
    return trade_no


def refund_fields(trade_no: str, value: str = "300", request_id: str = "refund-1") -> dict[str, Any]:
    return {"tradeNO": trade_no, "refundRequestId": request_id, "refundAmount": {"currency": "USD", "value": value}}


def refund(client: TestClient, body: dict[str, Any], merchant: str = "shop-1") -> httpx.Response:
    return kit.signed_post(client, REFUND, body, merchant=merchant)


def recorded(client: TestClient) -> list[Any]:
    return list(client.app.state.tradepay.host.ledger.refunds(limit=1000))


def test_a_refund_goes_back_and_its_answer_is_signed(client: TestClient, provider: ReferenceProvider) -> None:
    trade_no = paid_order(client)
    answer = refund(client, refund_fields(trade_no))
    assert answer.status_code == 200, answer.text
    data = answer.json()
    assert data["result"] == {"resultStatus": "S", "resultCode": "SUCCESS", "resultMessage": "refunded USD 3.00"}
    assert (data["tradeNO"], data["refundRequestId"], data["refundStatus"]) == (trade_no, "refund-1", "SUCCESS")
    assert data["refundAmount"] == {"currency": "USD", "value": "300"}
    assert data["provider"] == "reference"
    assert data["refundTime"].endswith("Z")
    [stored] = recorded(client)
    assert (stored.refund_id, stored.status.value) == (data["refundId"], "succeeded")
    assert provider.refund_desk.refunded() == 300
    host_key = kit.rsa_key("host").public_key()
    assert verify_response(host_key, "POST", REFUND, answer.headers, answer.content)


def test_the_same_request_again_gets_the_first_answer_and_moves_no_money(
    client: TestClient, provider: ReferenceProvider
) -> None:
    trade_no = paid_order(client)
    first = refund(client, {**refund_fields(trade_no), "refundReason": "damaged"}).json()
    again = refund(client, {**refund_fields(trade_no), "refundReason": "damaged"}).json()
    assert again == first
    assert len(recorded(client)) == 1
    assert provider.refund_desk.refunded() == 300


@pytest.mark.parametrize(
    "change",
    [
        {"refundAmount": {"currency": "USD", "value": "301"}},
        {"refundReason": "another reason"},
    ],
)
def test_the_same_request_id_with_other_fields_is_refused_and_changes_nothing(
    client: TestClient, provider: ReferenceProvider, change: dict[str, Any]
) -> None:
    trade_no = paid_order(client)
    first = refund(client, refund_fields(trade_no)).json()
    other = refund(client, {**refund_fields(trade_no), **change}).json()
    assert other["result"]["resultStatus"] == "F"
    assert other["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT"
    assert "refundId" not in other
    assert [r.refund_id for r in recorded(client)] == [first["refundId"]]
    assert provider.refund_desk.refunded() == 300


def test_the_same_request_id_for_another_order_is_refused(client: TestClient, provider: ReferenceProvider) -> None:
    one, two = paid_order(client, "order-1"), paid_order(client, "order-2")
    refund(client, refund_fields(one))
    other = refund(client, refund_fields(two)).json()
    assert other["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT"
    assert [r.trade_no for r in recorded(client)] == [one]
    assert provider.refund_desk.refunded() == 300


def test_a_refund_by_the_merchants_order_id(client: TestClient) -> None:
    trade_no = paid_order(client, "order-9")
    body = {"referenceOrderId": "order-9", "refundRequestId": "r-9", "refundAmount": {"currency": "USD", "value": "1"}}
    data = refund(client, body).json()
    assert data["result"]["resultStatus"] == "S"
    assert data["tradeNO"] == trade_no


def test_refunds_in_parts_up_to_the_paid_amount_and_not_a_cent_more(
    client: TestClient, provider: ReferenceProvider
) -> None:
    trade_no = paid_order(client)
    assert refund(client, refund_fields(trade_no, "1000", "r-1")).json()["result"]["resultStatus"] == "S"
    over = refund(client, refund_fields(trade_no, "251", "r-2")).json()
    assert over["result"]["resultStatus"] == "F"
    assert over["result"]["resultCode"] == "REFUND_AMOUNT_EXCEED"
    assert "USD 2.50" in over["result"]["resultMessage"]
    assert refund(client, refund_fields(trade_no, "250", "r-3")).json()["result"]["resultStatus"] == "S"
    assert provider.refund_desk.refunded() == 1250
    assert len(recorded(client)) == 2


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("1251", "REFUND_AMOUNT_EXCEED"),
        ("999999999999999999", "REFUND_AMOUNT_EXCEED"),  # huge, yet a valid amount: more than was paid
    ],
)
def test_more_than_was_paid_is_refused_and_records_nothing(
    client: TestClient, provider: ReferenceProvider, value: str, says: str
) -> None:
    trade_no = paid_order(client)
    data = refund(client, refund_fields(trade_no, value)).json()
    assert (data["result"]["resultStatus"], data["result"]["resultCode"]) == ("F", says)
    assert recorded(client) == []
    assert provider.refund_desk.refunded() == 0


def _amount(value: Any, currency: Any = "USD") -> dict[str, Any]:
    return {"refundAmount": {"currency": currency, "value": value}}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_amount("-1"), "refundAmount.value"),
        (_amount("0"), "refundAmount.value"),
        (_amount("1.5"), "refundAmount.value"),
        (_amount("١٢"), "refundAmount.value"),  # Arabic-Indic digits: not a natural number of the minor unit
        (_amount("9" * 30), "refundAmount.value"),  # more digits than any amount has
        (_amount("9" * 41), "refundAmount.value"),  # longer than the schema allows
        (_amount(300), "refundAmount.value"),  # a number, not a string
        (_amount("300", "EUR"), "refundAmount.currency"),  # not the order's currency
        (_amount("300", "usd"), "refundAmount.currency"),
        (_amount("300", "XXXX"), "refundAmount.currency"),
        ({"refundAmount": None}, "refundAmount"),
        ({"refundRequestId": ""}, "refundRequestId"),
        ({"refundRequestId": "退款-1"}, "refundRequestId"),
        ({"refundRequestId": "4111 1111 1111 1111"}, "refundRequestId"),
        ({"refundRequestId": "r" * 65}, "refundRequestId"),
        ({"refundReason": ""}, "refundReason"),
        ({"refundReason": "r\x00"}, "refundReason"),
        ({"refundReason": "r" * 257}, "refundReason"),
        ({"tradeNO": "T\u202e1"}, "tradeNO"),
        ({"referenceOrderId": "order-1"}, "tradeNO"),  # both: exactly one of them
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
    client: TestClient, provider: ReferenceProvider, change: dict[str, Any], field: str
) -> None:
    trade_no = paid_order(client)
    answer = refund(client, {**refund_fields(trade_no), **change})
    assert answer.status_code == 422, answer.text
    result = answer.json()["result"]
    assert result["resultCode"] == "PARAM_ILLEGAL"
    assert result["resultMessage"].startswith(f"{field}:"), result["resultMessage"]
    assert recorded(client) == []
    assert provider.refund_desk.refunded() == 0


def test_a_body_that_is_not_json_is_a_400(client: TestClient) -> None:
    answer = refund(client, b'{"tradeNO": ')  # type: ignore[arg-type]
    assert answer.status_code == 400
    assert recorded(client) == []


def test_a_unicode_reason_is_kept(client: TestClient) -> None:
    trade_no = paid_order(client)
    data = refund(client, {**refund_fields(trade_no), "refundReason": "破损 — arrived broken ✓"}).json()
    assert data["result"]["resultStatus"] == "S"
    assert [r.reason for r in recorded(client)] == ["破损 — arrived broken ✓"]


def test_a_merchant_refunds_only_its_own_orders(client: TestClient, provider: ReferenceProvider) -> None:
    trade_no = paid_order(client)
    by_trade_no = refund(client, refund_fields(trade_no), merchant="shop-2").json()
    assert by_trade_no["result"]["resultCode"] == "ORDER_NOT_EXIST"
    by_reference = {"referenceOrderId": "order-1", "refundRequestId": "r-1", **_amount("300")}
    assert refund(client, by_reference, merchant="shop-2").json()["result"]["resultCode"] == "ORDER_NOT_EXIST"
    assert recorded(client) == []
    assert provider.refund_desk.refunded() == 0
    refund(client, refund_fields(trade_no))  # its own merchant's refund: another merchant cannot read it either
    seen = kit.signed_post(client, INQUIRY, {"tradeNO": trade_no, "refundRequestId": "refund-1"}, merchant="shop-2")
    assert seen.json()["result"]["resultCode"] == "ORDER_NOT_EXIST"
    assert "refundId" not in seen.json()


def test_an_unpaid_order_has_nothing_to_refund(client: TestClient) -> None:
    created = kit.signed_post(client, "/v1/orders/create", kit.order_fields()).json()
    data = refund(client, refund_fields(created["tradeNO"])).json()
    assert (data["result"]["resultStatus"], data["result"]["resultCode"]) == ("F", "ORDER_NOT_PAID")
    assert recorded(client) == []


def test_an_unknown_order_does_not_exist(client: TestClient) -> None:
    data = refund(client, refund_fields("T-none")).json()
    assert data["result"]["resultCode"] == "ORDER_NOT_EXIST"


def test_an_unsigned_refund_is_refused_and_stores_nothing(client: TestClient) -> None:
    trade_no = paid_order(client)
    answer = client.post(REFUND, json=refund_fields(trade_no))
    assert answer.status_code == 401
    assert recorded(client) == []


def test_a_provider_that_declines_the_refund_answers_f_and_the_amount_is_free_again(tmp_path: Path) -> None:
    provider = ReferenceProvider(refund_script=["decline", "truth"])
    client = kit.make_client(kit.make_host(tmp_path, provider))
    trade_no = paid_order(client)
    declined = refund(client, refund_fields(trade_no, "1250", "r-1")).json()
    assert declined["result"]["resultStatus"] == "F"
    assert declined["refundStatus"] == "FAIL"
    assert "refundTime" not in declined
    assert refund(client, refund_fields(trade_no, "1250", "r-2")).json()["result"]["resultStatus"] == "S"
    assert provider.refund_desk.refunded() == 1250


def test_an_unknown_outcome_is_u_and_holds_its_amount(tmp_path: Path) -> None:
    provider = ReferenceProvider(refund_script=["exception"], refund_inquiry="unknown")
    client = kit.make_client(kit.make_host(tmp_path, provider))
    trade_no = paid_order(client)
    unknown = refund(client, refund_fields(trade_no, "1000")).json()
    assert unknown["result"] == {
        "resultStatus": "U",
        "resultCode": "REFUND_IN_PROCESS",
        "resultMessage": "the refund's outcome is not known yet; reconciliation settles it",
    }
    assert unknown["refundStatus"] == "PROCESSING"
    over = refund(client, refund_fields(trade_no, "251", "r-2")).json()
    assert over["result"]["resultCode"] == "REFUND_AMOUNT_EXCEED"  # the unknown refund's amount is held
    inquiry = kit.signed_post(client, INQUIRY, {"tradeNO": trade_no, "refundRequestId": "refund-1"}).json()
    assert inquiry["result"]["resultStatus"] == "U"
    assert inquiry["refundId"] == unknown["refundId"]


def test_inquiry_answers_the_refund_as_it_is(client: TestClient) -> None:
    trade_no = paid_order(client)
    created = refund(client, refund_fields(trade_no)).json()
    for name in ({"tradeNO": trade_no}, {"referenceOrderId": "order-1"}):
        answer = kit.signed_post(client, INQUIRY, {**name, "refundRequestId": "refund-1"})
        assert answer.status_code == 200
        data = answer.json()
        assert data["result"]["resultStatus"] == "S"
        assert (data["refundId"], data["refundStatus"], data["refundAmount"]) == (
            created["refundId"],
            "SUCCESS",
            {"currency": "USD", "value": "300"},
        )


def test_inquiry_of_a_request_id_the_order_has_not_is_refund_not_found(client: TestClient) -> None:
    one, two = paid_order(client, "order-1"), paid_order(client, "order-2")
    refund(client, refund_fields(one))
    for trade_no, request_id in ((one, "refund-2"), (two, "refund-1")):
        data = kit.signed_post(client, INQUIRY, {"tradeNO": trade_no, "refundRequestId": request_id}).json()
        assert (data["result"]["resultStatus"], data["result"]["resultCode"]) == ("F", "REFUND_NOT_FOUND")
        assert "refundId" not in data


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"refundRequestId": "r-1"}, "tradeNO"),
        ({"tradeNO": "T1"}, "refundRequestId"),
        ({"tradeNO": "T1", "refundRequestId": "退款"}, "refundRequestId"),
        ({"tradeNO": "T1", "referenceOrderId": "o-1", "refundRequestId": "r-1"}, "tradeNO"),
    ],
)
def test_inquiry_refuses_bad_input_naming_the_field(client: TestClient, body: dict[str, Any], field: str) -> None:
    answer = kit.signed_post(client, INQUIRY, body)
    assert answer.status_code == 422
    assert answer.json()["result"]["resultMessage"].startswith(f"{field}:")


def test_twenty_concurrent_refunds_of_thirty_percent_refund_at_most_the_paid_amount(
    client: TestClient, provider: ReferenceProvider
) -> None:
    trade_no = paid_order(client, value="1000")
    bodies = [kit.body_of(refund_fields(trade_no, "300", f"r-{number}")) for number in range(20)]

    async def send_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=client.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            return await asyncio.gather(
                *(
                    http.post(
                        REFUND,
                        content=body,
                        headers=sign_request(kit.rsa_key("shop-1"), "POST", REFUND, "shop-1", body),
                    )
                    for body in bodies
                )
            )

    answers = [answer.json()["result"] for answer in asyncio.run(send_all())]
    codes = sorted(result["resultCode"] for result in answers)
    assert codes == ["REFUND_AMOUNT_EXCEED"] * 17 + ["SUCCESS"] * 3
    assert provider.refund_desk.refunded() == 900
    assert sorted(r.status.value for r in recorded(client)) == ["succeeded"] * 3


def test_metrics_count_refunds_by_status(tmp_path: Path) -> None:
    client = kit.make_client(kit.make_host(tmp_path, ReferenceProvider(refund_script=["truth", "decline"])))
    trade_no = paid_order(client)
    refund(client, refund_fields(trade_no, "100", "r-1"))
    refund(client, refund_fields(trade_no, "100", "r-2"))
    text = client.get("/metrics").text
    assert 'tradepay_refunds_total{status="succeeded"} 1.0' in text
    assert 'tradepay_refunds_total{status="failed"} 1.0' in text


def test_tradepay_serve_closes_and_refunds_over_a_socket(tmp_path: Path) -> None:
    port = kit.free_port()
    config = write_config(tmp_path, port)
    url = f"http://127.0.0.1:{port}"
    with serving(config, port):
        token = tradepay(config, "tokens", "issue", "alice", "--ttl", "600").strip()
        paid, unpaid = (kit.http_post(url, "/v1/orders/create", kit.order_fields(f"order-{n}")).json() for n in (1, 2))
        answer = httpx.post(
            f"{url}/v1/client/pay", json=kit.pay_body(paid["tradeNO"]), headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.json()["resultCode"] == "9000", answer.text
        first = kit.http_post(url, REFUND, refund_fields(paid["tradeNO"], "500"))
        host_key = load_host_key(tmp_path / "state").public_key()  # made by the server when it started
        assert verify_response(host_key, "POST", REFUND, first.headers, first.content)
        assert first.json()["result"]["resultStatus"] == "S", first.text
        assert kit.http_post(url, REFUND, refund_fields(paid["tradeNO"], "500")).json() == first.json()
        other = kit.http_post(url, REFUND, refund_fields(paid["tradeNO"], "600")).json()
        assert other["result"]["resultCode"] == "REPEAT_REQ_INCONSISTENT"
        over = kit.http_post(url, REFUND, refund_fields(paid["tradeNO"], "751", "refund-2")).json()
        assert over["result"]["resultCode"] == "REFUND_AMOUNT_EXCEED"
        inquiry = kit.http_post(url, INQUIRY, {"referenceOrderId": "order-1", "refundRequestId": "refund-1"}).json()
        assert (inquiry["result"]["resultStatus"], inquiry["refundId"]) == ("S", first.json()["refundId"])
        bad = kit.http_post(
            url, REFUND, {**refund_fields(paid["tradeNO"]), "refundAmount": {"currency": "USD", "value": "-5"}}
        )
        assert bad.status_code == 422
        assert (
            kit.http_post(url, "/v1/orders/close", {"tradeNO": unpaid["tradeNO"]}).json()["result"]["resultStatus"]
            == "S"
        )
        refused = httpx.post(
            f"{url}/v1/client/pay", json=kit.pay_body(unpaid["tradeNO"]), headers={"Authorization": f"Bearer {token}"}
        )
        assert refused.json()["resultCode"] == "4000"
        closing_paid = kit.http_post(url, "/v1/orders/close", {"tradeNO": paid["tradeNO"]}).json()
        assert closing_paid["result"]["resultCode"] == "ORDER_IS_PAID"
        metrics = httpx.get(f"{url}/metrics").text
        assert 'tradepay_refunds_total{status="succeeded"} 1.0' in metrics
    listed = tradepay(config, "refunds", "list", "--json")
    assert first.json()["refundId"] in listed
