"""chain_instructions_per_payment and host_own_instructions_per_payment: instructions per payment, host and
floor, counted by valgrind (``callgrind``). Unlike time, the count does not move with what else the machine is
doing, so it ranks changes too small for a shared machine's timings.

Each count is one run of this file under ``valgrind --tool=callgrind --dump-before=getppid`` paying a 3-provider
chain (decline, decline, success; ``async`` providers): the payer makes its warm-up payments, calls
``os.getppid()``, makes ``N`` payments and calls it again. Every call of ``getppid`` makes callgrind write the
counts so far and start afresh, so the part between the two calls holds exactly the ``N`` payments (no
interpreter start-up, imports or warm-up to subtract); it is divided by ``N``. The start-up and the warm-up run
uninstrumented (``--instr-atstart=no``; the payer switches instrumentation on with ``callgrind_control`` before
the first marker), which makes a run about four times shorter and gives the same count. The host pays through
``PaymentService.pay_async`` on the in-memory ledger, logging through ``tradepay.configure_logging(fmt="json")``;
the floor is ``_floor.py``. ``PYTHONHASHSEED`` is fixed, so a count repeats to within the random payment ids'
effect on the redaction's scan.

* ``chain_instructions_per_payment``: the host, logging at ``info`` (every event rendered as JSON); the floor's
  count beside it.
* ``host_own_instructions_per_payment``: the host minus the floor, both logging at ``warning`` (the events are
  built and filtered out), which leaves what the host does that the floor's loop does not.

``python benchmarks/instructions.py --count [--payments N]`` prints all four counts. Without valgrind the keys
say so instead of a value.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks._harness import Figure, Sizes  # noqa: E402 - the script's own directory is not on sys.path

__all__ = ["chain_instructions", "count", "host_own_instructions", "unavailable"]

CHAIN = 3
_MARKER = "getppid"  # a C function no payment calls: os.getppid() is the marker
_SUMMARY = re.compile(r"^summary:\s+(\d+)", re.MULTILINE)


def _instrument() -> None:
    """Switch callgrind's instrumentation on in this process (it runs with ``--instr-atstart=no``)."""
    control = shutil.which("callgrind_control")
    if control is None:
        raise SystemExit("callgrind_control is not installed")
    subprocess.run([control, "--instr=on", str(os.getpid())], capture_output=True, check=True)


def _payer(side: str, level: str, warmup: int, payments: int, instrument: bool) -> None:
    """In the process under valgrind: ``warmup`` payments, instrumentation on (when asked), the marker,
    ``payments`` payments, the marker."""
    from benchmarks._fixtures import APP_ID, CONTEXT, chain_providers, memory_orders, pay_functions
    from benchmarks._floor import floor_logger, floor_orders, floor_payment
    from benchmarks._harness import null_stream
    from tradepay import Host, MemoryLedger, PaymentService, ResultCode, configure_logging

    answers: list[Any] = []
    if side == "host":
        configure_logging(fmt="json", level=level, stream=null_stream())
        ledger = MemoryLedger()
        host = Host.from_providers(chain_providers(CHAIN, "async"), ledger=ledger)
        service = PaymentService(host)
        warm, counted = memory_orders(ledger, warmup), memory_orders(ledger, payments)

        async def pay_host() -> None:
            for request in warm:
                await service.pay_async(request, CONTEXT)
            if instrument:
                _instrument()
            os.getppid()
            for request in counted:
                answers.append(await service.pay_async(request, CONTEXT))
            os.getppid()

        asyncio.run(pay_host())
        host.close()
    else:
        log = floor_logger(null_stream(), level)
        functions = pay_functions(chain_providers(CHAIN, "async"))
        warm_orders, counted_orders = floor_orders(warmup), floor_orders(payments)

        async def pay_floor() -> None:
            for order in warm_orders:
                await floor_payment(functions, order, APP_ID, log)
            if instrument:
                _instrument()
            os.getppid()
            for order in counted_orders:
                answers.append(await floor_payment(functions, order, APP_ID, log))
            os.getppid()

        asyncio.run(pay_floor())
    if len(answers) != payments or any(a.result_code is not ResultCode.SUCCESS for a in answers):
        raise SystemExit(f"the {side} did not pay every counted payment")
    # The interpreter's shutdown would run instrumented, for nothing: about a second under callgrind.
    sys.stdout.flush()
    os._exit(0)


def unavailable() -> str | None:
    """Why instructions cannot be counted here, or ``None`` when they can."""
    if shutil.which("valgrind") is None:
        return "valgrind is not installed (Debian, Ubuntu: apt-get install valgrind)"
    return None


