"""schemathesis over the server's generated OpenAPI document: property-based requests to every operation of a
live server (on 127.0.0.1), the merchant API's signature and the client API's token applied to each request
as it is sent; no 5xx, and every answer conforms to the document (status, content type, schema)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402 - after the skip above
from requests.auth import AuthBase  # noqa: E402 - schemathesis's client
from schemathesis.checks import positive_data_acceptance  # noqa: E402

from tradepay import Host, HostSettings, MemoryLedger  # noqa: E402
from tradepay.server import sign_request  # noqa: E402
from tradepay.testing import ReferenceProvider  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))  # pytest's importlib mode: the kit by its plain name
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import server_kit as kit
else:
    import server_kit as kit


class Signed(AuthBase):
    """Sign each request as it is sent: the merchant API as ``shop-1``, the client API as alice's token."""

    def __call__(self, request: Any) -> Any:
        parts = urlsplit(request.url)
        uri = parts.path + (f"?{parts.query}" if parts.query else "")
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        if parts.path.startswith("/v1/client/"):
            request.headers.update(kit.bearer("alice"))
        elif parts.path.startswith("/v1/"):
            request.headers.update(sign_request(kit.rsa_key("shop-1"), request.method, uri, "shop-1", body))
        return request


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = kit.free_port()
    cashier = f"http://127.0.0.1:{port}/cashier"
    host = Host.from_providers(
        {"reference": ReferenceProvider()},
        host=HostSettings(data_dir=tmp_path_factory.mktemp("server"), cashier_url=cashier),
        ledger=MemoryLedger(cashier_url=cashier),
    )
    with kit.LiveServer(kit.make_app(host), port) as server:
        yield server.url


@pytest.fixture(scope="module")
def api_schema(live: str) -> Any:
    return schemathesis.openapi.from_url(f"{live}/openapi.json")


def test_every_operation_conforms_to_the_document(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
        "POST /v1/orders/create",
        "POST /v1/payments/inquiry",
        "POST /v1/orders/close",
        "POST /v1/refunds/create",
        "POST /v1/refunds/inquiry",
        "POST /v1/client/pay",
        "GET /healthz",
    }
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def conforms(case: Any) -> None:
            # Data the schema allows may still be refused by the domain (an unknown currency, a past expiry):
            # a 422 naming the field is the right answer there, so that check is left out.
            case.call_and_validate(auth=Signed(), excluded_checks=[positive_data_acceptance])

        conforms()
