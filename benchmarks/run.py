#!/usr/bin/env python3
"""Run tradepay's benchmarks: ``python benchmarks/run.py [--full | --smoke] [--json]``.

Quick by default (a few minutes on a 2-core machine); ``--full`` is the run whose figures
``docs/performance.md`` records, with the tables of how the cost grows; ``--json`` prints one JSON object
with every key of the benchmark table (its target, whether it is met, and how it was measured). See ``--help``.

Run it with the interpreter of the development environment (``.venv/bin/python``); another interpreter that
cannot import tradepay hands over to ``./.venv`` when it exists.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _environment() -> None:
    try:
        import tradepay  # noqa: F401
    except ImportError:
        venv = ROOT / ".venv"
        python = venv / ("Scripts" if os.name == "nt" else "bin") / ("python.exe" if os.name == "nt" else "python")
        if python.exists() and Path(sys.prefix).resolve() != venv.resolve():
            os.execv(str(python), [str(python), str(Path(__file__).resolve()), *sys.argv[1:]])  # noqa: S606
        sys.exit("tradepay cannot be imported: set up the environment once with `python3 tasks.py test`")
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))


if __name__ == "__main__":
    _environment()
    from benchmarks._main import main

    sys.exit(main(sys.argv[1:]))
