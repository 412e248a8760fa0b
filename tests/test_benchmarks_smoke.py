"""The benchmarks (``benchmarks/``) are not part of the test suite. This only checks that the machinery of a
run works, at tiny sizes (``--smoke``), and that ``--json`` prints one JSON object with every key of the
benchmark table: the figures themselves are neither checked nor meaningful at these sizes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KEYS = (
    "chain_overhead_ratio",
    "durable_ratio",
    "async_10k_wall_s",
    "cold_start_ratio",
    "discovery_growth_ratio",
    "lookup_p99_ms",
    "rss_growth_pct",
    "redaction_ratio",
)


def test_a_smoke_run_prints_one_json_object_with_every_key(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--smoke", "--json", "--workdir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # one object, and nothing else on standard output
    assert isinstance(result, dict)
    for key in KEYS:
        value = result[key]
        assert type(value) in (int, float), (key, value)
        assert value >= 0, (key, value)
        assert isinstance(result["met"][key], bool)
    assert set(result["targets"]) == set(KEYS)
    assert result["mode"] == "smoke"
    assert result["lookup_stored_payments"] > 0  # lookup_p99_ms is reported with the count it was measured at
    assert result["machine"]["nproc"] >= 1
    assert list(tmp_path.iterdir()) == []  # the run removed what it made
