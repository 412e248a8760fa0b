"""Provider discovery through real installed distributions: wheels built here, installed with pip into their
own target folders, and loaded by a fresh interpreter (``Host.from_config`` or the command line) per scenario.

Nothing about ``importlib.metadata`` or stevedore is mocked: each scenario runs in a subprocess whose
``PYTHONPATH`` names the target folders it needs, so "installed" means what it means in production. Every
subprocess gets its own ``XDG_CACHE_HOME`` and ``HOME``: stevedore's entry-point cache (``_get_cache_dir``
honours ``XDG_CACHE_HOME``, else ``~/.cache``) is neither read from nor written to the user's.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import textwrap
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

MARK_ENV = "TRADEPAY_TEST_MARK"
VERSION = "1.0"

#: Importing the marked provider leaves a mark: the proof that an unconfigured provider was never imported.
_MARK = (
    f"import os\nfrom pathlib import Path\n\nPath(os.environ[{MARK_ENV!r}]).write_text(__name__, encoding='utf-8')\n"
)
_GOOD_PROVIDER = """\
import tradepay


class {cls}:
    def __init__(self, config: tradepay.ProviderConfig) -> None:
        self.config = config

    @tradepay.hookimpl
    def pay(self, order: tradepay.Order) -> tradepay.PaymentResult:
        return tradepay.PaymentResult(tradepay.ResultCode.SUCCESS, f"{{self.config.name}} paid {{order.amount}}")
