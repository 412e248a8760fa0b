"""The ``tradepay`` command line: click's test runner for every command, and the installed console script once.

Every test names its configuration with ``--config`` (or sets ``$TRADEPAY_CONFIG`` / the working directory
explicitly when the lookup itself is under test). An error must exit nonzero with one ``Error:`` line and
no Python traceback: the runner catches exceptions, so ``result.exception`` is checked too.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import textwrap
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

import tradepay
import tradepay._logging
from tradepay import (
    Attempt,
    AttemptRecord,
    ChainSettings,
    Config,
    ConfigError,
    Decision,
    Host,
    HostSettings,
    OutcomeKind,
    Payment,
    PaymentAmount,
    PaymentResult,
    PaymentStatus,
    ProviderStatus,
    ResultCode,
    json_time,
    load_config,
)
from tradepay._chain.rules import _RULE_KEYS
from tradepay._cli.explain import SAMPLE_OUTCOMES
from tradepay._cli.guard import describe
from tradepay._cli.main import cli
from tradepay._cli.waiting import WaitingLine
from tradepay._config import HOST_PROVIDER_KEYS, MAX_CONFIG_BYTES, LedgerSettings, NotificationSettings
from tradepay._discovery import InstalledCommand, installed_commands, installed_providers
from tradepay._ledger.databases import SQLiteDatabase

REFERENCE = '[chain]\nproviders = ["reference"]\n\n[host]\ndata_dir = "state"\n'
THEN_INQUIRE = "inquire; paid: stop; not paid: next; unknown: cancel"


def invoke(*args: str, env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="tradepay", env=env)


@pytest.fixture
def write_config(tmp_path: Path) -> Callable[..., Path]:
    """``write_config(toml, name="tradepay.toml")``: a configuration file in ``tmp_path``."""

    def write(body: str, name: str = "tradepay.toml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def reference_config(write_config: Callable[..., Path]) -> Path:
    return write_config(REFERENCE)


def assert_one_line_error(result: Result, exit_code: int = 1) -> str:
    """The command failed cleanly: ``exit_code``, no traceback, exactly one ``Error:`` line (returned)."""
    assert result.exit_code == exit_code, (result.output, result.exception)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    if exit_code == 1 or not result.stderr.startswith("Usage:"):  # not click's usage: the error line is all
        assert result.stderr.splitlines() == errors
        assert result.stdout == ""
    return errors[0]


def payments_of(config: Path, trade_no: str | None = None) -> list[Payment]:
    """The payments the configuration's ledger holds (of order ``trade_no``, if given), newest first."""
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        return host.ledger.payments(trade_no=trade_no)
    finally:
        host.close()


def json_of(result: Result) -> Any:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return json.loads(result.stdout)


# --- --version and providers ---------------------------------------------------------------------------------


def test_version() -> None:
    result = invoke("--version")

    assert result.exit_code == 0
    assert result.stdout == f"tradepay, version {importlib.metadata.version('tradepay')}\n"
    assert tradepay.__version__ == importlib.metadata.version("tradepay")


def test_providers_json_lists_the_installed_providers_and_their_place_in_the_chain(reference_config: Path) -> None:
    result = invoke("--config", str(reference_config), "providers", "--json")

    assert result.exit_code == 0, result.output
    rows = json_of(result)
    [reference_ep] = importlib.metadata.distribution("tradepay").entry_points.select(
        group="tradepay.providers", name="reference"
    )
    assert [row["name"] for row in rows] == sorted(p.name for p in installed_providers())
    by_name = {row["name"]: row for row in rows}
    assert by_name["reference"] == {
        "name": "reference",
        "distribution": "tradepay",
        "version": importlib.metadata.version("tradepay"),
        "target": reference_ep.value,
        "configured": True,
        "position": 1,
    }
    others = [row for row in rows if row["name"] != "reference"]
    assert all(row["configured"] is False and row["position"] is None for row in others)


def test_providers_text_marks_the_configured_chain(write_config: Callable[..., Path]) -> None:
    config = write_config('[chain]\nproviders = ["reference"]\n')

    result = invoke("--config", str(config), "providers")

    assert result.exit_code == 0, result.output
    [line] = [line for line in result.stdout.splitlines() if line.startswith("reference ")]
    assert f"tradepay=={importlib.metadata.version('tradepay')}" in line
    assert line.endswith("chain #1")
    assert "no configuration found" not in result.stdout


def test_providers_without_any_configuration_still_lists_from_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # empty: no ./tradepay.toml, and $TRADEPAY_CONFIG is unset

    as_json = invoke("providers", "--json")
    as_text = invoke("providers")

    assert (as_json.exit_code, as_text.exit_code) == (0, 0)
    rows = json_of(as_json)
    assert "reference" in {row["name"] for row in rows}
    assert all(row["configured"] is None for row in rows)
    assert as_text.stdout.splitlines()[-1] == "(no configuration found: `tradepay init` writes one)"


def test_providers_with_an_invalid_configuration_names_the_key(write_config: Callable[..., Path]) -> None:
    config = write_config('[chain]\nproviders = ["reference"]\nbogus = 1\n')

    result = invoke("--config", str(config), "providers")

    assert "configuration chain.bogus: unknown key" in assert_one_line_error(result)


# --- help, and no dead ends ------------------------------------------------------------------------------------

ACME = InstalledCommand("acme", "acme", "acme-pay", "1.2", "The Acme acquirer, as a tradepay provider.")


