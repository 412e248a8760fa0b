"""``tradepay new-provider NAME``: the distribution it writes installs, passes its own tests and its own checks
unchanged, and pays through a host built from a configuration file, as a provider author would run it.

The distribution is built with the core's build backend (hatchling, without build isolation, so no network is
needed) and installed with ``pip install --target`` into a folder of its own; every later step runs in a
subprocess with that folder on ``PYTHONPATH``, so nothing is installed into the environment running the suite.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

import tradepay._logging
from tradepay._cli import cli
from tradepay._discovery import installed_providers
from tradepay._newprovider import FILES, ProviderNames, render_provider

NAME = "acme-pay"
NAMES = ProviderNames(NAME)
LEFTOVER_TOKEN = re.compile(r"__[A-Z][A-Z_]*__")


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The group callback configures structlog: keep the suite's configuration once the command is done."""
    configure = tradepay._logging.configure_logging
    saved = structlog.get_config()

    def uncached(**kwargs: Any) -> None:
        configure(**{**kwargs, "cache": False})

    monkeypatch.setattr(tradepay._logging, "configure_logging", uncached)
    yield
    structlog.configure(**saved)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def run(*args: str | Path, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False
    )


# --- the names and the files ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "distribution", "package", "class_name"),
    [
        ("acme", "tradepay-acme", "tradepay_acme", "AcmeProvider"),
        ("acme-pay", "tradepay-acme-pay", "tradepay_acme_pay", "AcmePayProvider"),
        ("acme_pay2", "tradepay-acme_pay2", "tradepay_acme_pay2", "AcmePay2Provider"),
    ],
)
def test_the_forms_of_a_name(name: str, distribution: str, package: str, class_name: str) -> None:
    names = ProviderNames(name)
    assert (names.distribution, names.package, names.class_name) == (distribution, package, class_name)


def test_every_template_is_rendered_without_a_leftover_token() -> None:
    files = render_provider(NAMES)
    assert sorted(str(path) for path in files) == sorted(
        target.format(package=NAMES.package, snake=NAMES.snake) for target in FILES.values()
    )
    for path, text in files.items():
        assert not LEFTOVER_TOKEN.findall(text), f"{path}: {LEFTOVER_TOKEN.findall(text)}"
    assert (
        f'{NAME} = "{NAMES.package}:{NAMES.class_name}"'
        in files[Path("pyproject.toml").as_posix() and _p("pyproject.toml")]
    )


def _p(text: str) -> Any:
    from pathlib import PurePosixPath

    return PurePosixPath(text)


def test_the_core_wheel_ships_the_templates() -> None:
    from hatchling.builders.wheel import WheelBuilder

    core = Path(tradepay.__file__).resolve().parents[2]
    shipped = {f.distribution_path for f in WheelBuilder(str(core)).recurse_included_files()}
    missing = sorted(f"tradepay/_templates/provider/{template}" for template in FILES)
    assert not [path for path in missing if path not in shipped]
