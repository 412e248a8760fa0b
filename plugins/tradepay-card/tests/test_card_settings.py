"""Settings: defaults, every refusal naming its key, capabilities, the database (a SQLite file or a PostgreSQL
schema), its pragmas and its schema (files written by tradepay-card 0.1.0: test_card_migrations.py)."""

from __future__ import annotations

import importlib.util
import sqlite3
import sys
from pathlib import Path
from typing import Any

import pytest
from card_support import Backend, OpenCard, open_provider, query

from tradepay import (
    Capabilities,
    CardNumber,
    CardSecret,
    ConfigError,
    ProviderConfig,
    open_database,
)
from tradepay_card import CardProvider, CardSettings, parse_settings


def test_defaults(tmp_path: Path) -> None:
    assert parse_settings({}, tmp_path) == CardSettings(database=tmp_path / "card.sqlite3")
    provider = open_provider(tmp_path)
    assert provider.capabilities() == Capabilities()
    assert (tmp_path / "card.sqlite3").is_file()
    provider.close()


def test_database_paths(tmp_path: Path) -> None:
    assert parse_settings({"database": "state/cards.db"}, tmp_path).database == tmp_path / "state" / "cards.db"
    absolute = tmp_path / "elsewhere" / "cards.db"
    assert parse_settings({"database": str(absolute)}, Path("/nonexistent")).database == absolute
    provider = open_provider(tmp_path, database="state/cards.db")
    assert (tmp_path / "state" / "cards.db").is_file()
    provider.close()


def test_database_urls(tmp_path: Path) -> None:
    assert parse_settings({"database": "sqlite:///state/cards.db"}, tmp_path).database == tmp_path / "state/cards.db"
    absolute = tmp_path / "elsewhere" / "cards.db"
    assert parse_settings({"database": f"sqlite:///{absolute}"}, Path("/nonexistent")).database == absolute
    url = "postgresql://tradepay@db.example:5432/payments?schema=cards_eu"
    assert parse_settings({"database": url}, tmp_path).database == url  # a URL is kept as it is, not a path
    provider = open_provider(tmp_path, database="sqlite:///state/cards.db")
    assert provider.store.kind == "sqlite"
    assert (tmp_path / "state" / "cards.db").is_file()
    provider.close()


def test_capabilities_reflect_the_settings(tmp_path: Path) -> None:
    provider = open_provider(tmp_path, currencies=["USD", "EUR", "USD"], max_amount=50_000)
    assert provider.capabilities() == Capabilities(currencies=frozenset({"USD", "EUR"}), max_amount=50_000)
    provider.close()


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        ({"databse": "x.db"}, "providers.card.databse", "unknown setting (known: currencies, database, max_amount)"),
        ({"deadline_s": 3}, "providers.card.deadline_s", "unknown setting"),
        ({"database": 3}, "providers.card.database", "must be a string path, got int"),
        ({"database": ""}, "providers.card.database", "must be a non-empty path"),
        ({"database": "a\x00b"}, "providers.card.database", "must be a non-empty path"),
        ({"database": "sqlite:///"}, "providers.card.database", "must be a non-empty path"),
        (
            {"database": "postgres://db/payments"},
            "providers.card.database",
            "must be a path, sqlite:///PATH or postgresql://..., not a postgres:// URL"
            " (PostgreSQL URLs start with postgresql://)",
        ),
        ({"database": "mysql://db/payments"}, "providers.card.database", "must be a path, sqlite:///PATH or postgre"),
        ({"currencies": "USD"}, "providers.card.currencies", "must be a list of ISO 4217 codes, got str"),
        ({"currencies": []}, "providers.card.currencies", "must list at least one currency"),
        ({"currencies": ["usd"]}, "providers.card.currencies", "'usd' is not an ISO 4217 currency code"),
        ({"currencies": ["XYZ"]}, "providers.card.currencies", "'XYZ' is not an ISO 4217 currency code"),
        ({"currencies": [840]}, "providers.card.currencies", "must be a string, got int"),
        ({"max_amount": "100"}, "providers.card.max_amount", "must be an integer count of minor units, got str"),
        ({"max_amount": 10.5}, "providers.card.max_amount", "must be an integer count of minor units, got float"),
        ({"max_amount": True}, "providers.card.max_amount", "must be an integer count of minor units, got bool"),
        ({"max_amount": 0}, "providers.card.max_amount", "must be between 1 and 999999999999999999"),
        ({"max_amount": -5}, "providers.card.max_amount", "must be between 1 and"),
        ({"max_amount": 10**18}, "providers.card.max_amount", "must be between 1 and"),
    ],
)
def test_bad_settings_name_their_key(tmp_path: Path, settings: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        CardProvider(ProviderConfig("card", settings, tmp_path))
    assert caught.value.key == key
    assert caught.value.reason.startswith(reason)
    assert not (tmp_path / "card.sqlite3").exists()  # refused before anything was opened


def test_the_key_names_the_configured_table(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^configuration providers\.card_eu\.colour: unknown setting"):
        CardProvider(ProviderConfig("card_eu", {"colour": "blue"}, tmp_path))


def test_sqlite_is_opened_the_safe_way(tmp_path: Path) -> None:
    provider = open_provider(tmp_path)
    with provider.store.transaction() as ledger:
        assert ledger.attempt("nothing") is None
    assert isinstance(provider.settings.database, Path)
    conn = sqlite3.connect(provider.settings.database)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert tables == {"cards", "attempts", "movements", "refunds"}
    with provider.store.database.read() as own:  # synchronous is per connection: read the provider's own
        assert own.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert own.execute("PRAGMA busy_timeout").fetchone()[0] > 0
    provider.close()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "card.sqlite3")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfigError, match=r"schema version 99, newer than this software understands \(2\)") as caught:
        open_provider(tmp_path)
    assert caught.value.key == "providers.card.database"


