"""The web stack is the server's alone: ``import tradepay``, a host and ``tradepay providers`` never load it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

WEB_STACK = ("fastapi", "starlette", "uvicorn", "pydantic", "cryptography", "jinja2", "prometheus_client", "httpx")

PROGRAMS = {
    "import tradepay": "import tradepay",
    "a host and a payment": (
        "import tradepay\n"
        "from tradepay.testing import ReferenceProvider, build_service, sample_context\n"
        "from tradepay import PaymentAmount, PaymentRequest, PaymentType\n"
        "with build_service({'reference': ReferenceProvider()}) as service:\n"
        "    order = service.host.ledger.create_order(PaymentAmount('USD', '100'), merchant_id='m', payer_id='u')\n"
        "    service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context('u'))\n"
    ),
    "tradepay providers": (
        "from tradepay._cli.main import cli\n"
        "try:\n"
        "    cli(['providers'], prog_name='tradepay')\n"
        "except SystemExit as exc:\n"
        "    assert exc.code in (0, None), exc.code\n"
    ),
}


@pytest.mark.parametrize("name", sorted(PROGRAMS))
def test_the_web_stack_is_not_imported(name: str) -> None:
    report = (
        f"\nimport sys, json\nprint(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in {WEB_STACK!r})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", PROGRAMS[name] + report], capture_output=True, text=True, timeout=120, check=True
    )
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert loaded == [], f"{name} imported {loaded}"


def test_the_server_does_import_it() -> None:
    """The check above can fail: the server's own import loads the stack."""
    program = "import sys, tradepay.server\nprint('fastapi' in sys.modules, 'cryptography' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120, check=True)
    assert done.stdout.split() == ["True", "True"]
