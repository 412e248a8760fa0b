"""The cashier page, in process: the order shown, the form, and each outcome (no JavaScript involved)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tradepay import PaymentResult, ResultCode
from tradepay.server.cashier import outcome_of
from tradepay.testing import Outcome, ReferenceProvider

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit

TestClient = kit.TestClient


def cashier(script: list[Outcome] | None = None, *, tmp_path: Path) -> tuple[TestClient, ReferenceProvider, str]:
    provider = ReferenceProvider(script=script or [])
    client = kit.make_client(kit.make_host(tmp_path, provider))
    url = kit.signed_post(client, "/v1/orders/create", kit.order_fields()).json()["paymentUrl"]
    return client, provider, url.removeprefix("http://testserver")


def token(user: str = "alice") -> str:
    return kit.bearer(user)["Authorization"].removeprefix("Bearer ")


def test_the_page_shows_merchant_amount_and_currency_and_a_form(tmp_path: Path) -> None:
    client, _provider, path = cashier(tmp_path=tmp_path)
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert '<html lang="en">' in html
    assert '<dd id="merchant">shop-1</dd>' in html
    assert '<dd id="amount" class="amount">USD 12.50</dd>' in html
    assert '<dd id="currency">USD</dd>' in html
    assert '<label for="token">' in html
    assert 'id="token"' in html
    assert 'name="action" value="pay"' in html
    assert 'name="action" value="cancel"' in html


def pay(client: TestClient, path: str, action: str = "pay", **fields: str) -> tuple[int, str]:
    trade_no = path.partition("tradeNO=")[2]
    form = {"tradeNO": trade_no, "action": action, **fields}
    answer = client.post(path.partition("?")[0], data=form)
    return answer.status_code, answer.text


def test_paying_with_the_form_charges_once_and_says_so(tmp_path: Path) -> None:
    client, provider, path = cashier(tmp_path=tmp_path)
    status, html = pay(client, path, token=token())
    assert status == 200
    assert 'class="outcome success"' in html
    assert "Payment successful" in html
    assert provider.charged == 1250
    # The order is paid: the page says so and offers no form; paying again charges nothing.
    again = client.get(path).text
    assert "already paid" in again
    assert "<form" not in again
    assert pay(client, path, token=token())[0] == 409
    assert provider.charged == 1250


def test_a_decline_shows_the_reason(tmp_path: Path) -> None:
    client, provider, path = cashier([Outcome.INSUFFICIENT], tmp_path=tmp_path)
    status, html = pay(client, path, token=token())
    assert status == 200
    assert 'class="outcome declined"' in html
    assert "USER_BALANCE_NOT_ENOUGH" in html
    assert 'id="again"' in html
    assert provider.charged == 0


def test_cancel_charges_nothing(tmp_path: Path) -> None:
    client, provider, path = cashier(tmp_path=tmp_path)
    status, html = pay(client, path, action="cancel")
    assert status == 200
    assert 'class="outcome cancelled"' in html
    assert provider.charged == 0
    assert client.app.state.tradepay.host.ledger.payments(limit=10) == []


def test_a_provider_cancel_and_an_unresolved_answer_show_as_such(tmp_path: Path) -> None:
    client, _provider, path = cashier([Outcome.USER_CANCEL], tmp_path=tmp_path)
    assert 'class="outcome cancelled"' in pay(client, path, token=token())[1]
    for code in (ResultCode.PROCESSING, ResultCode.UNKNOWN, ResultCode.NETWORK_ERROR):
        assert outcome_of(PaymentResult(code)).kind == "pending"
    assert outcome_of(PaymentResult(ResultCode.FAILED, "declined", None, {"reason": "RISK_REJECT"})).message.endswith(
        "Reason: RISK_REJECT."
    )


@pytest.mark.parametrize("typed", ["", "not-a-token"])
def test_paying_without_a_valid_token_asks_to_sign_in_and_charges_nothing(tmp_path: Path, typed: str) -> None:
    client, provider, path = cashier(tmp_path=tmp_path)
    status, html = pay(client, path, token=typed)
    assert status == 401
    assert "Sign in to pay" in html
    assert 'role="alert"' in html
    assert provider.charged == 0


def test_another_user_cannot_pay(tmp_path: Path) -> None:
    client, provider, path = cashier(tmp_path=tmp_path)
    html = pay(client, path, token=token("bob"))[1]
    assert 'class="outcome declined"' in html
    assert "not the payer" in html
    assert provider.charged == 0


def test_an_unknown_order_is_404(tmp_path: Path) -> None:
    client, _provider, path = cashier(tmp_path=tmp_path)
    page = client.get(path.partition("?")[0] + "?tradeNO=T-none")
    assert page.status_code == 404
    assert "no such order" in page.text


def test_text_is_escaped(tmp_path: Path) -> None:
    client, _provider, path = cashier(tmp_path=tmp_path)
    page = client.get(path.partition("?")[0] + "?tradeNO=<script>")
    assert "<script>" not in page.text


def test_the_typed_token_is_kept_in_a_strict_http_only_cookie(tmp_path: Path) -> None:
    client, _provider, path = cashier(tmp_path=tmp_path)
    trade_no, typed = path.partition("tradeNO=")[2], token()
    answer = client.post(path.partition("?")[0], data={"tradeNO": trade_no, "action": "pay", "token": typed})
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"tradepay_token={typed};")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain http here; behind TLS it is Secure