def test_help_lists_the_command_groups_installed_providers_declare(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no configuration: nothing can be (or is) imported
    declared = [*installed_commands(), ACME]
    monkeypatch.setattr("tradepay._discovery.installed_commands", lambda: declared)

    result = invoke("--help")

    assert result.exit_code == 0, result.output
    builtin, provided = result.stdout.split("Provider commands (each needs its provider in chain.providers):\n")
    assert "  pay " in builtin
    listed = {line.split()[0] for line in provided.splitlines() if re.match(r"  \S", line)}  # not a wrapped line
    assert listed == {c.name for c in declared}
    assert "  acme " in provided
    assert "The Acme acquirer, as a tradepay provider. [acme-pay 1.2]" in provided


def test_help_without_provider_commands_has_no_such_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tradepay._discovery.installed_commands", list)

    result = invoke("--help")

    assert result.exit_code == 0, result.output
    assert "Provider commands" not in result.stdout


def test_a_provider_group_without_a_configuration_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("tradepay._discovery.installed_commands", lambda: [ACME])

    result = invoke("acme", "--help")

    line = assert_one_line_error(result, exit_code=1)  # the configuration failed: an environment failure
    assert line.startswith(
        "Error: `tradepay acme` comes from the provider 'acme' (acme-pay 1.2), which needs a configuration that "
        "lists it in chain.providers: configuration: no configuration found: run `tradepay init`"
    )
    assert "no such command" not in line


def test_a_provider_group_not_in_the_chain_says_where_to_add_it(
    reference_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("tradepay._discovery.installed_commands", lambda: [ACME])

    result = invoke("--config", str(reference_config), "acme", "--help")

    line = assert_one_line_error(result, exit_code=2)
    assert line == (
        "Error: `tradepay acme` comes from the provider 'acme' (acme-pay 1.2), which is not configured: add 'acme' "
        f"to chain.providers of {reference_config}"
    )


@pytest.mark.parametrize(("typed", "meant"), [("pya", "pay"), ("reconcille", "reconcile"), ("payment", "payments")])
def test_a_misspelt_command_gets_the_closest_one(reference_config: Path, typed: str, meant: str) -> None:
    result = invoke("--config", str(reference_config), typed)

    line = assert_one_line_error(result, exit_code=2)
    assert line == f"Error: no such command {typed!r}; did you mean {meant!r}?"


def test_a_misspelt_provider_in_the_chain_gets_the_closest_installed_name(write_config: Callable[..., Path]) -> None:
    config = write_config('[chain]\nproviders = ["refrence"]\n')

    result = invoke("--config", str(config), "explain", "--amount", "100", "--currency", "USD")

    line = assert_one_line_error(result)
    assert line.startswith("Error: provider 'refrence': no installed distribution offers it")
    assert "did you mean 'reference'?" in line
    assert "pip install tradepay-" not in line


# --- init ----------------------------------------------------------------------------------------------------


def test_init_writes_a_configuration_that_load_config_accepts(tmp_path: Path) -> None:
    path = tmp_path / "new.toml"

    result = invoke("init", "--path", str(path), "--providers", "reference")

    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {path} with chain ['reference']\n"
    config = load_config(path)
    assert config.chain == ChainSettings(providers=("reference",))
    assert config.host == HostSettings(data_dir=(tmp_path / ".tradepay").resolve())
    assert config.provider_settings("reference").deadline_s is None
    assert dict(config.provider_settings("reference").settings) == {}
    assert config.rules == ()
    assert config.path == path


def test_init_defaults_to_every_installed_provider_but_reference(tmp_path: Path) -> None:
    path = tmp_path / "tradepay.toml"
    installed = sorted({p.name for p in installed_providers()})

    result = invoke("init", "--path", str(path))

    assert result.exit_code == 0, result.output
    expected = [name for name in installed if name != "reference"] or ["reference"]
    assert load_config(path).chain.providers == tuple(expected)


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    path = tmp_path / "tradepay.toml"
    path.write_text("# mine\n", encoding="utf-8")

    refused = invoke("init", "--path", str(path), "--providers", "reference")

    assert assert_one_line_error(refused) == f"Error: {path} exists: use --force to overwrite it"
    assert path.read_text(encoding="utf-8") == "# mine\n"

    forced = invoke("init", "--path", str(path), "--providers", "reference", "--force")

    assert forced.exit_code == 0, forced.output
    assert load_config(path).chain.providers == ("reference",)


def test_init_refuses_a_directory_as_path(tmp_path: Path) -> None:
    result = invoke("init", "--path", str(tmp_path), "--providers", "reference")

    assert "is a directory" in assert_one_line_error(result, exit_code=2)


@pytest.mark.parametrize("names", ["Not A Name", "reference,reference", 'x"]'])
def test_init_refuses_provider_names_the_configuration_would_refuse(tmp_path: Path, names: str) -> None:
    path = tmp_path / "tradepay.toml"

    result = invoke("init", "--path", str(path), "--providers", names)

    assert "--providers" in assert_one_line_error(result, exit_code=2)
    assert not path.exists()


def test_init_into_a_missing_folder_is_a_clean_error(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "tradepay.toml"

    result = invoke("init", "--path", str(path), "--providers", "reference")

    assert str(path) in assert_one_line_error(result)


def test_init_force_replaces_a_symbolic_link_and_leaves_its_target_alone(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    target.write_text("# someone else's file\n", encoding="utf-8")
    link = tmp_path / "tradepay.toml"
    link.symlink_to(target)

    refused = invoke("init", "--path", str(link), "--providers", "reference")
    forced = invoke("init", "--path", str(link), "--providers", "reference", "--force")

    assert assert_one_line_error(refused) == f"Error: {link} exists: use --force to overwrite it"
    assert forced.exit_code == 0, forced.output
    assert not link.is_symlink()
    assert load_config(link).chain.providers == ("reference",)
    assert target.read_text(encoding="utf-8") == "# someone else's file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere.toml", "tradepay.toml"]  # nothing staged left


def test_init_counts_a_dangling_symbolic_link_as_existing(tmp_path: Path) -> None:
    link = tmp_path / "tradepay.toml"
    link.symlink_to(tmp_path / "nowhere" / "file.toml")

    refused = invoke("init", "--path", str(link), "--providers", "reference")

    assert assert_one_line_error(refused) == f"Error: {link} exists: use --force to overwrite it"
    assert link.is_symlink()
    assert not (tmp_path / "nowhere").exists()


def uncommented(text: str) -> str:
    """The starter configuration with its commented-out settings and tables put back (``# url = ...``)."""
    setting = re.compile(r"# (\[\[?[\w.-]+\]\]?|[a-z_]+ = .*)$")
    return "\n".join(m.group(1) if (m := setting.fullmatch(line)) else line for line in text.splitlines())


def config_keys(raw: dict[str, Any]) -> set[str]:
    """The dotted keys of a parsed configuration, spelt as docs/configuration.md spells them."""
    keys = set()
    for table, value in raw.items():
        if table == "providers":
            keys |= {f"providers.NAME.{key}" for settings in value.values() for key in settings}
        elif table == "merchants":
            keys |= {f"merchants.ID.{key}" for entry in value.values() for key in entry}
        elif table == "rules":
            keys |= {f"rules[].{key}" for rule in value for key in rule}
        else:
            keys |= {f"{table}.{key}" for key in value}
    return keys


def test_init_writes_every_configuration_key(tmp_path: Path) -> None:
    path = tmp_path / "tradepay.toml"

    result = invoke("init", "--path", str(path), "--providers", "reference")

    assert result.exit_code == 0, result.output
    text = path.read_text(encoding="utf-8")
    every = uncommented(text)
    raw = tomllib.loads(every)
    known = {f"chain.{f.name}" for f in dataclasses.fields(ChainSettings)}
    known |= {f"host.{f.name}" for f in dataclasses.fields(HostSettings)}
    known |= {f"ledger.{f.name}" for f in dataclasses.fields(LedgerSettings)}
    known |= {f"notifications.{f.name}" for f in dataclasses.fields(NotificationSettings)}
    known |= {f"providers.NAME.{key}" for key in HOST_PROVIDER_KEYS}
    known |= {f"rules[].{key}" for key in _RULE_KEYS} | {"merchants.ID.secret"}
    assert config_keys(raw) == known
    # What is written uncommented is each default; what is commented out is valid when put back.
    assert load_config(path).chain == ChainSettings(providers=("reference",))
    assert load_config(path).ledger == LedgerSettings()
    assert load_config(path).notifications == NotificationSettings()
    Config.from_mapping(raw, base_dir=tmp_path)


@pytest.mark.parametrize(
    ("names", "says"),
    [
        ("reference,nosuch", "'nosuch' is not installed: install the distribution that offers it from its source"),
        ("refrence", "'refrence' is not installed: did you mean 'reference'?"),
        ("", "name at least one provider"),
        (" , ", "name at least one provider"),
    ],
)
def test_init_refuses_providers_that_are_not_installed(tmp_path: Path, names: str, says: str) -> None:
    path = tmp_path / "tradepay.toml"

    result = invoke("init", "--path", str(path), "--providers", names)

    line = assert_one_line_error(result, exit_code=2)
    assert f"Invalid value for '--providers': {says}" in line
    assert "pip install tradepay-" not in result.output
    assert not path.exists()


def test_init_names_the_option_not_the_configuration_key(tmp_path: Path) -> None:
    result = invoke("init", "--path", str(tmp_path / "t.toml"), "--providers", "Bad")

    line = assert_one_line_error(result, exit_code=2)
    assert line == "Error: Invalid value for '--providers': 'Bad' is not a provider name (lowercase, a-z0-9_-)"


# --- explain -------------------------------------------------------------------------------------------------


def decisions_by_answer(report: dict[str, Any], provider: str) -> dict[str, tuple[str, str, str]]:
    return {row["answer"]: (row["rule"], row["decision"], row["then"]) for row in report["decisions"][provider]}


def test_explain_json_shows_the_rule_and_decision_for_every_answer(reference_config: Path) -> None:
    result = invoke("--config", str(reference_config), "explain", "--amount", "100", "--currency", "USD", "--json")

    assert result.exit_code == 0, result.output
    report = json_of(result)
    assert report["amount"] == {"currency": "USD", "value": "100"}
    assert report["plan"] == [{"provider": "reference", "skipped": None}]
    rows = decisions_by_answer(report, "reference")
    assert list(rows) == [label for label, _, _ in SAMPLE_OUTCOMES]
    assert rows["9000 success"] == ("success", "stop", "answer now")
    assert rows["6001 user cancel"] == ("user-cancel", "stop", "answer now")
    assert rows["4000/1002 STOLEN_CARD"] == ("risk-decline", "stop", "answer now")
    assert rows["4000/1002 RISK_REJECT"] == ("risk-decline", "stop", "answer now")
    assert rows["4000/1002 declined"] == ("app-service-error", "fallthrough", "try the next provider")
    assert rows["6004 unknown result"] == ("unknown-result", "inquire", THEN_INQUIRE)
    assert rows["exception"] == ("provider-exception", "inquire", THEN_INQUIRE)
    assert rows["deadline missed"] == ("deadline-missed", "inquire", THEN_INQUIRE)


def test_explain_shows_a_configured_rule_before_the_defaults(write_config: Callable[..., Path]) -> None:
    config = write_config(
        REFERENCE
        + '\n[[rules]]\nname = "keep-declines"\nprovider = "reference"\nresult_code = "4000"\n'
        + 'detail = "CARD_DECLINED"\ndecision = "stop"\n'
    )

    result = invoke("--config", str(config), "explain", "--amount", "100", "--currency", "USD", "--json")

    assert result.exit_code == 0, result.output
    rows = decisions_by_answer(json_of(result), "reference")
    assert rows["4000/1002 declined"] == ("keep-declines", "stop", "answer now")
    assert rows["4000/1005 system error"] == ("system-error", "fallthrough", "try the next provider")


def test_explain_skips_a_provider_whose_capabilities_exclude_the_currency(write_config: Callable[..., Path]) -> None:
    config = write_config(REFERENCE + '\n[providers.reference]\ncurrencies = ["EUR"]\n')

    usd = invoke("--config", str(config), "explain", "--amount", "100", "--currency", "USD", "--json")
    eur = invoke("--config", str(config), "explain", "--amount", "100", "--currency", "EUR", "--json")

    assert (usd.exit_code, eur.exit_code) == (0, 0), (usd.output, eur.output)
    assert json_of(usd)["plan"] == [{"provider": "reference", "skipped": "currency USD not supported (supports EUR)"}]
    assert json_of(eur)["plan"] == [{"provider": "reference", "skipped": None}]


def test_explain_text(reference_config: Path) -> None:
    result = invoke("--config", str(reference_config), "explain", "--amount", "100", "--currency", "USD")

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[:2] == ["paying USD 1.00:", "  1. reference: tried"]
    [stolen] = [line for line in lines if "STOLEN_CARD" in line]
    assert stolen.split() == ["4000/1002", "STOLEN_CARD", "risk-decline", "stop", "answer", "now"]


# --- pay -----------------------------------------------------------------------------------------------------


def test_pay_json_pays_through_the_reference_provider(reference_config: Path) -> None:
    result = invoke(
        "--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer", "alice", "--json"
    )

    assert result.exit_code == 0, result.output
    report = json_of(result)
    assert report["result"]["resultCode"] == "9000"
    assert report["result"]["extendedInfo"]["provider"] == "reference"
    payment = report["payment"]
    assert payment["status"] == "succeeded"
    assert payment["paymentId"] == report["result"]["extendedInfo"]["paymentId"]
    [attempt] = payment["attempts"]
    assert (attempt["number"], attempt["provider"], attempt["rule"], attempt["final"]) == (
        1,
        "reference",
        "success",
        "stop",
    )
    assert attempt["idempotencyKey"] == f"{payment['paymentId']}-1"
    assert attempt["status"] == "paid"  # the attempt's status under the name it has in Python
    assert report["stored"] is False


def test_pay_text(reference_config: Path) -> None:
    result = invoke(
        "--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer", "alice",
        "--trade-no", "T-cli-1",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    [payment] = payments_of(reference_config)
    assert lines[0] == f"payment {payment.payment_id} of order T-cli-1: USD 2.50 from alice to merchant-1"
    assert len(lines) == 3
    assert lines[1].split()[:5] == ["#1", "reference", "9000", "success", "->"]
    assert lines[2].startswith("  => 9000 succeeded: ")


def test_a_scripted_decline_exits_1_with_result_4000(write_config: Callable[..., Path]) -> None:
    config = write_config(REFERENCE + '\n[providers.reference]\nscript = ["decline"]\n')

    result = invoke("--config", str(config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a", "--json")

    assert result.exit_code == 1, result.output
    report = json_of(result)
    assert report["result"]["resultCode"] == "4000"
    assert report["result"]["resultError"]["errorCode"] == 1002
    assert report["payment"]["status"] == "failed"
    [attempt] = report["payment"]["attempts"]
    assert (attempt["rule"], attempt["final"]) == ("app-service-error", "fallthrough")


def test_pay_with_no_capable_provider_exits_1(write_config: Callable[..., Path]) -> None:
    config = write_config(REFERENCE + '\n[providers.reference]\ncurrencies = ["EUR"]\n')

    result = invoke("--config", str(config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a", "--json")

    assert result.exit_code == 1, result.output
    report = json_of(result)
    assert report["result"]["resultCode"] == "4000"
    assert report["payment"]["attempts"] == []


def test_paying_a_paid_order_again_says_it_is_the_stored_answer(reference_config: Path) -> None:
    first = invoke("--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a",
                   "--trade-no", "T-again")  # fmt: skip
    assert first.exit_code == 0, first.output

    again = invoke("--config", str(reference_config), "pay", "--trade-no", "T-again")
    as_json = invoke("--config", str(reference_config), "pay", "--trade-no", "T-again", "--json")

    assert again.exit_code == 0, again.output
    [payment] = payments_of(reference_config, "T-again")
    assert len(payment.attempts) == 1  # no provider was called again
    lines = again.stdout.splitlines()
    assert lines == [
        f"payment {payment.payment_id} of order T-again: USD 2.50 from a to merchant-1",
        f"  no provider called: the stored answer of this payment (`tradepay payments show {payment.payment_id}` "
        "tells its story)",
        first.stdout.splitlines()[-1],
    ]
    assert json_of(as_json)["stored"] is True


@pytest.mark.parametrize(
    ("script", "status", "then"),
    [
        ("success", "paid", "`tradepay payments show T-taken` shows how; give another --trade-no for a new order"),
        ("decline", "open", "pay it with `tradepay pay --trade-no T-taken`, or give another --trade-no"),
    ],
)
def test_a_new_order_on_a_taken_trade_number_says_its_status_and_what_to_do(
    write_config: Callable[..., Path], script: str, status: str, then: str
) -> None:
    config = write_config(REFERENCE + f'\n[providers.reference]\nscript = ["{script}"]\n')
    invoke("--config", str(config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a", "--trade-no",
           "T-taken")  # fmt: skip
    before = payments_of(config)

    repeated = invoke("--config", str(config), "pay", "--amount", "999", "--currency", "USD", "--payer", "b",
                      "--trade-no", "T-taken")  # fmt: skip
    created = invoke("--config", str(config), "orders", "create", "--amount", "999", "--currency", "USD",
                     "--payer", "b", "--merchant", "m", "--trade-no", "T-taken")  # fmt: skip

    for result in (repeated, created):
        line = assert_one_line_error(result, exit_code=2)
        assert line == f"Error: order T-taken exists already (USD 2.50 from a to merchant-1, {status}): {then}"
    assert payments_of(config) == before


@pytest.mark.parametrize("command", [["pay", "--amount", "100", "--currency", "USD", "--payer", "a"],
                                     ["orders", "create", "--amount", "100", "--currency", "USD", "--payer", "a",
                                      "--merchant", "m"]])  # fmt: skip
@pytest.mark.parametrize(("trade_no", "why"), [("", "must not be empty"), ("T 1", "may hold only letters")])
def test_an_empty_or_bad_trade_number_is_refused_not_replaced(
    reference_config: Path, command: list[str], trade_no: str, why: str
) -> None:
    result = invoke("--config", str(reference_config), *command, "--trade-no", trade_no)

    assert assert_one_line_error(result, exit_code=2).startswith(f"Error: Invalid value for '--trade-no': {why}")
    assert payments_of(reference_config) == []
    listed = invoke("--config", str(reference_config), "payments", "list")
    assert listed.stdout == "no payments\n"


def test_paying_as_somebody_else_names_the_payer_option(reference_config: Path) -> None:
    invoke("--config", str(reference_config), "orders", "create", "--amount", "100", "--currency", "USD",
           "--payer", "alice", "--merchant", "m", "--trade-no", "T-alice")  # fmt: skip

    result = invoke("--config", str(reference_config), "pay", "--trade-no", "T-alice", "--payer", "bob")

    line = assert_one_line_error(result, exit_code=2)
    assert line == "Error: Invalid value for '--payer': 'bob' is not the payer of order T-alice (alice is)"
    assert "api_context" not in result.output
    assert payments_of(reference_config) == []


def test_a_bad_merchant_names_the_merchant_option(reference_config: Path) -> None:
    result = invoke("--config", str(reference_config), "pay", "--amount", "100", "--currency", "USD", "--payer",
                    "a", "--merchant", "m 1")  # fmt: skip

    line = assert_one_line_error(result, exit_code=2)
    assert line.startswith("Error: Invalid value for '--merchant': may hold only letters")


# --- a hung provider, on a terminal -------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_waiting_line_appears_after_a_while_and_is_erased() -> None:
    stream, clock = io.StringIO(), FakeClock()
    line = WaitingLine(stream, show_after_s=1.0, clock=clock)

    line.refresh()
    assert stream.getvalue() == ""  # no attempt in flight
    line.attempt_started(Attempt("pay_1", 2, "wallet", "pay_1-2"))
    clock.now += 0.5
    line.refresh()
    assert stream.getvalue() == ""  # too early: most answers come within the second
    clock.now += 2.6
    line.refresh()
    assert stream.getvalue() == "\r\x1b[Kwaiting on provider wallet (attempt #2) for 3 s"
    line.attempt_finished()
    assert stream.getvalue().endswith("for 3 s\r\x1b[K")
    line.close()
    assert stream.getvalue().count("\r\x1b[K") == 2  # nothing more to erase


def test_a_fast_attempt_leaves_nothing_on_the_terminal() -> None:
    stream, clock = io.StringIO(), FakeClock()
    line = WaitingLine(stream, show_after_s=1.0, clock=clock)

    line.attempt_started(Attempt("pay_1", 1, "wallet", "pay_1-1"))
    line.attempt_finished()
    line.close()

    assert stream.getvalue() == ""


HANGING = (
    REFERENCE.replace("[host]", "provider_deadline_s = 0.3\n\n[host]", 1).replace("[chain]\n", "[chain]\n", 1)
    + '\n[providers.reference]\nscript = ["hang"]\nhang_s = 0.3\n'
)


@pytest.mark.parametrize(("terminal", "as_json", "shown"), [(True, False, True), (True, True, False),
                                                            (False, False, False)])  # fmt: skip
def test_pay_shows_which_provider_it_waits_on_only_on_a_terminal(
    write_config: Callable[..., Path], monkeypatch: pytest.MonkeyPatch, terminal: bool, as_json: bool, shown: bool
) -> None:
    config = write_config(HANGING)
    monkeypatch.setattr("tradepay._cli.waiting.stderr_is_terminal", lambda: terminal)
    monkeypatch.setattr("tradepay._cli.waiting.SHOW_AFTER_S", 0.0)
    monkeypatch.setattr("tradepay._cli.waiting._REFRESH_S", 0.01)

    result = invoke("--config", str(config), "pay", "--amount", "100", "--currency", "USD", "--payer", "a",
                    *(["--json"] if as_json else []))  # fmt: skip

    assert result.exit_code == 1, result.output  # the hung attempt fell through after inquiry: nothing moved
    assert ("waiting on provider reference (attempt #1) for " in result.stderr) is shown
    if not shown:
        assert result.stderr == ""
    else:
        assert result.stderr.endswith("\r\x1b[K")  # erased: the result is not written after it


# --- orders, payments, reconcile -------------------------------------------------------------------------------


def seed_order(config: Path, trade_no: str, *, expires_at: float | None = None) -> None:
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        host.ledger.create_order(
            PaymentAmount("USD", "2500"), merchant_id="m", payer_id="alice", trade_no=trade_no, expires_at=expires_at
        )
    finally:
        host.close()


def test_orders_show_prints_the_amount_in_major_units(reference_config: Path) -> None:
    seed_order(reference_config, "T-show")

    result = invoke("--config", str(reference_config), "orders", "show", "T-show")
    as_json = json_of(invoke("--config", str(reference_config), "orders", "show", "T-show", "--json"))

    assert result.stdout == "order T-show: USD 25.00 from alice to m, open\n"
    assert as_json["amount"] == {"currency": "USD", "value": "2500"}
    assert (as_json["status"], as_json["expired"], as_json["expiresAt"]) == ("open", False, None)


def test_an_expired_order_shows_as_expired(reference_config: Path) -> None:
    expired_at = time.time() - 60
    seed_order(reference_config, "T-late", expires_at=expired_at)

    result = invoke("--config", str(reference_config), "orders", "show", "T-late")
    as_json = json_of(invoke("--config", str(reference_config), "orders", "show", "T-late", "--json"))

    when = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expired_at))
    assert result.stdout == f"order T-late: USD 25.00 from alice to m, expired at {when}: it can no longer be paid\n"
    assert (as_json["status"], as_json["expired"]) == ("open", True)
    assert as_json["expiresAt"] == json_time(expired_at)


@pytest.mark.parametrize(
    ("trade_no", "why"),
    [("T-nowhere", "no order 'T-nowhere'"), ("T-paid", "order 'T-paid' is paid and cannot be closed")],
)
def test_closing_an_order_that_cannot_be_closed_names_the_argument(
    reference_config: Path, trade_no: str, why: str
) -> None:
    invoke("--config", str(reference_config), "pay", "--amount", "100", "--currency", "USD", "--payer", "a",
           "--trade-no", "T-paid")  # fmt: skip

    result = invoke("--config", str(reference_config), "orders", "close", trade_no)

    assert assert_one_line_error(result, exit_code=2) == f"Error: Invalid value for 'TRADE_NO': {why}"


def test_payments_show_takes_a_trade_number_too(reference_config: Path) -> None:
    paid = invoke("--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a",
                  "--trade-no", "T-story")  # fmt: skip
    [payment] = payments_of(reference_config)

    by_id = invoke("--config", str(reference_config), "payments", "show", payment.payment_id)
    by_trade_no = invoke("--config", str(reference_config), "payments", "show", "T-story")
    nowhere = invoke("--config", str(reference_config), "payments", "show", "T-nowhere")

    assert paid.exit_code == by_id.exit_code == by_trade_no.exit_code == 0
    assert by_trade_no.stdout == by_id.stdout
    assert by_id.stdout.startswith(f"payment {payment.payment_id} of order T-story: succeeded (started ")
    assert "no payment or order 'T-nowhere'" in assert_one_line_error(nowhere, exit_code=2)


def test_payments_show_of_an_order_without_payment_says_how_to_pay_it(reference_config: Path) -> None:
    seed_order(reference_config, "T-unpaid")

    result = invoke("--config", str(reference_config), "payments", "show", "T-unpaid")

    line = assert_one_line_error(result)
    assert line == "Error: order T-unpaid has no payment yet: `tradepay pay --trade-no T-unpaid` pays it"


def test_payments_list_has_headers_and_says_its_time_zone(reference_config: Path) -> None:
    invoke("--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer", "a",
           "--trade-no", "T-list")  # fmt: skip
    [payment] = payments_of(reference_config)

    result = invoke("--config", str(reference_config), "payments", "list")

    header, row = result.stdout.splitlines()
    assert header.split() == ["PAYMENT", "STARTED", "(UTC)", "ORDER", "STATUS", "RESULT", "ATTEMPTS"]
    day, clock = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(payment.created_at)).split()
    assert row.split() == [payment.payment_id, day, clock, "T-list", "succeeded", "9000", "1"]


def seed_processing(config: Path, trade_no: str) -> str:
    """An order whose payment began just now and is still processing (it may be in flight)."""
    seed_order(config, trade_no)
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        order = host.ledger.get_order(trade_no)
        assert order is not None
        payment, _created = host.ledger.begin_payment(order, None)
        return payment.payment_id
    finally:
        host.close()


def test_reconcile_counts_the_processing_payments_too_young_to_settle(reference_config: Path) -> None:
    seed_processing(reference_config, "T-young")

    text = invoke("--config", str(reference_config), "reconcile")
    as_json = json_of(invoke("--config", str(reference_config), "reconcile", "--json"))
    everything = invoke("--config", str(reference_config), "reconcile", "--all", "--json")

    assert text.exit_code == 0, text.output
    assert text.stdout.splitlines() == [
        "0 payment(s) reconciled, 0 still need reconciliation",
        "1 processing payment(s) left alone: touched less than 60 s ago (twice chain.deadline_s), they may still be "
        "in flight in a running host; `tradepay reconcile --all` settles them too, once no host is paying",
    ]
    assert as_json == {"settlements": [], "refunds": [], "tooYoung": 1}
    settled = json_of(everything)
    assert settled["tooYoung"] == 0
    assert [(s["tradeNo"], s["before"]) for s in settled["settlements"]] == [("T-young", "processing")]


# --- what providers and payers wrote, shown safely -----------------------------------------------------------

HOSTILE = "\x1b]0;owned\x07 \x1b[2J\u202egnp.exe\r"


def seed_hostile_answer(config: Path) -> str:
    """A finished payment whose provider answered a message and a reason full of terminal control sequences."""
    seed_order(config, "T-hostile")
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        order = host.ledger.get_order("T-hostile")
        assert order is not None
        payment, _created = host.ledger.begin_payment(order, None)
        attempt = host.ledger.start_attempt(payment.payment_id, "reference")
        answer = PaymentResult(ResultCode.SUCCESS, f"paid {HOSTILE}", extended_info={"reason": HOSTILE})
        host.ledger.finish_attempt(
            AttemptRecord(
                attempt,
                OutcomeKind.ANSWER,
                answer,
                "success",
                Decision.STOP,
                Decision.STOP,
                HOSTILE,
                1.0,
                ProviderStatus.PAID,
            )
        )
        host.ledger.finish_payment(payment.payment_id, PaymentStatus.SUCCEEDED, answer)
        return payment.payment_id
    finally:
        host.close()


@pytest.mark.parametrize("command", [["payments", "show", "T-hostile"], ["pay", "--trade-no", "T-hostile"]])
def test_control_characters_from_a_provider_never_reach_the_terminal(
    reference_config: Path, command: list[str]
) -> None:
    seed_hostile_answer(reference_config)

    result = invoke("--config", str(reference_config), *command)

    assert result.exit_code == 0, result.output
    assert not any(ch in result.output for ch in "\x1b\x07\r\u202e")
    assert "paid \\x1b]0;owned\\x07 \\x1b[2J\\u202egnp.exe\\r" in result.stdout  # shown, escaped


def test_json_escapes_control_characters_too(reference_config: Path) -> None:
    seed_hostile_answer(reference_config)

    result = invoke("--config", str(reference_config), "payments", "show", "T-hostile", "--json")

    assert not any(ch in result.stdout for ch in "\x1b\x07\r\u202e")
    assert json_of(result)["result"]["resultMessage"] == f"paid {HOSTILE}"


# --- bad input -----------------------------------------------------------------------------------------------

AMOUNT_COMMANDS = {
    "explain": ["explain"],
    "pay": ["pay", "--payer", "alice"],
    "orders create": ["orders", "create", "--payer", "alice", "--merchant", "m-1"],
}


@pytest.mark.parametrize("command", sorted(AMOUNT_COMMANDS))
@pytest.mark.parametrize(
    ("amount", "currency", "message"),
    [
        ("100", "XYZ", "Invalid value for '--currency': 'XYZ' is not an ISO 4217 currency code"),
        ("100", "usd", "Invalid value for '--currency': 'usd' is not an ISO 4217 currency code"),
        ("-5", "USD", "Invalid value for '--amount': '-5' is not a natural number in the minor unit"),
        ("abc", "USD", "Invalid value for '--amount': 'abc' is not a natural number in the minor unit"),
        ("1.50", "USD", "Invalid value for '--amount': '1.50' is not a natural number in the minor unit"),
        ("0", "USD", "Invalid value for '--amount': must be greater than zero"),
        ("9" * 40, "USD", "Invalid value for '--amount': is longer than 18 digits"),
    ],
)
def test_a_bad_amount_or_currency_is_one_line(
    reference_config: Path, command: str, amount: str, currency: str, message: str
) -> None:
    args = [*AMOUNT_COMMANDS[command], "--amount", amount, "--currency", currency]

    result = invoke("--config", str(reference_config), *args)

    assert assert_one_line_error(result, exit_code=2).startswith(f"Error: {message}")


@pytest.mark.parametrize("command", sorted(AMOUNT_COMMANDS))
def test_a_missing_configuration_file_says_how_to_make_one(tmp_path: Path, command: str) -> None:
    missing = tmp_path / "nowhere.toml"
    args = [*AMOUNT_COMMANDS[command], "--amount", "100", "--currency", "USD"]

    named = invoke("--config", str(missing), *args)
    from_env = invoke(*args, env={"TRADEPAY_CONFIG": str(missing)})

    for result in (named, from_env):
        line = assert_one_line_error(result)
        assert line == f"Error: configuration: {missing}: no such file (run `tradepay init` to write one)"


@pytest.mark.parametrize("command", sorted(AMOUNT_COMMANDS))
def test_no_configuration_at_all_says_how_to_make_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)  # empty: no ./tradepay.toml, and $TRADEPAY_CONFIG is unset

    result = invoke(*AMOUNT_COMMANDS[command], "--amount", "100", "--currency", "USD")

    assert assert_one_line_error(result).startswith("Error: configuration: no configuration found: run `tradepay init`")


@pytest.mark.parametrize("command", sorted(AMOUNT_COMMANDS))
@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ("bogus = 1\n", "chain.bogus"),  # appended to [chain]
        ('\n[host]\ncolour = "red"\n', "host.colour"),
        ('\n[providers.reference]\ncolour = "red"\n', "providers.reference.colour"),
        ('\n[[rules]]\ndecision = "stop"\ncolour = "red"\n', "rules[0].colour"),
        ("\n[sidecar]\nport = 1\n", "sidecar"),
    ],
)
def test_a_configuration_with_an_unknown_key_names_its_path(
    write_config: Callable[..., Path], command: str, extra: str, key: str
) -> None:
    config = write_config('[chain]\nproviders = ["reference"]\n' + extra)

    result = invoke("--config", str(config), *AMOUNT_COMMANDS[command], "--amount", "100", "--currency", "USD")

    line = assert_one_line_error(result)
    assert line.startswith(f"Error: configuration {key}: unknown ")


def test_a_configuration_that_is_not_toml_is_one_line(write_config: Callable[..., Path]) -> None:
    config = write_config("[chain\nproviders = \n")

    result = invoke("--config", str(config), "explain", "--amount", "100", "--currency", "USD")

    assert assert_one_line_error(result).startswith(f"Error: configuration: {config}: not valid TOML: ")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["pay", "--amount", "100", "--currency", "USD"], "a new order needs --amount, --currency and --payer"),
        (["pay"], "give --trade-no of an existing order, or --amount, --currency and --payer"),
        (["pay", "--trade-no", "T-nowhere"], "Invalid value for '--trade-no': no order 'T-nowhere'"),
        (["explain", "--amount", "100"], "Missing option '--currency'"),
        (["explain", "--amount", "100", "--currency", "USD", "--type", "CHEQUE"], "Invalid value for '--type'"),
        (["--log-level", "loud", "providers"], "Invalid value for '--log-level'"),
        (["providers", "--colour"], "No such option '--colour'"),
    ],
)
def test_a_usage_error_exits_2(reference_config: Path, args: list[str], message: str) -> None:
    result = invoke("--config", str(reference_config), *args)

    assert message in assert_one_line_error(result, exit_code=2)


