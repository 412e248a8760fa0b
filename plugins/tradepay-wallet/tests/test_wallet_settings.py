"""The [providers.wallet] table: defaults, paths and URLs, and a ConfigError naming the key for every mistake."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from tradepay import ConfigError, ProviderConfig
from tradepay_wallet import WalletProvider, WalletSettings


def build(tmp_path: Path, name: str = "wallet", **settings: Any) -> WalletProvider:
    return WalletProvider(ProviderConfig(name=name, settings=settings, data_dir=tmp_path))


def test_defaults(tmp_path: Path) -> None:
    provider = build(tmp_path)
    try:
        assert provider.settings == WalletSettings(database=tmp_path / "wallet.sqlite3")
    finally:
        provider.close()


def test_a_relative_database_is_inside_the_data_dir_and_an_absolute_one_is_kept(tmp_path: Path) -> None:
    relative = build(tmp_path, database="state/my-wallet.sqlite3")
    absolute = build(tmp_path, database=str(tmp_path / "elsewhere" / "w.sqlite3"))
    try:
        assert relative.settings.database == tmp_path / "state" / "my-wallet.sqlite3"
        assert relative.settings.database.exists()
        assert absolute.settings.database == tmp_path / "elsewhere" / "w.sqlite3"
        assert absolute.settings.database.exists()
    finally:
        relative.close()
        absolute.close()


def test_a_sqlite_url_is_a_path_too(tmp_path: Path) -> None:
    relative = build(tmp_path, database="sqlite:///state/w.sqlite3")
    absolute = build(tmp_path, database=f"sqlite:///{tmp_path / 'elsewhere' / 'w.sqlite3'}")
    try:
        assert relative.settings.database == tmp_path / "state" / "w.sqlite3"
        assert absolute.settings.database == tmp_path / "elsewhere" / "w.sqlite3"
        assert (tmp_path / "state" / "w.sqlite3").exists()
        assert (tmp_path / "elsewhere" / "w.sqlite3").exists()
    finally:
        relative.close()
        absolute.close()


def test_currencies_and_max_amount(tmp_path: Path) -> None:
    provider = build(tmp_path, currencies=["USD", "JPY", "USD"], max_amount=50_000)
    try:
        assert provider.settings.currencies == frozenset({"USD", "JPY"})
        assert provider.settings.max_amount == 50_000
    finally:
        provider.close()


@pytest.mark.parametrize(
    ("settings", "key", "says"),
    [
        ({"max_ammount": 100}, "max_ammount", "unknown setting"),
        ({"deadline_s": 5}, "deadline_s", "unknown setting"),
        ({"database": 42}, "database", "must be a string path"),
        ({"database": ""}, "database", "non-empty"),
        ({"database": "   "}, "database", "non-empty"),
        ({"database": "a\x00b"}, "database", "non-empty"),
        ({"database": "sqlite:///"}, "database", "non-empty"),
        ({"database": "postgres://wallet@db/test"}, "database", "postgres:// is not supported"),
        ({"database": "mysql://wallet@db/test"}, "database", "mysql:// is not supported"),
        ({"currencies": "USD"}, "currencies", "must be a list"),
        ({"currencies": []}, "currencies", "at least one"),
        ({"currencies": ["usd"]}, "currencies", "ISO 4217"),
        ({"currencies": ["USD", "XYZ"]}, "currencies", "ISO 4217"),
        ({"currencies": [840]}, "currencies", "must be a string"),
        ({"max_amount": "1000"}, "max_amount", "must be an integer"),
        ({"max_amount": 10.5}, "max_amount", "must be an integer"),
        ({"max_amount": True}, "max_amount", "must be an integer"),
        ({"max_amount": 0}, "max_amount", "greater than zero"),
        ({"max_amount": -5}, "max_amount", "greater than zero"),
    ],
)
def test_a_bad_setting_names_its_key(tmp_path: Path, settings: dict[str, Any], key: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as refused:
        build(tmp_path, name="wallet2", **settings)

    assert refused.value.key == f"providers.wallet2.{key}"
    assert not (tmp_path / "wallet.sqlite3").exists()


def test_a_postgresql_url_without_the_postgres_extra_says_how_to_get_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what `import psycopg` does where it is not installed

    with pytest.raises(ConfigError, match=r"pip install './core\[postgres\]'") as refused:
        build(tmp_path, database="postgresql://wallet:s3cret@127.0.0.1:1/test")

    assert refused.value.key == "providers.wallet.database"
    assert "s3cret" not in str(refused.value)