"""


@dataclass(frozen=True)
class Dist:
    """A distribution to build: one module, its ``tradepay.providers`` entry points (name -> target) and the
    command groups it declares in ``tradepay.commands`` (name -> the provider's target)."""

    name: str
    module: str
    source: str
    providers: Mapping[str, str]
    commands: Mapping[str, str] = field(default_factory=dict)


DISTS = (
    Dist(
        "acme-good", "acme_provider", _GOOD_PROVIDER.format(cls="AcmeProvider"), {"acme": "acme_provider:AcmeProvider"}
    ),
    Dist(
        "marked-unconfigured",
        "marked_provider",
        _MARK + _GOOD_PROVIDER.format(cls="MarkedProvider"),
        {"marked": "marked_provider:MarkedProvider"},
        {"marked": "marked_provider:MarkedProvider"},
    ),
    Dist(
        "broken-import",
        "broken_provider",
        'raise ImportError("the acquirer SDK is not installed")\n',
        {"broken": "broken_provider:BrokenProvider"},
    ),
    Dist("dup-one", "twin_one", _GOOD_PROVIDER.format(cls="TwinProvider"), {"twin": "twin_one:TwinProvider"}),
    Dist("dup-two", "twin_two", _GOOD_PROVIDER.format(cls="TwinProvider"), {"twin": "twin_two:TwinProvider"}),
    Dist(
        "no-pay",
        "nopay_provider",
        textwrap.dedent(
            """\
            import tradepay

            SETTINGS = {"not": "a factory"}


            class NoPayProvider:
                def __init__(self, config: tradepay.ProviderConfig) -> None:
                    self.config = config

                def pay(self, order: tradepay.Order) -> tradepay.PaymentResult:  # not marked: not a hook
                    return tradepay.PaymentResult(tradepay.ResultCode.SUCCESS, "paid")
            """
        ),
        {"nopay": "nopay_provider:NoPayProvider", "notcallable": "nopay_provider:SETTINGS"},
    ),
    Dist(
        "bad-settings",
        "picky_provider",
        textwrap.dedent(
            """\
            import tradepay


            class PickyProvider:
                @tradepay.hookimpl
                def pay(self) -> tradepay.PaymentResult:
                    return tradepay.PaymentResult(tradepay.ResultCode.SUCCESS, "paid")


            def make_picky(config: tradepay.ProviderConfig) -> PickyProvider:
                unknown = sorted(set(config.settings) - {"level"})
                if unknown:
                    key = f"providers.{config.name}.{unknown[0]}"
                    raise tradepay.ConfigError(key, "unknown setting (known: level)")
                return PickyProvider()
            """
        ),
        {"picky": "picky_provider:make_picky"},
    ),
    Dist(
        "misspelt-hook",
        "misspelt_provider",
        textwrap.dedent(
            """\
            import tradepay


            class MisspeltProvider:
                def __init__(self, config: tradepay.ProviderConfig) -> None:
                    self.config = config

                @tradepay.hookimpl
                def pay(self) -> tradepay.PaymentResult:
                    return tradepay.PaymentResult(tradepay.ResultCode.UNKNOWN, "the network dropped the answer")

                @tradepay.hookimpl
                def inquiry(self, attempt: tradepay.Attempt) -> tradepay.ProviderStatus:  # should be `inquire`
                    return tradepay.ProviderStatus.NOT_PAID
            """
        ),
        {"misspelt": "misspelt_provider:MisspeltProvider"},
    ),
    Dist(
        "crashing-factory",
        "crashy_provider",
        'def make_crashy(config: object) -> object:\n    raise RuntimeError("acquirer handshake failed")\n',
        {"crashy": "crashy_provider:make_crashy"},
    ),
)

#: Runs in the subprocess: load the configuration, build the host, pay one order; print what happened as JSON.
_SCENARIO = """\
import json
import sys

import tradepay
from tradepay import APIContext, PaymentAmount, PaymentRequest, PaymentService, PaymentType

tradepay.configure_logging(level="warning")  # to standard error: standard output carries the report
config = tradepay.load_config(sys.argv[1])
try:
    host = tradepay.Host.from_config(config)
except tradepay.TradePayError as exc:
    error = {"error": type(exc).__name__, "message": str(exc)}
    error.update({k: getattr(exc, k) for k in ("provider", "key") if hasattr(exc, k)})
    print(json.dumps(error))
    sys.exit(0)
order = host.ledger.create_order(PaymentAmount("USD", "250"), merchant_id="shop", payer_id="alice")
with PaymentService(host) as service:
    result = service.pay_blocking(
        PaymentRequest(PaymentType.ORDER_ID, order.trade_no), APIContext("test", extended_info={"userId": "alice"})
    )
payment = host.ledger.get_payment(result.extended_info["paymentId"])
configs = {}
for name in config.chain.providers:
    provider = host.provider(name)
    configs[name] = {"settings": dict(provider.config.settings), "data_dir": str(provider.config.data_dir)}
print(json.dumps({
    "chain": [handle.name for handle in host.chain.handles],
    "result": result.to_dict(),
    "attempts": [record.attempt.provider for record in payment.attempts],
    "configs": configs,
    "modules": sorted(sys.modules),
}))
"""


def _record_line(path: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path},sha256={digest},{len(data)}"


def build_wheel(dist: Dist, directory: Path) -> Path:
    """A minimal, valid pure-Python wheel of ``dist`` (module, METADATA, WHEEL, entry points, RECORD)."""
    project = dist.name.replace("-", "_")
    info = f"{project}-{VERSION}.dist-info"
    entry_points = "[tradepay.providers]\n" + "".join(f"{n} = {t}\n" for n, t in dist.providers.items())
    if dist.commands:
        entry_points += "\n[tradepay.commands]\n" + "".join(f"{n} = {t}\n" for n, t in dist.commands.items())
    metadata = f"Metadata-Version: 2.1\nName: {dist.name}\nVersion: {VERSION}\nSummary: The {dist.name} provider.\n"
    files = {
        f"{dist.module}.py": dist.source.encode(),
        f"{info}/METADATA": metadata.encode(),
        f"{info}/WHEEL": b"Wheel-Version: 1.0\nGenerator: tradepay-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": entry_points.encode(),
    }
    record = "".join(_record_line(path, data) + "\n" for path, data in files.items()) + f"{info}/RECORD,,\n"
    wheel = directory / f"{project}-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, data in files.items():
            archive.writestr(path, data)
        archive.writestr(f"{info}/RECORD", record)
    return wheel


@dataclass(frozen=True)
class Kit:
    """The installed distributions (name -> its pip target folder) and the scenario script."""

    targets: Mapping[str, Path]
    scenario: Path


@pytest.fixture(scope="session")
def kit(tmp_path_factory: pytest.TempPathFactory) -> Kit:
    """Build every wheel and install each into its own folder with pip (concurrently; ~0.45 CPU-s per install)."""
    root = tmp_path_factory.mktemp("discovery")
    wheels = root / "wheels"
    wheels.mkdir()
    home = root / "pip-home"
    env = {**os.environ, "HOME": str(home), "XDG_CACHE_HOME": str(home / "cache")}
    targets = {dist.name: root / "site" / dist.name for dist in DISTS}
    pip = [sys.executable, "-m", "pip", "install", "--isolated", "--no-deps", "--no-index", "--no-cache-dir"]
    pip += ["--no-compile", "--disable-pip-version-check", "--quiet"]
    installs = [
        subprocess.Popen(
            [*pip, "--target", str(targets[dist.name]), str(build_wheel(dist, wheels))],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            text=True,
        )
        for dist in DISTS
    ]
    for dist, install in zip(DISTS, installs, strict=True):
        output, _ = install.communicate()
        assert install.returncode == 0, f"pip install {dist.name}:\n{output}"
        assert (targets[dist.name] / f"{dist.module}.py").is_file()
    scenario = root / "runner" / "scenario.py"
    scenario.parent.mkdir()
    scenario.write_text(_SCENARIO, encoding="utf-8")
    return Kit(targets, scenario)


@dataclass(frozen=True)
class World:
    """One scenario's folder: its configuration, the mark file, the stevedore cache and the environment."""

    tmp: Path
    config: Path
    mark: Path
    cache: Path
    env: Mapping[str, str]


def make_world(kit: Kit, tmp: Path, dists: Iterable[str], config: str) -> World:
    """Write ``config`` (TOML) to ``tmp/tradepay.toml`` and prepare an environment in which only ``dists`` (and
    what the venv already has) are installed."""
    path = tmp / "tradepay.toml"
    path.write_text(textwrap.dedent(config), encoding="utf-8")
    paths = [str(kit.targets[name]) for name in dists]
    if os.environ.get("PYTHONPATH"):
        paths.append(os.environ["PYTHONPATH"])
    env = {k: v for k, v in os.environ.items() if k != "TRADEPAY_CONFIG"}
    env.update(
        PYTHONPATH=os.pathsep.join(paths),
        XDG_CACHE_HOME=str(tmp / "xdg-cache"),
        HOME=str(tmp / "home"),
        PYTHONDONTWRITEBYTECODE="1",
        **{MARK_ENV: str(tmp / "imported.mark")},
    )
    return World(tmp, path, tmp / "imported.mark", tmp / "xdg-cache" / "python-entrypoints", env)


def run(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=world.tmp, env=world.env, capture_output=True, text=True, timeout=60, check=False
    )


def load_and_pay(kit: Kit, world: World) -> dict[str, Any]:
    """Run the scenario script: the host's outcome, or the error ``Host.from_config`` raised, as a dict."""
    done = run(world, str(kit.scenario), str(world.config))
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def config_for(*providers: str, extra: str = "") -> str:
    return f'[chain]\nproviders = {json.dumps(list(providers))}\n\n[host]\ndata_dir = "state"\n{extra}'


def test_a_configured_provider_loads_and_pays_and_no_other_is_imported(kit: Kit, tmp_path: Path) -> None:
    world = make_world(
        kit,
        tmp_path,
        ["acme-good", "marked-unconfigured", "broken-import"],
        config_for("acme", extra='[providers.acme]\ndeadline_s = 5\nlabel = "blue"\n'),
    )

    report = load_and_pay(kit, world)

    assert report["chain"] == ["acme"]
    assert report["result"]["resultCode"] == "9000"
    assert report["result"]["resultMessage"] == "acme paid USD 2.50"
    assert report["attempts"] == ["acme"]
    # The factory got a ProviderConfig: its name, its own settings (less the host's deadline_s), the data dir.
    assert report["configs"] == {"acme": {"settings": {"label": "blue"}, "data_dir": str(tmp_path / "state")}}
    assert "acme_provider" in report["modules"]
    assert "marked_provider" not in report["modules"]
    assert "broken_provider" not in report["modules"]
    assert not world.mark.exists()
    # stevedore's entry-point cache, when it keeps one (it does not for interpreters under /tmp), lands under
    # the scenario's XDG_CACHE_HOME, never in the user's ~/.cache.
    for path in world.cache.glob("*") if world.cache.exists() else ():
        cached = json.loads(path.read_text(encoding="utf-8"))
        assert ["acme", "acme_provider:AcmeProvider", "tradepay.providers"] in cached["groups"]["tradepay.providers"]


def test_the_mark_appears_once_the_marked_provider_is_configured(kit: Kit, tmp_path: Path) -> None:
    """The control of the test above: the mark does prove an import, and the chain keeps the configured order."""
    world = make_world(kit, tmp_path, ["acme-good", "marked-unconfigured"], config_for("marked", "acme"))

    report = load_and_pay(kit, world)

    assert report["chain"] == ["marked", "acme"]
    assert report["attempts"] == ["marked"]
    assert report["result"]["resultMessage"] == "marked paid USD 2.50"
    assert world.mark.read_text(encoding="utf-8") == "marked_provider"


def test_providers_lists_an_unconfigured_provider_from_metadata_without_importing_it(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["acme-good", "marked-unconfigured", "broken-import"], config_for("acme"))

    done = run(
        world, "-c", "from tradepay._cli.main import main; main()", "--config", str(world.config), "providers", "--json"
    )

    assert done.returncode == 0, done.stderr
    rows = {row["name"]: row for row in json.loads(done.stdout)}
    assert rows["acme"] == {
        "name": "acme",
        "distribution": "acme-good",
        "version": "1.0",
        "target": "acme_provider:AcmeProvider",
        "configured": True,
        "position": 1,
    }
    assert rows["marked"] == {
        "name": "marked",
        "distribution": "marked-unconfigured",
        "version": "1.0",
        "target": "marked_provider:MarkedProvider",
        "configured": False,
        "position": None,
    }
    assert (rows["broken"]["distribution"], rows["broken"]["configured"]) == ("broken-import", False)
    assert rows["reference"]["distribution"] == "tradepay"
    assert not world.mark.exists()


def test_a_provider_nobody_offers_is_named_with_the_fix(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["acme-good"], config_for("acme", "ghost"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "ghost")
    assert report["message"].startswith("provider 'ghost': no installed distribution offers it")
    assert "'tradepay.providers'" in report["message"]
    # The providers are installed from a source folder or a wheel: no package index publishes them.
    assert (
        "install the distribution that offers it from its source folder or from a wheel built from it"
        in (report["message"])
    )
    assert "pip install tradepay-ghost" not in report["message"]
    assert "remove it from chain.providers" in report["message"]
    assert "installed: acme, " in report["message"]


def test_a_misspelt_provider_gets_the_closest_installed_name(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["acme-good"], config_for("acmee"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "acmee")
    assert "did you mean 'acme'?" in report["message"]
    assert "pip install" not in report["message"]


def test_help_lists_a_declared_command_group_without_importing_its_provider(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["acme-good", "marked-unconfigured"], config_for("acme"))
    cli = ["-c", "from tradepay._cli.main import main; main()", "--config", str(world.config)]

    listed = run(world, *cli, "--help")
    asked = run(world, *cli, "marked", "--help")

    assert listed.returncode == 0, listed.stderr
    provided = listed.stdout.split("Provider commands")[1]
    assert re.search(r"^  marked +The marked-unconfigured provider\. \[marked-unconfigured 1\.0\]$", provided, re.M)
    assert asked.returncode == 2
    assert asked.stderr.strip().splitlines()[-1] == (
        "Error: `tradepay marked` comes from the provider 'marked' (marked-unconfigured 1.0), which is not "
        f"configured: add 'marked' to chain.providers of {world.config}"
    )
    assert not world.mark.exists()


def test_an_import_failure_names_the_distribution(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["acme-good", "broken-import"], config_for("acme", "broken"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "broken")
    assert report["message"] == (
        "provider 'broken': failed to import from broken-import==1.0: ImportError: the acquirer SDK is not "
        "installed; reinstall that distribution or remove the name from chain.providers"
    )


def test_a_name_offered_by_two_distributions_names_both(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["dup-one", "dup-two"], config_for("twin"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "twin")
    assert report["message"] == (
        "provider 'twin': is offered by more than one distribution (dup-one==1.0, dup-two==1.0); uninstall all but one"
    )


def test_a_provider_without_a_pay_hook_is_refused(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["no-pay"], config_for("nopay"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "nopay")
    assert "does not implement the `pay` hook" in report["message"]


def test_an_entry_point_that_is_not_callable_is_refused(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["no-pay"], config_for("notcallable"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "notcallable")
    assert "is not callable" in report["message"]


def test_a_config_error_from_a_factory_propagates_with_its_key(kit: Kit, tmp_path: Path) -> None:
    world = make_world(
        kit, tmp_path, ["bad-settings"], config_for("picky", extra='[providers.picky]\nlevel = 1\ncolour = "red"\n')
    )

    report = load_and_pay(kit, world)

    assert report["error"] == "ConfigError"
    assert report["key"] == "providers.picky.colour"
    assert report["message"] == "configuration providers.picky.colour: unknown setting (known: level)"


def test_a_crashing_factory_is_a_discovery_error_naming_the_provider(kit: Kit, tmp_path: Path) -> None:
    world = make_world(kit, tmp_path, ["crashing-factory", "acme-good"], config_for("acme", "crashy"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "crashy")
    assert report["message"] == "provider 'crashy': failed to start: RuntimeError: acquirer handshake failed"


def test_a_misspelt_hook_stops_start_up_naming_the_provider_and_the_hook(kit: Kit, tmp_path: Path) -> None:
    # Accepted silently, the provider would have no inquiry: every unknown answer left for reconciliation.
    world = make_world(kit, tmp_path, ["misspelt-hook"], config_for("misspelt"))

    report = load_and_pay(kit, world)

    assert (report["error"], report["provider"]) == ("DiscoveryError", "misspelt")
    assert report["message"] == (
        "provider 'misspelt': `inquiry` is marked @tradepay.hookimpl but is not a tradepay hook (did you mean "
        "`inquire`?)"
    )