@pytest.mark.parametrize("configured", [True, False], ids=["with-config", "without-config"])
def test_an_unknown_command_exits_2(tmp_path: Path, reference_config: Path, configured: bool) -> None:
    config = reference_config if configured else tmp_path / "nowhere.toml"

    result = invoke("--config", str(config), "chargeback")

    assert "'chargeback'" in assert_one_line_error(result, exit_code=2)


# --- the configuration file ----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [5, 2.5, b"tradepay.toml", ["tradepay.toml"]])
def test_load_config_refuses_what_is_not_a_path_naming_it(path: Any) -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(path)

    assert refused.value.reason == f"the path to load must be a str or os.PathLike, got {type(path).__name__}"


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda p: p.mkdir(), "is not a regular file (it is a directory)"),
        (
            lambda p: p.write_bytes(b"[chain]\nproviders = ['caf\xe9']\n"),
            "is not UTF-8 text (byte 25 cannot be decoded)",
        ),
        (lambda p: p.write_text("a = " + "[" * 3000 + "]" * 3000, encoding="utf-8"), "not valid TOML: arrays or"),
        (lambda p: p.write_text("#" * (MAX_CONFIG_BYTES + 1), encoding="utf-8"), f"is larger than {MAX_CONFIG_BYTES}"),
    ],
    ids=["directory", "not-utf8", "nested-too-deeply", "too-large"],
)
def test_load_config_reads_only_a_regular_utf8_file_of_bounded_size(
    tmp_path: Path, make: Callable[[Path], object], reason: str
) -> None:
    """A FIFO and the devices are in ``tests/test_cli_environments.py``, guarded there against the hang and the
    endless read they would cause if the file type were not checked first."""
    path = tmp_path / "tradepay.toml"
    make(path)

    with pytest.raises(ConfigError) as refused:
        load_config(path)

    assert refused.value.reason.startswith(f"{path}: {reason}")


