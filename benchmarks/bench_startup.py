"""cold_start_ratio and discovery_growth_ratio: what starting a process and loading the chain cost.

* cold_start_ratio: wall time of the installed console script ``tradepay --config FILE providers`` (a
  configuration naming agreement, wallet and card) against ``python -c "import pluggy, stevedore, structlog"``,
  both new processes of the same interpreter, interleaved, after warm-up runs (so both read warm files).
* discovery_growth_ratio: in a new process with tradepay imported, the time of ``Host.from_config`` for that
  configuration (stevedore finds and imports the three providers, each is built, the host registers them),
  with 500 extra distributions on ``PYTHONPATH`` against none. The extra distributions are ``.dist-info``
  directories with metadata and entry points (two groups each), built in a temporary directory. stevedore
  keeps an on-disk cache of the entry-point scan; each case gets its own cache directory
  (``XDG_CACHE_HOME``) primed by a warm-up run, and the cold-cache figure (cache removed before each run) is
  reported beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ._harness import Figure, Sizes, median, run_worker, time_process

__all__ = ["bytecode_env", "cold_start", "discovery", "discovery_worker", "distributions_axis", "write_config"]

CHAIN = ("agreement", "wallet", "card")


def write_config(directory: Path) -> Path:
    """A configuration naming the three provider plugins, with its data directory beside it."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "tradepay.toml"
    path.write_text(
        f"[chain]\nproviders = {json.dumps(list(CHAIN))}\n\n[host]\ndata_dir = {json.dumps(str(directory / 'data'))}\n",
        encoding="utf-8",
    )
    return path


def _console_script() -> str:
    beside = Path(sys.executable).with_name("tradepay")
    found = str(beside) if beside.exists() else shutil.which("tradepay")
    if found is None:
        raise RuntimeError("the `tradepay` console script is not installed beside this interpreter")
    return found


def bytecode_env() -> dict[str, str]:
    """The environment of a timed process: this one's without ``PYTHONDONTWRITEBYTECODE``,
    so that the warm-up runs leave the compiled bytecode of every module beside its source, as any first run
    does, and the timed runs read it.

    A machine that sets it (as CI machines often do) otherwise compiles the project's modules from source in
    every run, as its editable install has no bytecode, while the baseline's dependencies read the bytecode pip
    compiled at installation: 45 modules, 51 ms of a 300 ms run (``cProfile``: ``compile``), that no installed
    wheel and no second run of an editable install pays. (A bytecode cache of the benchmark's own,
    ``PYTHONPYCACHEPREFIX``, would serve both sides too, but slowed the baseline by 5 %: 168 ms against 160.)"""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _interleaved(argvs: Mapping[str, list[str]], runs: int, warmup: int, cwd: Path) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in argvs}
    names = list(argvs)
    env = bytecode_env()
    for _ in range(warmup):
        for name in names:
            time_process(argvs[name], env=env, cwd=cwd)
    for i in range(runs):
        for name in names if i % 2 == 0 else reversed(names):
            times[name].append(time_process(argvs[name], env=env, cwd=cwd))
    return times


def cold_start(sizes: Sizes, workdir: Path) -> Figure:
    directory = workdir / "coldstart"
    config = write_config(directory)
    script = _console_script()
    argvs = {
        "tradepay providers": [script, "--config", str(config), "providers"],
        "import pluggy, stevedore, structlog": [sys.executable, "-c", "import pluggy, stevedore, structlog"],
    }
    if sizes.mode != "smoke":  # for the reader: the interpreter alone, and the core's import
        argvs["python -c pass"] = [sys.executable, "-c", "pass"]
        argvs["import tradepay"] = [sys.executable, "-c", "import tradepay"]
    times = _interleaved(argvs, sizes.process_runs, 1 if sizes.mode == "smoke" else 3, directory)
    ms = {name: round(median(t) * 1000, 1) for name, t in times.items()}
    ratio = median(times["tradepay providers"]) / median(times["import pluggy, stevedore, structlog"])
    details = {
        "command": f"{script} --config tradepay.toml providers (chain {list(CHAIN)})",
        "baseline": f'{sys.executable} -c "import pluggy, stevedore, structlog"',
        "runs": sizes.process_runs,
        "median_ms": ms,
        "range_ms": {name: [round(min(t) * 1000, 1), round(max(t) * 1000, 1)] for name, t in times.items()},
    }
    return Figure("cold_start_ratio", round(ratio, 3), details)


