#!/usr/bin/env python3
"""The project's two commands, on a machine with only Python 3.11+ and pip.

    python3 tasks.py demo    set up .venv (once) and run the demo
    python3 tasks.py test    set up .venv (once) and run every check: ruff, mypy, the documentation site
                             (mkdocs build --strict), the whole test suite, and each plugin's tests in an
                             environment holding only the core and that plugin

Set-up creates ./.venv with the core, the three provider plugins (editable) and the development tools, and
is redone only when a pyproject.toml or dev-requirements.txt changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tempfile
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PLUGINS = ("tradepay-wallet", "tradepay-card", "tradepay-agreement")
INPUTS = ["core/pyproject.toml", *(f"plugins/{p}/pyproject.toml" for p in PLUGINS), "dev-requirements.txt"]


def _python(env_dir: Path) -> Path:
    return env_dir / ("Scripts" if os.name == "nt" else "bin") / "python"


def _run(*args: str | Path, cwd: Path = ROOT) -> None:
    print("+", " ".join(str(a) for a in args), flush=True)
    subprocess.run([str(a) for a in args], cwd=cwd, check=True)


def _stamp(extra: str = "") -> str:
    digest = hashlib.sha256(extra.encode())
    for name in INPUTS:
        digest.update((ROOT / name).read_bytes())
    return digest.hexdigest()


def _environment(env_dir: Path, requirements: list[str], key: str) -> Path:
    """Create ``env_dir`` with ``requirements`` installed, unless its stamp says it is up to date."""
    python = _python(env_dir)
    stamp_file = env_dir / ".tradepay-stamp"
    stamp = _stamp(key)
    if python.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return python
    if not python.exists():
        venv.create(env_dir, with_pip=True)
    _run(python, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(python, "-m", "pip", "install", "--quiet", *requirements)
    stamp_file.write_text(stamp)
    return python


def setup() -> Path:
    """The development environment: the core and every plugin (editable), and the tools."""
    editable = ["-e", "./core[postgres,server,orjson]", *(arg for p in PLUGINS for arg in ("-e", f"./plugins/{p}"))]
    return _environment(VENV, [*editable, "-r", "dev-requirements.txt"], "dev")


def demo(args: list[str]) -> None:
    python = setup()
    _run(python, "-m", "tradepay", "demo", *args)


def _report(path: Path) -> tuple[int, int, int]:
    """(passed, failed, skipped) of one pytest run, from its JUnit XML report."""
    import xml.etree.ElementTree as ET

    passed = failed = skipped = 0
    for suite in ET.parse(path).getroot().iter("testsuite"):  # noqa: S314 - our own pytest run wrote it
        total, errors = int(suite.get("tests", 0)), int(suite.get("errors", 0))
        fails, skips = int(suite.get("failures", 0)), int(suite.get("skipped", 0))
        failed += fails + errors
        skipped += skips
        passed += total - fails - errors - skips
    return passed, failed, skipped


def test(args: list[str]) -> None:
    python = setup()
    reports = VENV / "reports"
    reports.mkdir(exist_ok=True)
    for old in reports.glob("*.xml"):
        old.unlink()
    _run(python, "-m", "ruff", "check", ".")
    _run(python, "-m", "ruff", "format", "--check", ".")
    # One mypy run per distribution: their test folders each hold a conftest.py, which one run cannot tell apart.
    for tree in (["core/src", "core/tests"], ["tests"], *([f"plugins/{p}/src", f"plugins/{p}/tests"] for p in PLUGINS)):
        _run(python, "-m", "mypy", *tree)
    # The documentation site: --strict fails on a broken link or anchor, or a page missing from the nav. (Not
    # --quiet: it hides the warnings from the count that --strict fails on.)
    os.environ.setdefault("NO_MKDOCS_2_WARNING", "1")  # Material's banner about MkDocs 2.0, not a build warning
    with tempfile.TemporaryDirectory(prefix="tradepay-site-") as site:
        _run(python, "-m", "mkdocs", "build", "--strict", "--site-dir", site)
    _run(python, "-m", "pytest", f"--junitxml={reports / 'suite.xml'}", *args)
    # Each plugin alone beside the core: proves it declares every dependency it needs.
    for plugin in PLUGINS:
        requirements = ["-e", "./core", "-e", f"./plugins/{plugin}", "pytest>=8.0"]
        alone = _environment(ROOT / ".venv-alone" / plugin, requirements, plugin)
        _run(
            alone,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            f"--junitxml={reports / plugin}.xml",
            f"plugins/{plugin}/tests",
        )
    totals = [sum(counts) for counts in zip(*(_report(p) for p in sorted(reports.glob("*.xml"))), strict=True)]
    if not os.environ.get("TRADEPAY_TEST_POSTGRES_URL"):
        print(
            "note: the PostgreSQL tests were skipped; to run them, point TRADEPAY_TEST_POSTGRES_URL at a server, "
            "e.g. TRADEPAY_TEST_POSTGRES_URL=postgresql://postgres@127.0.0.1:5432/test python3 tasks.py test"
        )
    print(f"tests: {totals[0]} passed, {totals[1]} failed, {totals[2]} skipped")


COMMANDS = {"demo": demo, "test": test}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        print(__doc__)
        sys.exit(2)
    try:
        COMMANDS[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode or 1)