@pytest.mark.parametrize(("table", "key"), [("host", "data_dir"), ("ledger", "url")])
def test_a_nul_character_in_a_path_is_refused_naming_the_key(
    write_config: Callable[..., Path], table: str, key: str
) -> None:
    value = "sqlite:///led\\u0000ger" if key == "url" else "st\\u0000ate"
    config = write_config(f'[chain]\nproviders = ["reference"]\n[{table}]\n{key} = "{value}"\n')

    result = invoke("--config", str(config), "payments", "list")

    assert assert_one_line_error(result) == f"Error: configuration {table}.{key}: must not contain a NUL character"


# --- failures nobody planned for -----------------------------------------------------------------------------


def test_an_unexpected_exception_is_one_line_saying_where_the_traceback_is(
    reference_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr("tradepay._cli.explain.explain_chain", broken)
    args = ["--config", str(reference_config), "explain", "--amount", "100", "--currency", "USD"]

    quiet = invoke(*args)
    debugging = invoke(*args, env={"TRADEPAY_DEBUG": "1"})

    assert assert_one_line_error(quiet) == (
        "Error: unexpected ZeroDivisionError: division by zero (a bug; run again with TRADEPAY_DEBUG=1 to see the "
        "traceback)"
    )
    assert debugging.exit_code == 1
    assert debugging.stderr.startswith("Traceback (most recent call last):")
    assert 'raise ZeroDivisionError("division by zero")' in debugging.stderr
    assert debugging.stderr.splitlines()[-1] == quiet.stderr.strip()


def test_ctrl_c_outside_a_payment_is_one_line(reference_config: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("tradepay._cli.explain.explain_chain", interrupted)

    result = invoke("--config", str(reference_config), "explain", "--amount", "100", "--currency", "USD")

    assert result.exit_code == 1
    assert result.stderr == "\nError: interrupted\n"  # the blank line ends the terminal's ^C
    assert "Aborted!" not in result.output


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (OSError(28, "No space left on device", "/var/lib/tradepay/ledger.sqlite3"),
         "/var/lib/tradepay/ledger.sqlite3: No space left on device"),
        (IsADirectoryError(21, "Is a directory", 13), "13: Is a directory"),
        (RecursionError("maximum recursion depth exceeded"), "data nested too deeply to be read"),
        (OverflowError("int too large to convert to float"),
         "a number is too large: int too large to convert to float"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"),
         "text that is not valid UTF-8: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        (MemoryError(), "out of memory"),
    ],
    ids=["os-error", "os-error-of-a-descriptor", "recursion", "overflow", "unicode", "memory"],
)  # fmt: skip
def test_every_failure_of_the_environment_is_one_line(
    reference_config: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException, line: str
) -> None:
    def failing(*args: object) -> None:
        raise error

    monkeypatch.setattr("tradepay._cli.explain.explain_chain", failing)

    result = invoke("--config", str(reference_config), "explain", "--amount", "100", "--currency", "USD")

    assert assert_one_line_error(result) == f"Error: {line}"


def test_a_database_error_names_the_file(reference_config: Path) -> None:
    ledger = reference_config.parent / "state" / "ledger.sqlite3"
    assert invoke("--config", str(reference_config), "payments", "list").exit_code == 0
    ledger.write_bytes(b"no longer a database, " * 100)

    result = invoke("--config", str(reference_config), "payments", "list")

    assert assert_one_line_error(result) == f"Error: {ledger}: file is not a database"


def test_a_postgresql_error_is_one_line() -> None:
    psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")

    failure = describe(psycopg.OperationalError("server closed the connection unexpectedly\n\tThis probably means"))

    assert (failure.message, failure.status) == (
        "PostgreSQL: server closed the connection unexpectedly This probably means",
        1,
    )


@pytest.mark.parametrize("block", ["read", "write"])
def test_a_database_error_inside_a_transaction_names_the_file(tmp_path: Path, block: str) -> None:
    database = SQLiteDatabase(tmp_path / "ledger.sqlite3")
    try:
        with pytest.raises(sqlite3.Error) as failed, getattr(database, block)() as conn:
            conn.execute("SELECT * FROM no_such_table")
    finally:
        database.close()

    assert describe(failed.value).message == f"{tmp_path / 'ledger.sqlite3'}: no such table: no_such_table"


# --- the installed console script ----------------------------------------------------------------------------


def console_script() -> str:
    found = shutil.which("tradepay", path=str(Path(sys.executable).parent))
    assert found is not None, f"no tradepay console script next to {sys.executable}"
    return found


def run_console_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "TRADEPAY_CONFIG"}
    env.update(XDG_CACHE_HOME=str(tmp_path / "xdg-cache"), HOME=str(tmp_path / "home"))  # stevedore's cache
    return subprocess.run(
        [console_script(), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_console_script_pays(tmp_path: Path, reference_config: Path) -> None:
    done = run_console_script(
        tmp_path, "--config", str(reference_config), "pay", "--amount", "250", "--currency", "USD", "--payer",
        "alice", "--json",
    )  # fmt: skip

    assert (done.returncode, done.stderr) == (0, "")
    report = json.loads(done.stdout)
    assert report["result"]["resultCode"] == "9000"
    assert [a["provider"] for a in report["payment"]["attempts"]] == ["reference"]


def test_the_console_script_reports_bad_input_on_one_line(tmp_path: Path, reference_config: Path) -> None:
    done = run_console_script(
        tmp_path, "--config", str(reference_config), "pay", "--amount", "250", "--currency", "XYZ", "--payer", "a"
    )

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "Error: Invalid value for '--currency': 'XYZ' is not an ISO 4217 currency code (for example 'USD')\n"
    )
