"""Instructions per payment, host and floor, counted by valgrind (``callgrind``): a measure that does not move
with what else the machine is doing, for ranking changes too small for this machine's timings.

``python benchmarks/instructions.py --count`` runs, for host and floor at logging levels ``warning`` (the host's
own work: events built, not rendered) and ``info`` (rendered as JSON), this file under valgrind twice: paying
``N`` payments and paying none; the difference divided by ``N`` is printed. Without ``--count`` it is the payer
valgrind runs: ``instructions.py host|floor LEVEL N``.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from secrets import token_hex

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PAYMENTS = 300


def _pay(side: str, level: str, payments: int) -> None:
    import tradepay
    from benchmarks._fixtures import CONTEXT, chain_providers, floor_payment, memory_orders, pay_functions
    from tradepay import Host, MemoryLedger, PaymentService

    tradepay.configure_logging(fmt="json", level=level, stream=open(os.devnull, "w"))  # noqa: SIM115

    def host(count: int) -> None:
        ledger = MemoryLedger()
        built = Host.from_providers(chain_providers(3, "async"), ledger=ledger)
        service = PaymentService(built)
        requests = memory_orders(ledger, count)

        async def run() -> None:
            for request in requests:
                await service.pay_async(request, CONTEXT)

        asyncio.run(run())
        built.close()

    def floor(count: int) -> None:
        ledger = MemoryLedger()
        functions = pay_functions(chain_providers(3, "async"))
        orders = [ledger.get_order(r.payment_string) for r in memory_orders(ledger, count)]

        async def run() -> None:
            for order in orders:
                assert order is not None
                await floor_payment(functions, order, f"pay_{token_hex(8)}")

        asyncio.run(run())

    payer = host if side == "host" else floor
    payer(50)  # warm-up, counted in both runs alike
    if payments:
        payer(payments)


def _instructions(side: str, level: str, payments: int) -> int:
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise SystemExit("valgrind is not installed (Debian: apt install valgrind)")
    out = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            "--callgrind-out-file=/dev/null",
            sys.executable,
            __file__,
            side,
            level,
            str(payments),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    found = re.search(r"Collected : (\d+)", out)
    if found is None:
        raise RuntimeError(f"valgrind printed no count:\n{out}")
    return int(found.group(1))


def count() -> None:
    for level in ("warning", "info"):
        per = {}
        for side in ("host", "floor"):
            per[side] = (_instructions(side, level, PAYMENTS) - _instructions(side, level, 0)) / PAYMENTS
            print(f"{side:5} {level:7} {per[side]:12,.0f} instructions per payment", flush=True)
        print(f"host / floor at {level}: {per['host'] / per['floor']:.3f}", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--count"]:
        count()
    else:
        _pay(sys.argv[1], sys.argv[2], int(sys.argv[3]))
