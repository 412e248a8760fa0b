#!/usr/bin/env python3
"""Where a chain payment's time goes: ``python benchmarks/profile_chain.py [--side host|floor] [--payments N]
[--level info|warning]``.

Pays ``N`` payments (3,000 by default, after 100 untimed) through the 3-provider chain of
``chain_overhead_ratio`` (the host, or the floor of ``_floor.py``), JSON logs at ``info`` (or ``warning``: the
events built and filtered out, which leaves the host's own work) to ``os.devnull``, under ``cProfile``, and
prints the share of the profiled time spent in the log events and in each of their processors (found in the
logging set-up actually configured, so the figures follow whatever it is), then the functions with the most
time of their own. ``cProfile`` adds a fixed cost to every Python call, so call-heavy
code weighs more than it does unprofiled: the shares rank the work, the instruction counts
(``instructions.py``) measure it.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import pstats
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import CodeType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402 - after the path the benchmarks need

from benchmarks._fixtures import APP_ID, CONTEXT, chain_providers, memory_orders, pay_functions  # noqa: E402
from benchmarks._floor import floor_logger, floor_orders, floor_payment, floor_processors  # noqa: E402
from benchmarks._harness import null_stream  # noqa: E402

__all__ = ["profile", "report"]

_Key = tuple[str, int, str]


def _code(obj: Any) -> CodeType | None:
    """The code object a processor runs: the function itself, or its class's ``__call__``."""
    function = obj if inspect.isfunction(obj) else type(obj).__call__
    code = getattr(function, "__code__", None)
    return code if isinstance(code, CodeType) else None


def _key(code: CodeType) -> _Key:
    return (code.co_filename, code.co_firstlineno, code.co_name)


def _name(obj: Any) -> str:
    return getattr(obj, "__qualname__", None) or type(obj).__qualname__


def profile(side: str, payments: int, level: str = "info") -> tuple[pstats.Stats, list[Any]]:
    """Profile ``payments`` payments of ``side`` logging at ``level``; the statistics, and the processors of its
    log events."""
    from tradepay import Host, MemoryLedger, PaymentService, configure_logging

    profiler = cProfile.Profile()
    if side == "host":
        configure_logging(fmt="json", level=level, stream=null_stream())
        processors = list(structlog.get_config()["processors"])
        ledger = MemoryLedger()
        host = Host.from_providers(chain_providers(3, "async"), ledger=ledger)
        service = PaymentService(host)
        warm, counted = memory_orders(ledger, 100), memory_orders(ledger, payments)

        async def pay_host() -> None:
            for request in warm:
                await service.pay_async(request, CONTEXT)
            profiler.enable()
            for request in counted:
                await service.pay_async(request, CONTEXT)
            profiler.disable()

        asyncio.run(pay_host())
        host.close()
    else:
        log = floor_logger(null_stream(), level)
        processors = floor_processors()
        functions = pay_functions(chain_providers(3, "async"))
        warm_orders, counted_orders = floor_orders(100), floor_orders(payments)

        async def pay_floor() -> None:
            for order in warm_orders:
                await floor_payment(functions, order, APP_ID, log)
            profiler.enable()
            for order in counted_orders:
                await floor_payment(functions, order, APP_ID, log)
            profiler.disable()

        asyncio.run(pay_floor())
    return pstats.Stats(profiler), processors


def _cumulative(raw: dict[_Key, Any], key: _Key | None) -> tuple[float, int]:
    """(cumulative seconds, calls) of one function, (0, 0) when it never ran."""
    if key is None or key not in raw:
        return 0.0, 0
    calls, _, _, cumulative, _ = raw[key]
    return cumulative, calls


def report(stats: pstats.Stats, processors: Iterable[Any], payments: int, top: int) -> str:
    raw: dict[_Key, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in raw.values())
    lines = [f"{payments:,} payments, {total / payments * 1e6:.1f} µs per payment under cProfile", ""]
    events = _code(structlog.BoundLoggerBase._proxy_to_logger)
    seconds, calls = _cumulative(raw, _key(events) if events else None)
    if calls:
        lines.append("where the time goes (cumulative, share of the profiled time):")
        lines.append(f"  {seconds / total:6.1%}  log events rendered ({calls / payments:g} per payment)")
        for processor in processors:
            code = _code(processor)
            seconds, _ = _cumulative(raw, _key(code) if code else None)
            lines.append(f"  {seconds / total:6.1%}    {_name(processor)}")
        writer = _code(structlog.PrintLogger.msg)
        seconds, _ = _cumulative(raw, _key(writer) if writer else None)
        lines.append(f"  {seconds / total:6.1%}    PrintLogger.msg (the write)")
    else:
        lines.append("no log event rendered at this level")
    lines += ["", f"the {top} functions with the most time of their own:", "    own    cum  calls/payment  function"]
    ranked = sorted(raw.items(), key=lambda item: item[1][2], reverse=True)[:top]
    for (filename, line, function), (_, calls, own, cumulative, _) in ranked:
        where = f"{Path(filename).name}:{line}" if line else filename
        lines.append(f"  {own / total:5.1%} {cumulative / total:6.1%}  {calls / payments:13.2f}  {function} ({where})")
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks/profile_chain.py", description="Where a payment's time goes.")
    parser.add_argument("--side", choices=("host", "floor"), default="host")
    parser.add_argument("--payments", type=int, default=3000)
    parser.add_argument("--level", choices=("info", "warning"), default="info", help="the logging level")
    parser.add_argument("--top", type=int, default=25, help="how many functions to list (default 25)")
    args = parser.parse_args(argv)
    stats, processors = profile(args.side, args.payments, args.level)
    print(f"{args.side} at {args.level}: {report(stats, processors, args.payments, args.top)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
