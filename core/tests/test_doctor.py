"""``tradepay doctor`` says what is right and what is wrong, and exits 1 on a failure."""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradepay._cli.main import cli
from tradepay._ledger.migrations import SCHEMA_VERSION
from tradepay._ledger.sql import PostgresLedger, SQLiteLedger


def doctor(config: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["--config", str(config), "doctor"])
    return result.exit_code, result.output


def test_a_healthy_installation(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["reference"]\n', encoding="utf-8")
    code, output = doctor(config)
    assert code == 0, output
    assert f"ok    configuration: {config}" in output
    assert "ok    provider reference: tradepay==" in output
    assert f"ok    ledger: {tmp_path / '.tradepay' / 'ledger.sqlite3'}, schema version {SCHEMA_VERSION}" in output
    assert "ok    unsettled payments: none" in output


def test_a_missing_provider_and_a_bad_configuration_fail(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["reference", "ghost"]\n', encoding="utf-8")
    code, output = doctor(config)
    assert code == 1
    assert "fail  provider ghost: not installed: install the distribution that offers it from its source" in output
    assert "pip install tradepay-ghost" not in output  # not published on a package index: no such hint
    config.write_text('[chain]\nproviders = ["reference"]\ncolour = "red"\n', encoding="utf-8")
    code, output = doctor(config)
    assert code == 1
    assert "fail  configuration: chain.colour: unknown key" in output
    assert "configuration: configuration" not in output


def test_a_misspelt_provider_gets_the_closest_installed_name(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["refrence"]\n', encoding="utf-8")
    code, output = doctor(config)
    assert code == 1
    assert "fail  provider refrence: not installed: did you mean 'reference'? (installed: " in output


def test_processing_payments_too_young_to_settle_are_counted(tmp_path: Path) -> None:
    from tradepay import Host, PaymentAmount, load_config

    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["reference"]\n', encoding="utf-8")
    host = Host.from_config(load_config(config), reconcile=False)
    try:
        order = host.ledger.create_order(PaymentAmount("USD", "100"), merchant_id="m", payer_id="alice")
        host.ledger.begin_payment(order, None)  # processing, just now: it may be in flight
    finally:
        host.close()
    code, output = doctor(config)
    assert code == 0, output
    assert "ok    unsettled payments: none; 1 processing payment(s) left alone: touched less than 60 s ago" in output
    assert "`tradepay reconcile --all` settles them too" in output


def test_an_unreachable_database_fails_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text(
        '[chain]\nproviders = ["reference"]\n[ledger]\nurl = "postgresql://postgres@127.0.0.1:1/none"\n',
        encoding="utf-8",
    )
    code, output = doctor(config)
    assert code == 1
    assert "fail  start-up: configuration ledger.url: cannot connect:" in output


def _with_ledger(ledger: Path) -> str:
    return f'[chain]\nproviders = ["reference"]\n[ledger]\nurl = "sqlite:///{ledger}"\n'


def _with_data_dir(data_dir: Path) -> str:
    return f'[chain]\nproviders = ["reference"]\n[host]\ndata_dir = "{data_dir}"\n'


def not_a_database(tmp_path: Path) -> tuple[str, str]:
    ledger = tmp_path / "ledger.sqlite3"
    ledger.write_bytes(b"this is not a database, " * 100)
    return _with_ledger(ledger), f"fail  start-up: {ledger}: file is not a database"


def a_directory_as_ledger(tmp_path: Path) -> tuple[str, str]:
    ledger = tmp_path / "ledger.sqlite3"
    ledger.mkdir()
    return _with_ledger(
        ledger
    ), f"fail  start-up: configuration ledger.url: the SQLite ledger's path '{ledger}' is a folder, not a file"


def a_file_as_data_dir(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    return _with_data_dir(tmp_path / "a-file"), f"fail  data directory: {tmp_path / 'a-file'}: is not a directory"


def a_data_dir_that_cannot_be_created(tmp_path: Path) -> tuple[str, str]:
    (tmp_path / "a-file").write_text("", encoding="utf-8")
    state = tmp_path / "a-file" / "state"
    return _with_data_dir(state), f"fail  data directory: {state}: cannot be created: Not a directory"


def a_deeply_nested_file(tmp_path: Path) -> tuple[str, str]:
    nested = "[chain]\nproviders = " + "[" * 5000 + "]" * 5000 + "\n"
    return nested, f"fail  configuration: {tmp_path / 'tradepay.toml'}: not valid TOML: arrays or"


BROKEN = {
    "ledger-not-a-database": not_a_database,
    "ledger-is-a-directory": a_directory_as_ledger,
    "data-dir-is-a-file": a_file_as_data_dir,
    "data-dir-cannot-be-created": a_data_dir_that_cannot_be_created,
    "deeply-nested-toml": a_deeply_nested_file,
}


@pytest.mark.parametrize("broken", sorted(BROKEN))
def test_a_broken_environment_is_a_failed_check_naming_the_file(tmp_path: Path, broken: str) -> None:
    body, expected = BROKEN[broken](tmp_path)
    config = tmp_path / "tradepay.toml"
    config.write_text(body, encoding="utf-8")

    code, output = doctor(config)

    assert code == 1, output
    assert "Traceback" not in output
    assert any(line.startswith(expected) for line in output.splitlines()), output


def test_a_ledger_that_fails_after_start_up_is_a_failed_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def disk_error(self: object, **kwargs: object) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["reference"]\n', encoding="utf-8")
    monkeypatch.setattr(SQLiteLedger, "unsettled", disk_error)

    code, output = doctor(config)

    assert code == 1, output
    assert output.splitlines()[-2:] == [
        f"ok    ledger: {tmp_path / '.tradepay' / 'ledger.sqlite3'}, schema version {SCHEMA_VERSION}",
        "fail  unsettled payments: SQLite database: disk I/O error",
    ]


@pytest.mark.postgres
@pytest.mark.skipif(not os.environ.get("TRADEPAY_TEST_POSTGRES_URL"), reason="set TRADEPAY_TEST_POSTGRES_URL")
def test_a_postgres_ledger(tmp_path: Path) -> None:
    url = f"{os.environ['TRADEPAY_TEST_POSTGRES_URL']}?schema=tp_doctor_{secrets.token_hex(4)}"
    config = tmp_path / "tradepay.toml"
    config.write_text(f'[chain]\nproviders = ["reference"]\n[ledger]\nurl = "{url}"\n', encoding="utf-8")
    try:
        code, output = doctor(config)
        assert code == 0, output
        assert "ok    ledger: postgresql schema tp_doctor_" in output
    finally:
        ledger = PostgresLedger(url)
        ledger.postgres.drop_schema()
        ledger.close()
