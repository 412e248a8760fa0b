"""The client API: ``POST /v1/client/pay`` as the signed-in user, with PaymentService's semantics."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tradepay import Host, HostSettings, MemoryLedger, hookimpl
from tradepay.server.tokens import issue_token, token_user
from tradepay.testing import Outcome, ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

TestClient = kit.TestClient

PAY = "/v1/client/pay"
REQUEST = {"type": "ORDER_ID", "paymentString": "T1"}


def order(client: TestClient, payer: str = "alice", reference: str = "order-1") -> str:
    answer = kit.signed_post(client, "/v1/orders/create", kit.order_fields(reference, payer=payer)).json()
    return str(answer["tradeNO"])


def payments(client: TestClient) -> list[Any]:
    return list(client.app.state.tradepay.host.ledger.payments(limit=100))


@pytest.fixture
def provider() -> ReferenceProvider:
    return ReferenceProvider()


@pytest.fixture
def client(tmp_path: Path, provider: ReferenceProvider) -> TestClient:
    return kit.make_client(kit.make_host(tmp_path, provider))


def test_the_signed_in_payer_pays_and_gets_the_payment_result(client: TestClient, provider: ReferenceProvider) -> None:
    trade_no = order(client)
    answer = client.post(PAY, json=kit.pay_body(trade_no), headers=kit.bearer("alice"))
    assert answer.status_code == 200, answer.text
    result = answer.json()
    assert result["resultCode"] == "9000"
    assert result["hasError"] is False
    assert result["extendedInfo"]["provider"] == "reference"
    assert provider.charged == 1250


def test_a_repeat_is_answered_from_the_ledger_and_charges_once(client: TestClient, provider: ReferenceProvider) -> None:
    trade_no = order(client)
    first = client.post(PAY, json=kit.pay_body(trade_no), headers=kit.bearer("alice")).json()
    again = client.post(PAY, json=kit.pay_body(trade_no), headers=kit.bearer("alice")).json()
    assert again["resultCode"] == first["resultCode"] == "9000"
    assert again["extendedInfo"]["paymentId"] == first["extendedInfo"]["paymentId"]
    assert provider.charged == 1250
    assert len(payments(client)) == 1


def test_the_cashier_url_and_the_order_string_name_the_order_too(client: TestClient) -> None:
    trade_no = order(client)
    body = kit.pay_body(trade_no)
    body["paymentRequest"] = {"type": "CASHIER_URL", "paymentString": f"{kit.CASHIER}?tradeNO={trade_no}"}
    assert client.post(PAY, json=body, headers=kit.bearer("alice")).json()["resultCode"] == "9000"


def test_a_decline_is_answered_with_its_reason(tmp_path: Path) -> None:
    client = kit.make_client(kit.make_host(tmp_path, ReferenceProvider(script=[Outcome.INSUFFICIENT])))
    result = client.post(PAY, json=kit.pay_body(order(client)), headers=kit.bearer("alice")).json()
    assert result["resultCode"] == "4000"
    assert result["hasError"] is True
    assert result["extendedInfo"]["reason"] == "USER_BALANCE_NOT_ENOUGH"


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer nonsense"},
        {"Authorization": "Basic YWxpY2U6cHc="},
    ],
)
def test_without_a_valid_token_the_request_is_refused_and_nothing_is_stored(
    client: TestClient, provider: ReferenceProvider, headers: dict[str, str]
) -> None:
    answer = client.post(PAY, json=kit.pay_body(order(client)), headers=headers)
    assert answer.status_code == 401
    assert answer.json()["result"]["resultCode"] == "UNAUTHORIZED"
    assert "tradepay tokens issue" in answer.json()["result"]["resultMessage"]
    assert payments(client) == []
    assert provider.charged == 0


def test_an_expired_token_or_one_signed_by_another_key_is_refused(client: TestClient) -> None:
    trade_no = order(client)
    expired = issue_token(kit.rsa_key("host"), "alice", 10, now=1_000_000.0)
    for headers in ({"Authorization": f"Bearer {expired}"}, kit.bearer("alice", key="shop-1")):
        assert client.post(PAY, json=kit.pay_body(trade_no), headers=headers).status_code == 401
    assert payments(client) == []


def test_a_token_names_its_user_and_no_other() -> None:
    token = issue_token(kit.rsa_key("host"), "alice", 60, now=1000.0)
    public = kit.rsa_key("host").public_key()
    assert token_user(public, token, 1001.0) == "alice"
    assert token_user(public, token, 1061.0) is None  # expired
    head, _payload, signature = token.split(".")
    forged = issue_token(kit.rsa_key("host"), "mallory", 60, now=1000.0).split(".")[1]
    assert token_user(public, f"{head}.{forged}.{signature}", 1001.0) is None


def test_another_user_cannot_pay_the_order(client: TestClient, provider: ReferenceProvider) -> None:
    result = client.post(PAY, json=kit.pay_body(order(client)), headers=kit.bearer("bob")).json()
    assert result["resultCode"] == "4000"
    assert "not the payer" in result["resultMessage"]
    assert provider.charged == 0


def test_a_body_naming_another_user_is_refused_403(client: TestClient, provider: ReferenceProvider) -> None:
    body = kit.pay_body(order(client), extendedInfo={"userId": "bob"})
    answer = client.post(PAY, json=body, headers=kit.bearer("alice"))
    assert answer.status_code == 403
    assert "apiContext.extendedInfo.userId" in answer.json()["result"]["resultMessage"]
    assert payments(client) == []


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"paymentRequest": {"type": "BOGUS", "paymentString": "T1"}}, "paymentRequest.type"),
        ({"paymentRequest": {"type": "ORDER_ID", "paymentString": ""}}, "paymentRequest.paymentString"),
        (
            {
                "paymentRequest": {
                    "type": "ORDER_ID",
                    "paymentString": "T1",
                    "paymentAmount": {"currency": "USD", "value": "x"},
                }
            },
            "paymentRequest.paymentAmount.value",
        ),
        ({"paymentRequest": {"type": "ORDER_ID"}}, "paymentRequest.paymentString: is required"),
        ({"apiContext": {"source": "x", "extra": 1}}, "apiContext.extra: unknown field"),
        ({"apiContext": {"source": 5}}, "apiContext.source"),
    ],
)
def test_bad_input_names_the_sdk_field(client: TestClient, change: dict[str, Any], says: str) -> None:
    body = {**kit.pay_body("T1"), **change}
    answer = client.post(PAY, json=body, headers=kit.bearer("alice"))
    assert answer.status_code == 422, answer.text
    assert says in answer.json()["result"]["resultMessage"]
    assert payments(client) == []


class Sessions:
    """The super app's own session check, in front of the built-in tokens."""

    def __init__(self, users: Mapping[str, str]) -> None:
        self.users = users

    @hookimpl
    def authenticate(self, authorization: str | None, headers: Mapping[str, str]) -> str | None:
        scheme, _, session = (authorization or "").partition(" ")
        return self.users.get(session) if scheme == "Session" else None


def test_an_authenticate_plugin_names_the_user(tmp_path: Path, provider: ReferenceProvider) -> None:
    host = Host.from_providers(
        {"reference": provider},
        host=HostSettings(data_dir=tmp_path, cashier_url=kit.CASHIER),
        ledger=MemoryLedger(cashier_url=kit.CASHIER),
        plugins={"sessions": Sessions({"s-1": "alice"})},
    )
    client = kit.make_client(host)
    trade_no = order(client)
    assert client.post(PAY, json=kit.pay_body(trade_no), headers={"Authorization": "Session s-2"}).status_code == 401
    answer = client.post(PAY, json=kit.pay_body(trade_no), headers={"Authorization": "Session s-1"})
    assert answer.json()["resultCode"] == "9000"
    # The built-in tokens still work beside it.
    other = order(client, reference="order-2")
    assert client.post(PAY, json=kit.pay_body(other), headers=kit.bearer("alice")).json()["resultCode"] == "9000"
