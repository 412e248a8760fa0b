"""Every ``--json`` of the command line, the core's and the plugins', follows the one convention of
``docs/cli.md`` (section "JSON output"):

* one JSON document, indented by two spaces, keys sorted, ASCII only (what ``tradepay.echo_json`` prints);
* keys in camelCase, except inside the maps keyed by data (``extendedInfo``, ``explain``'s ``decisions``);
* times (keys ending in ``At``) are ISO 8601 strings in UTC (``2026-11-25T17:20:40.123Z``) or ``null``, never
  seconds since the epoch;
* amounts are the SPI's ``PaymentAmount``: ``{"currency": "USD", "value": "2500"}``, the value a string of
  minor units.

The commands with a ``--json`` option are read from click (the core's and those the installed providers add),
and each must have a sample run below: a new ``--json`` command without one fails the test.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest
import stevedore._cache
import structlog
from click.testing import CliRunner
from cryptography.hazmat.primitives.asymmetric import rsa

import tradepay._logging
from tradepay import Config, Host
from tradepay._cli.main import cli
from tradepay._discovery import installed_providers
from tradepay.server import public_pem

DOCS = Path(__file__).resolve().parent.parent / "docs"
CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
#: Maps whose keys are data (names from the SPI's extended info, provider names), not field names.
DATA_MAPS = frozenset({"extendedInfo", "decisions"})
#: Keys whose values are amounts, and lists whose items are.
AMOUNT_KEYS = frozenset({"amount", "balanceAfter", "perPaymentLimit", "cumulativeLimit", "usedAmount"})
AMOUNT_LISTS = frozenset({"balances"})
PROVIDERS = ["agreement", "wallet", "card"]

CONFIG = """\
[chain]
providers = ["agreement", "wallet", "card"]
provider_deadline_s = 2.0

[host]
data_dir = "state"

