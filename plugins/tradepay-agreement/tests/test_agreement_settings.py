"""The [providers.agreement] table: defaults, paths and URLs, and every refusal naming its key."""

from __future__ import annotations

import sqlite3
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from agreement_support import POSTGRES_SKIP, POSTGRES_URL

from tradepay import Capabilities, ConfigError, ProviderConfig
from tradepay_agreement import AgreementProvider, AgreementStore


def build(tmp_path: Path, **settings: Any) -> AgreementProvider:
    return AgreementProvider(ProviderConfig(name="agreement", settings=settings, data_dir=tmp_path))


def test_defaults(tmp_path: Path) -> None:
    provider = build(tmp_path)
    try:
        assert provider.settings.database == tmp_path / "agreement.sqlite3"
        assert provider.settings.database.is_file()
        assert provider.capabilities() == Capabilities()
    finally:
        provider.close()


def test_a_relative_database_is_under_data_dir_and_an_absolute_one_is_kept(tmp_path: Path) -> None:
    relative = build(tmp_path, database="state/agreements.db")
    absolute = build(tmp_path, database=str(tmp_path / "elsewhere.db"))
    try:
        assert relative.settings.database == tmp_path / "state" / "agreements.db"
        assert relative.settings.database.is_file()
        assert absolute.settings.database == tmp_path / "elsewhere.db"
    finally:
        relative.close()
        absolute.close()


def test_currencies_and_max_amount_shape_the_capabilities(tmp_path: Path) -> None:
    provider = build(tmp_path, currencies=["USD", "JPY", "USD"], max_amount=50_000)
    try:
        assert provider.capabilities() == Capabilities(currencies=frozenset({"USD", "JPY"}), max_amount=50_000)
    finally:
        provider.close()


@pytest.mark.parametrize(
    ("settings", "key", "reason"),
    [
        ({"databse": "x.db"}, "databse", "unknown setting"),
        ({"deadline_s": 5}, "deadline_s", "unknown setting"),
        ({"database": ""}, "database", "non-empty path"),
        ({"database": 3}, "database", "non-empty path"),
        ({"database": "a\x00b"}, "database", "non-empty path"),
        ({"database": "mysql://db/agreements"}, "database", "no other kind of URL"),
        ({"database": "sqlite://agreement.db"}, "database", "no other kind of URL"),
        ({"database": "sqlite:///"}, "database", "needs a file path"),
        ({"database": "postgresql://db/test?schema=Agreements"}, "database", "lowercase identifier"),
        ({"database": "postgresql://db/test?schema=a;drop"}, "database", "lowercase identifier"),
        ({"currencies": "USD"}, "currencies", "list of ISO 4217"),
        ({"currencies": []}, "currencies", "non-empty list"),
        ({"currencies": ["usd"]}, "currencies", "not an ISO 4217"),
        ({"currencies": ["USD", 840]}, "currencies", "must be a string"),
        ({"max_amount": 0}, "max_amount", "from 1 to"),
        ({"max_amount": -5}, "max_amount", "from 1 to"),
        ({"max_amount": 10**18}, "max_amount", "from 1 to"),
        ({"max_amount": 10.5}, "max_amount", "integer"),
        ({"max_amount": "1000"}, "max_amount", "integer"),
        ({"max_amount": True}, "max_amount", "integer"),
    ],
)
def test_a_bad_setting_is_a_config_error_naming_its_key(
    tmp_path: Path, settings: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=reason) as refused:
        build(tmp_path, **settings)

    assert refused.value.key == f"providers.agreement.{key}"
    assert not (tmp_path / "agreement.sqlite3").exists()


def test_the_error_key_follows_the_chain_name(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        AgreementProvider(ProviderConfig(name="autodebit", settings={"colour": "red"}, data_dir=tmp_path))

    assert refused.value.key == "providers.autodebit.colour"


def test_an_unusable_database_file_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "garbage.db").write_bytes(b"this is not a database" * 100)
    (tmp_path / "a-directory.db").mkdir()
    newer = tmp_path / "newer.db"
    probe = sqlite3.connect(newer)
    probe.execute("PRAGMA user_version = 7")
    probe.close()

    for name, reason in [("garbage.db", "not a database"), ("a-directory.db", "unable to open"), ("newer.db", "newer")]:
        with pytest.raises(ConfigError, match=reason) as refused:
            build(tmp_path, database=name)
        assert refused.value.key == "providers.agreement.database"


def test_the_entry_point_names_the_provider_class() -> None:
    [entry] = [e for e in entry_points(group="tradepay.providers") if e.name == "agreement"]

    assert entry.value == "tradepay_agreement:AgreementProvider"
    assert entry.load() is AgreementProvider


def test_a_sqlite_url_is_a_path_under_data_dir_or_absolute(tmp_path: Path) -> None:
    relative = build(tmp_path, database="sqlite:///state/agreements.db")
    absolute = build(tmp_path, database=f"sqlite:///{tmp_path / 'elsewhere.db'}")
    try:
        assert relative.settings.database == tmp_path / "state" / "agreements.db"
        assert relative.settings.database.is_file()
        assert absolute.settings.database == tmp_path / "elsewhere.db"
        assert absolute.settings.database.is_file()
    finally:
        relative.close()
        absolute.close()


def test_an_unreachable_postgresql_is_a_config_error_that_hides_the_password(tmp_path: Path) -> None:
    """Nothing listens on port 1 (or psycopg is missing): either way the error names this provider's key."""
    url = "postgresql://agent:s3cret-pw@127.0.0.1:1/test?connect_timeout=5"
    with pytest.raises(ConfigError) as refused:
        AgreementProvider(ProviderConfig(name="autodebit", settings={"database": url}, data_dir=tmp_path))

    assert refused.value.key == "providers.autodebit.database"
    assert "s3cret-pw" not in str(refused.value)
    assert "agent:***@127.0.0.1:1" in str(refused.value)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_SKIP is not None, reason=POSTGRES_SKIP or "")
def test_a_postgresql_url_without_a_schema_uses_tradepay_agreement(tmp_path: Path) -> None:
    import psycopg

    assert POSTGRES_URL is not None
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        if admin.execute("SELECT 1 FROM pg_namespace WHERE nspname = 'tradepay_agreement'").fetchone():
            pytest.skip("schema tradepay_agreement exists on the test server: this test never touches real data")
        provider = build(tmp_path, database=POSTGRES_URL)
        try:
            assert provider.settings.database == POSTGRES_URL
            with provider.store.database.read() as conn:
                assert conn.execute("SELECT current_schema()").fetchone()[0] == "tradepay_agreement"
            assert provider.store.sign("alice", "shop", "USD").status == "pending"
            assert list(tmp_path.iterdir()) == []  # no SQLite file was made on the side
        finally:
            provider.close()
            admin.execute('DROP SCHEMA IF EXISTS "tradepay_agreement" CASCADE')


def test_a_database_of_a_newer_version_is_refused(tmp_path: Path, database: str) -> None:
    store = AgreementStore(database, base=tmp_path)
    with store.database.write() as conn:
        if store.database.kind == "sqlite":
            conn.execute("PRAGMA user_version = 9")
        else:
            conn.execute("UPDATE tradepay_schema SET version = 9")
    store.close()

    with pytest.raises(ConfigError, match="schema version 9, newer than this software understands") as refused:
        build(tmp_path, database=database)
    assert refused.value.key == "providers.agreement.database"