def count(side: str, level: str, payments: int, warmup: int) -> float:
    """Instructions per payment of ``side`` (``host`` or ``floor``) logging at ``level``."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError(unavailable())
    # Without callgrind_control everything runs instrumented: slower, the same count.
    instrument = shutil.which("callgrind_control") is not None
    with tempfile.TemporaryDirectory(prefix="tradepay-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        done = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--instr-atstart={'no' if instrument else 'yes'}",
                f"--dump-before={_MARKER}",
                f"--callgrind-out-file={out}",
                sys.executable,
                __file__,
                "--payer",
                side,
                level,
                str(warmup),
                str(payments),
                "instrument" if instrument else "instrumented",
            ],
            env={**os.environ, "PYTHONHASHSEED": "0"},
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the {side} at {level} failed under valgrind ({done.returncode}):\n{done.stderr}")
        # Part 1 runs up to the first marker, part 2 from it to the second; the unnumbered file is the rest.
        parts = sorted(p.name for p in Path(tmp).iterdir())
        if parts != ["callgrind.out", "callgrind.out.1", "callgrind.out.2"]:
            raise RuntimeError(f"expected two markers, callgrind wrote {parts}")
        found = _SUMMARY.search((Path(tmp) / "callgrind.out.2").read_text(encoding="utf-8", errors="replace"))
    if found is None:
        raise RuntimeError("callgrind wrote no summary line")
    return int(found.group(1)) / payments


def _counts(pairs: Sequence[tuple[str, str]], sizes: Sizes) -> list[float]:
    """The counts of ``(side, level)`` pairs, two valgrind runs at a time (a count does not depend on load)."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = [
            pool.submit(count, side, level, sizes.instruction_payments, sizes.instruction_warmup)
            for side, level in pairs
        ]
        return [run.result() for run in runs]


def _method(sizes: Sizes) -> dict[str, Any]:
    return {
        "counted_by": f"valgrind --tool=callgrind, between two os.getppid() markers (--dump-before={_MARKER})",
        "chain": "3 async providers: decline, decline, success",
        "payments_counted": sizes.instruction_payments,
        "warmup_payments": sizes.instruction_warmup,
    }


def chain_instructions(sizes: Sizes) -> Figure:
    """The host's instructions per payment, JSON logs at info (the floor's beside it)."""
    reason = unavailable()
    if reason is not None:
        return Figure("chain_instructions_per_payment", None, {"unavailable": reason})
    host, floor = _counts([("host", "info"), ("floor", "info")], sizes)
    details = {
        **_method(sizes),
        "logging": "info, rendered as JSON to os.devnull",
        "host_instructions": round(host),
        "floor_instructions": round(floor),
        "host_over_floor": round(host / floor, 3),
    }
    return Figure("chain_instructions_per_payment", round(host), details)


def host_own_instructions(sizes: Sizes) -> Figure:
    """The host's instructions per payment minus the floor's, both logging at warning."""
    reason = unavailable()
    if reason is not None:
        return Figure("host_own_instructions_per_payment", None, {"unavailable": reason})
    host, floor = _counts([("host", "warning"), ("floor", "warning")], sizes)
    details = {
        **_method(sizes),
        "logging": "warning: the info events are built and filtered out",
        "host_instructions": round(host),
        "floor_instructions": round(floor),
    }
    return Figure("host_own_instructions_per_payment", round(host - floor), details)


def _main(argv: Sequence[str]) -> int:
    if argv[:1] == ["--payer"]:
        side, level, warmup, payments, instrument = argv[1:6]
        _payer(side, level, int(warmup), int(payments), instrument == "instrument")
        return 0
    parser = argparse.ArgumentParser(
        prog="benchmarks/instructions.py", description="Instructions per payment, host and floor."
    )
    parser.add_argument("--count", action="store_true", required=True, help="count host and floor, both levels")
    parser.add_argument("--payments", type=int, default=1000, help="payments counted per run (default 1000)")
    parser.add_argument("--warmup", type=int, default=100, help="payments made before counting (default 100)")
    args = parser.parse_args(argv)
    reason = unavailable()
    if reason is not None:
        print(reason, file=sys.stderr)
        return 1
    for level in ("warning", "info"):
        host = count("host", level, args.payments, args.warmup)
        floor = count("floor", level, args.payments, args.warmup)
        print(f"host  {level:7} {host:12,.0f} instructions per payment", flush=True)
        print(f"floor {level:7} {floor:12,.0f} instructions per payment", flush=True)
        print(f"host - floor at {level}: {host - floor:,.0f}; host / floor: {host / floor:.3f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
