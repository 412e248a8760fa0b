"""The command line of ``benchmarks/run.py``: pick the sizes, run each benchmark, print a table or JSON."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._harness import FULL, QUICK, SMOKE, TARGETS, Figure, Sizes, configure_null_logging, machine

__all__ = ["main"]

KEYS = tuple(TARGETS)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/run.py",
        description="Measure the tradepay host against hand-written baselines, side by side, in one run.",
    )
    size = parser.add_mutually_exclusive_group()
    size.add_argument(
        "--full", action="store_true", help="the full run: bigger sizes, more runs, and the growth tables"
    )
    size.add_argument("--smoke", action="store_true", help="tiny sizes: only checks that the machinery works")
    parser.add_argument("--json", action="store_true", help="print one JSON object (every key) instead of a table")
    parser.add_argument("--axes", action="store_true", help="also measure the growth tables (always on with --full)")
    parser.add_argument("--only", metavar="KEY", action="append", choices=KEYS, help="run only this key (repeatable)")
    parser.add_argument(
        "--workdir",
        metavar="DIR",
        type=Path,
        help="where the SQLite files and temporary distributions go (default: TMP)",
    )
    parser.add_argument("--worker", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    return parser


def _worker(args: Sequence[str]) -> int:
    """The benchmarks that need a process of their own run here (``run.py --worker NAME ARGS``)."""
    name, rest = args[0], list(args[1:])
    if name == "discovery":
        from .bench_startup import discovery_worker

        discovery_worker(rest[0])
    elif name == "http_server":
        from .bench_http import server_worker

        server_worker(rest[0], int(rest[1]), int(rest[2]))
    elif name == "http_client":
        from .bench_http import client_worker

        client_worker(rest[0], rest[1], int(rest[2]))
    elif name == "rss":
        from .bench_memory import rss_worker

        rss_worker(rest[0], int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown worker {name!r}")
    return 0


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _benchmarks(sizes: Sizes, workdir: Path, axes: dict[str, Any]) -> dict[str, Callable[[], Figure]]:
    """Key -> a function measuring it; in the order they run (new processes first, the big heaps last)."""
    from . import (
        bench_chain,
        bench_concurrency,
        bench_durable,
        bench_http,
        bench_ledger,
        bench_memory,
        bench_startup,
        instructions,
    )
    from .bench_redaction import measure as measure_redaction

    def lookup() -> Figure:
        figure, rows = bench_ledger.measure(sizes, workdir)
        if sizes.axes:
            axes["ledger_size"] = rows
        return figure

    return {
        "chain_instructions_per_payment": lambda: instructions.chain_instructions(sizes),
        "host_own_instructions_per_payment": lambda: instructions.host_own_instructions(sizes),
        "cold_start_ratio": lambda: bench_startup.cold_start(sizes, workdir),
        "discovery_growth_ratio": lambda: bench_startup.discovery(sizes, workdir),
        "chain_overhead_ratio": lambda: bench_chain.measure(sizes),
        "durable_ratio": lambda: bench_durable.measure(sizes, workdir),
        "async_10k_ratio": lambda: bench_concurrency.measure(sizes),
        "lookup_p99_ms": lookup,
        "rss_growth_pct": lambda: bench_memory.measure(sizes, workdir),
        "redaction_ratio": lambda: measure_redaction(sizes),
        "http_pay_ratio": lambda: bench_http.measure(sizes),
    }


def _axes(sizes: Sizes, workdir: Path, axes: dict[str, Any]) -> None:
    from . import bench_chain, bench_concurrency, bench_startup

    _say("axis: chain length (1, 3, 5, 10 providers)")
    axes["chain_length"] = bench_chain.chain_length_axis(sizes)
    _say("axis: installed distributions (0, 100, 500)")
    axes["distributions"] = bench_startup.distributions_axis(sizes, workdir)
    _say("axis: concurrency (1, 10, 100, 1000 payments at once)")
    axes["concurrency"] = bench_concurrency.concurrency_axis(sizes)


def _shown(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:g}"


def _table(result: dict[str, Any]) -> str:
    lines = [f"tradepay benchmarks ({result['mode']} run, {result['elapsed_s']} s)", ""]
    lines.append(f"{'key':<34} {'value':>12}  {'target':<10} met")
    for key in KEYS:
        if key in result:
            met = result["met"][key]
            mark = "yes" if met else "n/a" if met is None else "NO"
            value = _shown(result[key])
            lines.append(f"{key:<34} {value:>12}  {result['targets'][key]:<10} {mark}")
            if result[key] is None:
                lines.append(f"  ({result['details'][key]['unavailable']})")
    if "lookup_p99_ms" in result:
        stored, load = result["lookup_stored_payments"], result["lookup_load_average"]
        lines.append(f"  (lookup_p99_ms with {stored:,} payments stored, load average {load})")
    for name, rows in result.get("axes", {}).items():
        lines += ["", f"{name}:"]
        lines += [f"  {json.dumps(row)}" for row in rows]
    lines += ["", "details: run with --json"]
    return "\n".join(lines)


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(argv)
    if args.worker:
        return _worker(args.worker)
    sizes = FULL if args.full else SMOKE if args.smoke else QUICK
    if args.axes and not sizes.axes:
        sizes = dataclasses.replace(sizes, axes=True)
    configure_null_logging()
    began = time.perf_counter()
    result: dict[str, Any] = {}
    figures: dict[str, Figure] = {}
    axes: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tradepay-bench-", dir=args.workdir) as tmp:
        workdir = Path(tmp)
        described = machine(workdir)
        for key, run in _benchmarks(sizes, workdir, axes).items():
            if args.only and key not in args.only:
                continue
            _say(f"{key} ...")
            started = time.perf_counter()
            figure = run()
            figures[key] = figure
            state = "met" if figure.met else "not measured" if figure.met is None else "MISSED"
            value = _shown(figure.value)
            _say(f"{key} = {value} (target {figure.target}: {state}) [{time.perf_counter() - started:.1f} s]")
        if sizes.axes and not args.only:
            _axes(sizes, workdir, axes)
        result.update({key: figure.value for key, figure in figures.items()})
        if "lookup_p99_ms" in figures:
            result["lookup_stored_payments"] = figures["lookup_p99_ms"].details["stored_payments"]
            result["lookup_load_average"] = figures["lookup_p99_ms"].details["load_average"]
        if "async_10k_ratio" in figures:
            result["async_payments"] = figures["async_10k_ratio"].details["payments"]
            result["async_gc_s"] = {
                side: figures["async_10k_ratio"].details[f"{side}_gc_s"] for side in ("host", "floor")
            }
        result.update(
            {
                "mode": sizes.mode,
                "targets": {key: figure.target for key, figure in figures.items()},
                "met": {key: figure.met for key, figure in figures.items()},
                "details": {key: figure.details for key, figure in figures.items()},
                "machine": {**described, "load_average_at_end": machine(workdir)["load_average"]},
            }
        )
        if axes:
            result["axes"] = axes
    result["elapsed_s"] = round(time.perf_counter() - began, 1)
    print(json.dumps(result, sort_keys=False) if args.json else _table(result))
    return 0