# --- discovery ---------------------------------------------------------------------------------------------


def make_distributions(directory: Path, count: int) -> Path:
    """``count`` installed-looking distributions (``.dist-info`` with METADATA and entry points), cheaply."""
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        name = f"benchdist_{i:04d}"
        info = directory / f"{name}-1.0.dist-info"
        if info.exists():
            continue
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n", encoding="utf-8")
        (info / "entry_points.txt").write_text(
            f"[console_scripts]\n{name} = {name}:main\n\n[benchdist.plugins]\n{name} = {name}:Plugin\n",
            encoding="utf-8",
        )
        (info / "top_level.txt").write_text(f"{name}\n", encoding="utf-8")
    return directory


def discovery_worker(config_path: str) -> None:
    """In the worker process: time ``Host.from_config`` once and print it as JSON."""
    from tradepay import MemoryLedger, load_config
    from tradepay._host import Host

    config = load_config(config_path)
    started = time.perf_counter()
    host = Host.from_config(config, ledger=MemoryLedger(), reconcile=False)
    elapsed = time.perf_counter() - started
    providers = list(host.chain.settings.providers)
    host.close()
    print(json.dumps({"load_s": elapsed, "providers": providers}))


def _load_once(config: Path, dists: Path, cache: Path) -> float:
    env = bytecode_env()
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH", ""), str(dists)) if p)
    env["XDG_CACHE_HOME"] = str(cache)
    out = json.loads(run_worker(["discovery", str(config)], env=env))
    if out["providers"] != list(CHAIN):
        raise AssertionError(f"loaded {out['providers']}, not {list(CHAIN)}")
    return float(out["load_s"])


def _discovery_times(
    config: Path, base: Path, counts: tuple[int, ...], runs: int
) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
    """Warm-cache and cold-cache load times per number of extra distributions."""
    dists = {n: make_distributions(base / f"dists-{n}", n) for n in counts}
    caches = {n: base / f"cache-{n}" for n in counts}
    warm: dict[int, list[float]] = {n: [] for n in counts}
    cold: dict[int, list[float]] = {n: [] for n in counts}
    for n in counts:  # warm-up: builds each case's entry-point cache and the providers' files
        _load_once(config, dists[n], caches[n])
    for i in range(runs):
        for n in counts if i % 2 == 0 else tuple(reversed(counts)):
            warm[n].append(_load_once(config, dists[n], caches[n]))
    for i in range((runs + 1) // 2):
        for n in counts if i % 2 == 0 else tuple(reversed(counts)):
            shutil.rmtree(caches[n], ignore_errors=True)
            cold[n].append(_load_once(config, dists[n], caches[n]))
    return warm, cold


def discovery(sizes: Sizes, workdir: Path) -> Figure:
    base = workdir / "discovery"
    config = write_config(base)
    extra = sizes.extra_distributions
    warm, cold = _discovery_times(config, base, (0, extra), sizes.discovery_runs)
    ratio = median(warm[extra]) / median(warm[0])
    details: dict[str, Any] = {
        "timed": "Host.from_config(config, ledger=MemoryLedger(), reconcile=False) in a new process",
        "extra_distributions": extra,
        "runs": sizes.discovery_runs,
        "load_ms": {str(n): round(median(t) * 1000, 2) for n, t in warm.items()},
        "cold_cache_load_ms": {str(n): round(median(t) * 1000, 2) for n, t in cold.items()},
        "cold_cache_ratio": round(median(cold[extra]) / median(cold[0]), 3),
    }
    return Figure("discovery_growth_ratio", round(ratio, 3), details)


def distributions_axis(sizes: Sizes, workdir: Path) -> list[dict[str, Any]]:
    """Load time of the configured chain with 0, 100 and 500 extra distributions, warm and cold cache."""
    base = workdir / "discovery-axis"
    config = write_config(base)
    counts = (0, 100, 500)
    warm, cold = _discovery_times(config, base, counts, sizes.discovery_runs)
    return [
        {
            "extra_distributions": n,
            "load_ms": round(median(warm[n]) * 1000, 2),
            "cold_cache_load_ms": round(median(cold[n]) * 1000, 2),
            "ratio_to_none": round(median(warm[n]) / median(warm[0]), 3),
            "cold_ratio_to_none": round(median(cold[n]) / median(cold[0]), 3),
        }
        for n in counts
    ]