def test_a_newer_postgres_schema_is_refused(tmp_path: Path, postgres_backend: Backend) -> None:
    provider = open_provider(tmp_path, **postgres_backend.settings)
    with provider.store.database.write() as conn:
        conn.execute("UPDATE tradepay_schema SET version = 99")
    provider.close()
    with pytest.raises(ConfigError, match=r"schema version 99, newer than this software understands \(2\)") as caught:
        open_provider(tmp_path, **postgres_backend.settings)
    assert caught.value.key == "providers.card.database"


def test_a_foreign_table_in_the_postgres_schema_is_a_config_error(tmp_path: Path, postgres_backend: Backend) -> None:
    # Someone else's "cards" table in the schema: migration 1 fails, and says so as a configuration error.
    database = open_database(postgres_backend.settings["database"])
    with database.write() as conn:
        conn.execute("CREATE TABLE cards (x INTEGER)")
    database.close()
    with pytest.raises(ConfigError, match=r"cannot use postgresql://.*column \"payer_id\" does not exist") as caught:
        open_provider(tmp_path, **postgres_backend.settings)
    assert caught.value.key == "providers.card.database"


def test_close_then_use_opens_again(provider: CardProvider) -> None:
    provider.close()
    provider.close()  # twice is harmless
    assert provider.cards("alice") == []


def test_reopening_keeps_the_cards(open_card: OpenCard) -> None:
    provider = open_card()
    card = provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    provider.close()
    reopened = open_card()
    assert reopened.cards("alice") == [card]


def test_the_tables_and_the_schema_version(provider: CardProvider, backend: Backend) -> None:
    if backend.kind == "sqlite":
        tables = query(provider, "SELECT name FROM sqlite_master WHERE type = 'table'")
        version = query(provider, "PRAGMA user_version")
    else:  # all in the test's own schema; the version in the core's tradepay_schema table
        tables = query(
            provider, "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [backend.schema]
        )
        version = query(provider, "SELECT version FROM tradepay_schema")
        tables.remove(("tradepay_schema",))
    assert sorted(tables) == [("attempts",), ("cards",), ("movements",), ("refunds",)]
    assert version == [(2,)]


def test_the_default_postgres_schema_is_tradepay_card(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[str, str]] = []

    def open_database(location: str, *, schema: str, **kwargs: Any) -> Any:
        opened.append((location, schema))
        raise ConfigError("ledger.url", "cannot connect: (not tried)")

    monkeypatch.setattr("tradepay._kit.store.open_database", open_database)
    url = "postgresql://postgres@127.0.0.1:1/test"
    with pytest.raises(ConfigError, match=r"^configuration providers\.card\.database: cannot connect: \(not tried\)$"):
        open_provider(tmp_path, database=url)
    assert opened == [(url, "tradepay_card")]


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="psycopg is not installed")
def test_an_unreachable_postgres_server_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot connect") as caught:
        open_provider(tmp_path, database="postgresql://postgres:hunter2@127.0.0.1:1/none?connect_timeout=2")
    assert caught.value.key == "providers.card.database"  # not the core's "ledger.url"
    assert "hunter2" not in str(caught.value)


def test_postgres_without_psycopg_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # "import psycopg" now fails, as where it is not installed
    with pytest.raises(ConfigError, match=r"pip install './core\[postgres\]'") as caught:
        open_provider(tmp_path, database="postgresql://postgres@127.0.0.1:1/none")
    assert caught.value.key == "providers.card.database"


@pytest.mark.skipif(importlib.util.find_spec("psycopg") is None, reason="psycopg is not installed")
def test_a_bad_postgres_schema_name_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a lowercase identifier") as caught:
        open_provider(tmp_path, database="postgresql://postgres@127.0.0.1:1/none?schema=Cards;DROP")
    assert caught.value.key == "providers.card.database"
