"""A host process for the multi-host tests: pays the given orders through the configured chain.

Run as ``python pg_hosts_worker.py CONFIG ORDERS_JSON SEED OUT_JSON``: it builds its own host from the
configuration (its own connections), pays every order of the list in a shuffled order, and writes
``{trade_no: result_code}`` to OUT_JSON.
"""

from __future__ import annotations

import json
import random
import sys

from tradepay import APIContext, Host, PaymentRequest, PaymentService, PaymentType, configure_logging, load_config


def main(config: str, orders_file: str, seed: str, out: str) -> None:
    configure_logging(level="warning")
    with open(orders_file, encoding="utf-8") as f:
        orders = json.load(f)
    random.Random(int(seed)).shuffle(orders)
    host = Host.from_config(load_config(config), reconcile=False)
    service = PaymentService(host)
    answers: dict[str, str] = {}
    for trade_no, payer in orders:
        context = APIContext("host-test", extended_info={"userId": payer})
        result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no), context)
        answers[trade_no] = result.result_code.value
    service.close()
    host.close()
    with open(out, "w", encoding="utf-8") as f:
        json.dump(answers, f)


if __name__ == "__main__":
    main(*sys.argv[1:5])
