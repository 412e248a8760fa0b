"""What every benchmark shares: the sizes of a run, timing with warm-up and interleaving, statistics, the
machine's description, resident memory, and the one logging configuration (JSON lines to a null sink)."""

from __future__ import annotations

import functools
import gc
import math
import os
import platform
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any, TextIO, TypeVar

__all__ = [
    "FULL",
    "QUICK",
    "ROOT",
    "RUN_PY",
    "SMOKE",
    "TARGETS",
    "Figure",
    "Sizes",
    "alternate",
    "configure_null_logging",
    "filesystem_of",
    "machine",
    "load_average",
    "median",
    "null_stream",
    "percentile",
    "rss_bytes",
    "run_worker",
    "time_process",
]

ROOT = Path(__file__).resolve().parent.parent
RUN_PY = ROOT / "benchmarks" / "run.py"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much each benchmark does in one mode (``smoke``, ``quick`` or ``full``)."""

    mode: str
    chain_payments: int  # payments per timed round, host and floor alike
    chain_rounds: int  # timed rounds of each (after one warm-up round of each)
    durable_payments: int
    durable_rounds: int
    async_payments: int  # the "10k" of async_10k_ratio (smaller only in smoke mode)
    async_runs: int
    instruction_payments: int  # payments counted under valgrind, per side and logging level
    instruction_warmup: int  # payments made before the count starts
    process_runs: int  # runs of each command for cold_start_ratio (after warm-up runs)
    extra_distributions: int
    discovery_runs: int
    lookup_stored: int
    lookup_repeats: int
    rss_from: int
    rss_to: int
    rss_on_disk: bool  # the SQLite file on the disk (else on tmpfs when there is one: same code, no fsync wait)
    axes: bool  # also measure how the cost grows (chain length, distributions, ledger size, concurrency)


SMOKE = Sizes("smoke", 40, 2, 4, 2, 200, 1, 10, 5, 2, 20, 1, 500, 100, 100, 600, False, False)
QUICK = Sizes("quick", 200, 40, 40, 9, 10_000, 3, 200, 50, 15, 500, 7, 100_000, 3000, 10_000, 100_000, False, False)
FULL = Sizes(
    "full", 500, 60, 100, 21, 10_000, 5, 1000, 100, 40, 500, 15, 1_000_000, 10_000, 10_000, 100_000, True, True
)

#: The benchmark table: key -> (comparison, target).
TARGETS: Mapping[str, tuple[str, float]] = {
    "chain_overhead_ratio": ("<=", 1.0),
    "chain_instructions_per_payment": ("<=", 750_000),
    "host_own_instructions_per_payment": ("<=", 230_000),
    "durable_ratio": (">=", 0.7),
    "async_10k_ratio": ("<=", 1.2),
    "cold_start_ratio": ("<=", 1.5),
    "discovery_growth_ratio": ("<=", 1.5),
    "lookup_p99_ms": ("<=", 1.0),
    "rss_growth_pct": ("<=", 10.0),
    "redaction_ratio": ("<=", 1.0),
    "http_pay_ratio": (">=", 0.5),
}


@dataclass(slots=True)
class Figure:
    """One key's value, how it was obtained (``details``), and whether it meets its target. The value is
    ``None`` when this machine cannot measure it (``details["unavailable"]`` says why); so is ``met``."""

    key: str
    value: float | None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        op, target = TARGETS[self.key]
        return self.value <= target if op == "<=" else self.value >= target

    @property
    def target(self) -> str:
        op, target = TARGETS[self.key]
        return f"{op} {target:g}"


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100): the smallest value with at least pct% of values at or below."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def alternate(
    first: Callable[[], T], second: Callable[[], T], *, rounds: int, warmup: int = 1
) -> tuple[list[T], list[T]]:
    """Run ``first`` and ``second`` (each returns its own measurement) ``warmup`` times each, untimed, then
    ``rounds`` times each in ABBA order, so that drift of the machine (other load, frequency, a growing heap)
    falls on both alike. A full garbage collection precedes every call."""
    for _ in range(warmup):
        gc.collect()
        first()
        gc.collect()
        second()
    a: list[T] = []
    b: list[T] = []
    for i in range(rounds):
        pair = ((first, a), (second, b)) if i % 2 == 0 else ((second, b), (first, a))
        for fn, out in pair:
            gc.collect()
            out.append(fn())
    return a, b


def time_process(argv: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall seconds of one run of ``argv`` to completion (output discarded); raises if it fails."""
    started = time.perf_counter()
    done = subprocess.run(list(argv), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return elapsed


def run_worker(args: Sequence[str], *, env: Mapping[str, str] | None = None) -> str:
    """Run ``benchmarks/run.py --worker ARGS`` in a new interpreter; return its standard output."""
    done = subprocess.run(
        [sys.executable, str(RUN_PY), "--worker", *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def rss_bytes() -> int:
    """This process's resident set size now (Linux ``/proc/self/statm``; elsewhere the peak, from getrusage)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:  # pragma: no cover - not Linux
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(peak if sys.platform == "darwin" else peak * 1024)


@functools.cache
def null_stream() -> TextIO:
    """``os.devnull`` opened for writing, once per process: where every benchmark's log lines go."""
    return open(os.devnull, "w", encoding="utf-8")


def configure_null_logging() -> TextIO:
    """The host's logging set-up in every benchmark: ``tradepay.configure_logging`` with JSON lines at ``info``
    (the events of every payment are rendered) written to ``os.devnull``. The floor has its own, fixed one
    (``_floor.floor_logger``), to the same sink."""
    import tradepay

    sink = null_stream()
    tradepay.configure_logging(fmt="json", stream=sink)
    return sink


def filesystem_of(path: Path) -> str:
    """``fstype device`` of the mount holding ``path`` (Linux), for saying where the SQLite files were."""
    try:
        with open("/proc/mounts", encoding="utf-8") as f:
            mounts = [line.split()[:3] for line in f]
    except OSError:  # pragma: no cover - not Linux
        return "unknown"
    resolved = str(path.resolve())
    best = ("", "unknown", "unknown")
    for device, point, fstype in mounts:
        inside = resolved == point or resolved.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best[0]):
            best = (point, fstype, device)
    return f"{best[1]} {best[2]}"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:  # pragma: no cover - not Linux
        pass
    return platform.processor() or "unknown"


def _version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages now (``None`` where the system does not say)."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def machine(workdir: Path) -> dict[str, Any]:
    """What the figures were measured on."""
    return {
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "load_average": load_average(),
        "sqlite": sqlite3.sqlite_version,
        "workdir": str(workdir),
        "workdir_filesystem": filesystem_of(workdir),
        "packages": {name: _version(name) for name in ("tradepay", "pluggy", "structlog", "stevedore", "click")},
    }
