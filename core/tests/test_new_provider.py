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
from pathlib import Path, PurePosixPath
from typing import Any, NamedTuple

import pytest
import structlog
from click.testing import CliRunner, Result

import tradepay
import tradepay._logging
from tradepay._cli.main import cli
from tradepay._cli.new_provider import FILES, ProviderNames, render_provider

NAME = "acme-pay"
NAMES = ProviderNames(NAME)
LEFTOVER_TOKEN = re.compile(r"__[A-Z][A-Z_]*__")


@pytest.fixture(autouse=True)
def quiet_logging(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The group callback configures structlog: give the suite its configuration back afterwards."""
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
    command = [str(a) for a in args]
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


# --- names and files ---------------------------------------------------------------------------------------------


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


def test_every_template_is_rendered_and_no_token_is_left() -> None:
    files = render_provider(NAMES)
    expected = {PurePosixPath(t.format(package=NAMES.package, snake=NAMES.snake)) for t in FILES.values()}
    assert set(files) == expected
    for path, text in files.items():
        assert not LEFTOVER_TOKEN.findall(text), f"{path}: {LEFTOVER_TOKEN.findall(text)}"
    pyproject = files[PurePosixPath("pyproject.toml")]
    assert '[project.entry-points."tradepay.providers"]' in pyproject
    assert f'{NAME} = "tradepay_acme_pay:AcmePayProvider"' in pyproject
    assert 'name = "tradepay-acme-pay"' in pyproject


def test_the_core_wheel_ships_the_templates() -> None:
    from hatchling.builders.wheel import WheelBuilder

    core = Path(tradepay.__file__).resolve().parents[2]
    shipped = {f.distribution_path for f in WheelBuilder(str(core)).recurse_included_files()}
    missing = [t for t in FILES if f"tradepay/_cli/templates/provider/{t}" not in shipped]
    assert not missing, f"the wheel of tradepay would not ship {missing}"


# --- the command's refusals --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["Acme", "1acme", "acme pay", "acme.pay", "", "a" * 41])
def test_a_bad_name_is_a_usage_error_and_writes_nothing(name: str, tmp_path: Path) -> None:
    result = invoke("new-provider", name, "--path", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "Invalid value for 'NAME'" in result.output
    assert "is not a provider name" in result.output
    assert not (tmp_path / "out").exists()


def test_the_name_of_an_installed_provider_is_refused(tmp_path: Path) -> None:
    result = invoke("new-provider", "reference", "--path", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "'reference' is already installed (by tradepay)" in result.output
    assert not (tmp_path / "out").exists()


def test_it_never_overwrites(tmp_path: Path) -> None:
    target = tmp_path / "tradepay-scaffold-check"
    target.mkdir()
    (target / "pyproject.toml").write_text("mine\n")
    result = invoke("new-provider", "scaffold-check", "--path", str(target))
    assert result.exit_code == 1, result.output
    assert f"Error: {target} exists and is not an empty folder: nothing was written" in result.output
    assert [p.name for p in target.iterdir()] == ["pyproject.toml"]
    assert (target / "pyproject.toml").read_text() == "mine\n"


def test_the_default_path_is_tradepay_name_and_an_empty_folder_will_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke("new-provider", "scaffold-check")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(
        "wrote tradepay-scaffold-check: the distribution tradepay-scaffold-check, provider 'scaffold-check' "
        "(tradepay_scaffold_check.ScaffoldCheckProvider)\nnext:\n"
        '  pip install -e "./tradepay-scaffold-check[test]"'
    )
    assert (tmp_path / "tradepay-scaffold-check" / "src" / "tradepay_scaffold_check" / "_provider.py").is_file()
    (tmp_path / "empty").mkdir()
    assert invoke("new-provider", "scaffold-check", "--path", "empty").exit_code == 0
    assert (tmp_path / "empty" / "tests" / "test_scaffold_check_conformance.py").is_file()


# --- the distribution, for real ----------------------------------------------------------------------------------


class Installed(NamedTuple):
    dist: Path  # the folder the command wrote
    site: Path  # where pip installed it
    env: dict[str, str]  # an environment whose PYTHONPATH holds it


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    root = tmp_path_factory.mktemp("new-provider")
    env = {
        **os.environ,
        "PYTHONPATH": str(root / "site"),
        "PYTHONDONTWRITEBYTECODE": "1",
        "XDG_CACHE_HOME": str(root / "cache"),  # stevedore's entry-point cache, and nothing of the user's
    }
    env.pop("TRADEPAY_CONFIG", None)
    env.pop("PYTEST_ADDOPTS", None)
    run(sys.executable, "-m", "tradepay", "new-provider", NAME, "--path", root / "dist", cwd=root, env=env)
    pip = (sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-index")
    run(*pip, "--no-deps", "--no-build-isolation", "--target", root / "site", root / "dist", cwd=root, env=env)
    return Installed(root / "dist", root / "site", env)


def test_it_installs_with_its_entry_point(installed: Installed) -> None:
    [dist_info] = installed.site.glob("tradepay_acme_pay-0.1.0.dist-info")
    entry_points = (dist_info / "entry_points.txt").read_text()
    assert "[tradepay.providers]\nacme-pay = tradepay_acme_pay:AcmePayProvider" in entry_points
    assert (installed.site / "tradepay_acme_pay" / "py.typed").is_file()


def test_its_tests_pass_unchanged(installed: Installed) -> None:
    done = run(sys.executable, "-m", "pytest", "-v", "-p", "no:cacheprovider", cwd=installed.dist, env=installed.env)
    summary = re.fullmatch(r"=+ (\d+) passed in [\d.]+s( \([\d:]+\))? =+", done.stdout.strip().splitlines()[-1])
    assert summary is not None, done.stdout  # passed, and nothing failed, skipped or warned
    assert int(summary.group(1)) >= 10, done.stdout
    for test in ("test_cancel_reverses_a_paid_attempt", "test_inquiry_of_an_unseen_attempt_voids_it"):
        assert f"TestAcmePayProviderConformance::{test} PASSED" in done.stdout


def test_its_code_passes_its_own_ruff_and_mypy_strict(installed: Installed) -> None:
    ruff = (sys.executable, "-m", "ruff")
    run(*ruff, "check", "--no-cache", ".", cwd=installed.dist, env=installed.env)
    run(*ruff, "format", "--no-cache", "--check", ".", cwd=installed.dist, env=installed.env)
    mypy = (sys.executable, "-m", "mypy", "--cache-dir", os.devnull, "src", "tests")
    run(*mypy, cwd=installed.dist, env=installed.env)


def test_a_host_built_from_a_configuration_pays_through_it(installed: Installed, tmp_path: Path) -> None:
    (tmp_path / "tradepay.toml").write_text(
        textwrap.dedent(
            f"""\
            [chain]
            providers = ["{NAME}", "reference"]

            [host]
            data_dir = "state"

            [providers.{NAME}]
            currencies = ["USD"]
            max_amount = 5000
            """
        )
    )
    script = textwrap.dedent(
        """\
        import json
        from tradepay import Host, PaymentAmount, PaymentRequest, PaymentService, PaymentType, load_config
        from tradepay.testing import sample_context

        host = Host.from_config(load_config("tradepay.toml"))
        provider = host.provider("acme-pay")
        answers = []
        with PaymentService(host) as service:
            for value in ("2500", "5001"):
                order = host.ledger.create_order(PaymentAmount("USD", value), merchant_id="m1", payer_id="alice")
                request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
                result = service.pay_blocking(request, sample_context("alice"))
                status = provider.attempt_status(result.extended_info["paymentId"] + "-1")
                answers.append([result.result_code.value, result.extended_info["provider"], status])
            print(json.dumps({"class": type(provider).__module__ + "." + type(provider).__name__, "answers": answers}))
        """
    )
    done = run(sys.executable, "-c", script, cwd=tmp_path, env=installed.env)
    report = json.loads(done.stdout.splitlines()[-1])  # structlog, unconfigured, logs to stdout before it
    assert report["class"] == "tradepay_acme_pay._provider.AcmePayProvider"
    # USD 25.00 is paid by acme-pay; USD 50.01 is above its max_amount, so the plan skips it for reference.
    assert report["answers"] == [["9000", NAME, "paid"], ["9000", "reference", None]]
    assert (tmp_path / "state" / f"{NAME}.sqlite3").is_file()