[merchants.m-coffee]
secret = "a-long-secret-for-m-coffee"
"""

#: Run first, in order, so that every listing below has something to list.
SETUP = [
    ["wallet", "topup", "alice", "USD", "5000"],
    ["wallet", "fault", "set", "carol", "latency", "--seconds", "0.01"],
    ["agreement", "sign", "dave", "m-coffee", "--currency", "USD", "--per-payment-limit", "500", "--expires-in", "60"],
    ["merchants", "add", "m-coffee", "--public-key", "m-coffee.pub.pem", "--notify-url", "https://shop.example/n"],
]
#: A sample run of every command with --json, in the order they run.
SAMPLES = {
    "tradepay providers": ["providers", "--json"],
    "tradepay explain": ["explain", "--amount", "2500", "--currency", "USD", "--json"],
    "tradepay orders create": ["orders", "create", "--amount", "1250", "--currency", "USD", "--payer", "alice",
                               "--merchant", "m-coffee", "--trade-no", "T-json", "--expires-in", "600", "--json"],
    "tradepay pay": ["pay", "--trade-no", "T-json", "--json"],
    "tradepay orders show": ["orders", "show", "T-json", "--json"],
    "tradepay payments list": ["payments", "list", "--json"],
    "tradepay payments show": ["payments", "show", "T-json", "--json"],
    "tradepay refund": ["refund", "T-json", "--amount", "250", "--request-id", "r-json", "--reason", "late", "--json"],
    "tradepay refunds list": ["refunds", "list", "--json"],
    "tradepay refunds show": ["refunds", "show", "T-json", "--json"],
    "tradepay reconcile": ["reconcile", "--json"],
    "tradepay doctor": ["doctor", "--json"],
    "tradepay wallet balance": ["wallet", "balance", "alice", "--json"],
    "tradepay wallet history": ["wallet", "history", "alice", "--json"],
    "tradepay wallet fault list": ["wallet", "fault", "list", "--json"],
    "tradepay card add": ["card", "add", "bob", "4242424242424242", "--exp", "12/30", "--cvc", "123", "--json"],
    "tradepay card list": ["card", "list", "bob", "--json"],
    "tradepay agreement list": ["agreement", "list", "--json"],
    "tradepay merchants list": ["merchants", "list", "--json"],
    "tradepay notify list": ["notify", "list", "--json"],
    "tradepay notify show": ["notify", "show", "T-json", "--json"],
    "tradepay notify retry": ["notify", "retry", "T-json", "--json"],
}  # fmt: skip


def is_amount(value: object) -> bool:
    return (
        isinstance(value, dict)
        and set(value) == {"currency", "value"}
        and isinstance(value["currency"], str)
        and re.fullmatch(r"[A-Z]{3}", value["currency"]) is not None
        and isinstance(value["value"], str)
        and re.fullmatch(r"0|[1-9][0-9]*", value["value"]) is not None
    )


def violations(value: Any, where: str = "", *, data_keys: bool = False) -> Iterator[str]:
    """Where ``value`` breaks the convention, as ``path: what``."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            yield from violations(item, f"{where}[{index}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            at = f"{where}.{key}"
            if not data_keys and not CAMEL.fullmatch(key):
                yield f"{at}: the key is not camelCase"
            if key.endswith("At") and not (item is None or (isinstance(item, str) and ISO_UTC.fullmatch(item))):
                yield f"{at}: a time must be an ISO 8601 UTC string (json_time) or null, not {item!r}"
            if key in AMOUNT_KEYS and not (item is None or is_amount(item)):
                yield f'{at}: an amount must be {{"currency", "value"}} in minor units (json_amount), not {item!r}'
            if key in AMOUNT_LISTS and not (isinstance(item, list) and all(is_amount(i) for i in item)):
                yield f"{at}: must be a list of amounts, not {item!r}"
            yield from violations(item, at, data_keys=key in DATA_MAPS)
    elif isinstance(value, float) and 1e9 < value < 1e10:
        yield f"{where}: {value} looks like seconds since the epoch: times are ISO 8601 strings"


def test_the_convention_check_catches_what_it_should() -> None:
    bad = {
        "trade_no": "T1",
        "createdAt": 1_800_000_000.5,
        "amount": {"currency": "USD", "value": 2500},
        "balances": {"USD": 1},
        "extendedInfo": {"snake_case_is_data": "fine"},
        "updated": 1_800_000_000.5,
    }
    assert sorted(violations(bad)) == [
        '.amount: an amount must be {"currency", "value"} in minor units (json_amount), not '
        "{'currency': 'USD', 'value': 2500}",
        ".balances.USD: the key is not camelCase",
        ".balances: must be a list of amounts, not {'USD': 1}",
        ".createdAt: 1800000000.5 looks like seconds since the epoch: times are ISO 8601 strings",
        ".createdAt: a time must be an ISO 8601 UTC string (json_time) or null, not 1800000000.5",
        ".trade_no: the key is not camelCase",
        ".updated: 1800000000.5 looks like seconds since the epoch: times are ISO 8601 strings",
    ]
    assert list(violations({"createdAt": "2027-01-15T08:00:00.000Z", "amount": None, "balances": []})) == []


def json_commands(group: click.Group, prefix: str = "tradepay") -> set[str]:
    found = set()
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found |= json_commands(command, path)
        elif any("--json" in getattr(param, "opts", ()) for param in command.params):
            found.add(path)
    return found


@pytest.fixture
def workspace(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """A folder with the configuration, as the working directory; plugin commands kept off ``cli`` afterwards,
    stevedore's cache under ``tmp_path`` and logging configured uncached (and given back)."""
    if not set(PROVIDERS) <= {p.name for p in installed_providers()}:
        pytest.skip("needs tradepay-agreement, tradepay-wallet and tradepay-card installed")
    configure = tradepay._logging.configure_logging
    saved = structlog.get_config()
    monkeypatch.setattr(tradepay._logging, "configure_logging", lambda **kw: configure(**{**kw, "cache": False}))
    monkeypatch.setattr(stevedore._cache._c, "_dir", str(tmp_path / "xdg-cache" / "python-entrypoints"))
    monkeypatch.setattr(stevedore._cache._c, "_internal", {})
    monkeypatch.setattr(cli, "_plugins_loaded", False)
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TRADEPAY_CONFIG", raising=False)
    (tmp_path / "tradepay.toml").write_text(CONFIG, encoding="utf-8")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "m-coffee.pub.pem").write_text(public_pem(key), encoding="ascii")  # the merchant, notified
    yield tmp_path
    structlog.configure(**saved)


def every_json_command(root: Path) -> set[str]:
    """The core's commands with --json, and those of the providers' command groups."""
    host = Host.from_config(Config.from_mapping({"chain": {"providers": PROVIDERS}}, base_dir=root))
    group = click.Group("tradepay", commands=dict(cli.commands))
    try:
        host.pm.hook.add_cli_commands(cli=group)
    finally:
        host.close()
    return json_commands(group)


def test_every_json_command_follows_the_convention(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert every_json_command(workspace) == set(SAMPLES), "give every --json command a sample run in SAMPLES"
    builtin = dict(cli.commands)

    def run(args: list[str]) -> str:
        # Each run is a new process for the command line: its plugin commands are loaded afresh.
        monkeypatch.setattr(cli, "_plugins_loaded", False)
        monkeypatch.setattr(cli, "commands", dict(builtin))
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, f"$ tradepay {' '.join(args)}\n{result.output}{result.exception!r}"
        return result.stdout

    for args in SETUP:
        run(args)
    problems = []
    for path, args in SAMPLES.items():
        text = run(args)
        data = json.loads(text)
        if text != json.dumps(data, indent=2, sort_keys=True) + "\n":
            problems.append(f"{path}: not printed by echo_json (two-space indent, sorted keys, ASCII)")
        problems += [f"{path}: {problem}" for problem in violations(data)]
    assert not problems, "\n".join(problems)


def test_the_convention_is_documented() -> None:
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    assert "\n## JSON output\n" in text
    section = text.split("\n## JSON output\n", 1)[1].split("\n## ", 1)[0]
    for rule in ("camelCase", "ISO 8601", '{"currency": "USD", "value": "2500"}', "extendedInfo", "sorted"):
        assert rule in section, f"docs/cli.md's JSON output section does not say {rule!r}"
