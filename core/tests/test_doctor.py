"""``tradepay doctor`` says what is right and what is wrong, and exits 1 on a failure."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from tradepay._cli import cli
from tradepay._migrations import SCHEMA_VERSION
from tradepay._sql_ledger import PostgresLedger


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
    assert "fail  provider ghost: not installed (pip install tradepay-ghost" in output
    config.write_text('[chain]\nproviders = ["reference"]\ncolour = "red"\n', encoding="utf-8")
    code, output = doctor(config)
    assert code == 1
    assert "fail  configuration: configuration chain.colour: unknown key" in output


def test_an_unreachable_database_fails_with_its_reason(tmp_path: Path) -> None:
    config = tmp_path / "tradepay.toml"
    config.write_text(
        '[chain]\nproviders = ["reference"]\n[ledger]\nurl = "postgresql://postgres@127.0.0.1:1/none"\n',
        encoding="utf-8",
    )
    code, output = doctor(config)
    assert code == 1
    assert "fail  start-up: configuration ledger.url: cannot connect:" in output


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
