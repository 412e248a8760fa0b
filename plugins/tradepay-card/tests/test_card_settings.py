"""Settings: defaults, every refusal naming its key, capabilities, and the SQLite file's pragmas and schema."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from tradepay_card_workers import open_provider

from tradepay import Capabilities, CardNumber, CardSecret, ConfigError, ProviderConfig
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


def test_sqlite_is_opened_the_safe_way(provider: CardProvider) -> None:
    with provider.store.transaction() as ledger:
        assert ledger.attempt("nothing") is None
    conn = sqlite3.connect(provider.settings.database)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    finally:
        conn.close()
    assert tables == {"cards", "attempts", "movements"}
    with provider.store._connection() as own:  # synchronous is per connection: read the provider's own
        assert own.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert own.execute("PRAGMA busy_timeout").fetchone()[0] > 0


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "card.sqlite3")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(ConfigError, match=r"schema version 99 is newer than this tradepay-card's \(1\)$") as caught:
        open_provider(tmp_path)
    assert caught.value.key == "providers.card.database"


def test_an_unusable_database_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "card.sqlite3").write_bytes(b"this is not a database, just some text " * 200)
    with pytest.raises(ConfigError, match="file is not a database") as caught:
        open_provider(tmp_path)
    assert caught.value.key == "providers.card.database"
    (tmp_path / "blocker").write_text("a file where a directory should be")
    with pytest.raises(ConfigError) as caught:
        open_provider(tmp_path, database="blocker/card.sqlite3")
    assert caught.value.key == "providers.card.database"


def test_close_then_use_opens_again(provider: CardProvider) -> None:
    provider.close()
    provider.close()  # twice is harmless
    assert provider.cards("alice") == []


def test_reopening_keeps_the_cards(tmp_path: Path) -> None:
    provider = open_provider(tmp_path)
    card = provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    provider.close()
    reopened = open_provider(tmp_path)
    assert reopened.cards("alice") == [card]
    reopened.close()
