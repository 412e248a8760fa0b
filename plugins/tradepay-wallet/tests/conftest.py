"""Fixtures of the wallet's tests: providers on a fresh database of each kind, orders, attempts and captured logs.

Every test that builds its provider with ``make_provider`` (or ``provider``) runs twice: on a fresh SQLite file,
and on PostgreSQL in a schema of its own (``tp_test_<random>``, dropped after the test). The PostgreSQL runs
are marked ``postgres`` and need ``TRADEPAY_TEST_POSTGRES_URL`` and the core's ``postgres`` extra; without them
they are skipped, saying so. A test about one kind only overrides the parameter:
``@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from typing import Any

import pytest
import structlog

from tradepay import Attempt, Database, Order, PaymentAmount, ProviderConfig, Refund, open_database
from tradepay.testing import closing_all, postgres_skip_reason, sample_refund
from tradepay_wallet import WalletProvider

POSTGRES_URL = os.environ.get("TRADEPAY_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def schema_url(schema: str) -> str:
    """``TRADEPAY_TEST_POSTGRES_URL`` with its tables in ``schema``."""
    assert POSTGRES_URL is not None
    return f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Database]:
    """One connection pool for the session's clean-up, on the server's ``public`` schema (only opened when a
    PostgreSQL test runs)."""
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    assert POSTGRES_URL is not None
    db = open_database(POSTGRES_URL, schema="public")
    yield db
    db.close()


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[MutableMapping[str, Any]]]:
    """Every log event of the test, as dicts (structlog's own testing helper; the library never configures)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The kind of database under test: ``sqlite`` or ``postgresql`` (skipped when no server is configured)."""
    kind: str = request.param
    if kind == "postgresql" and (reason := postgres_skip_reason()):
        pytest.skip(reason)
    return kind


@pytest.fixture
def database(backend: str, request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The ``database`` setting of the test's providers: ``None`` (the default SQLite file in the data
    directory) or a PostgreSQL URL with a fresh schema, dropped after the test."""
    if backend == "sqlite":
        yield None
        return
    admin: Database = request.getfixturevalue("postgres_admin")
    schema = f"tp_test_{secrets.token_hex(6)}"
    yield schema_url(schema)
    with admin.write() as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def make_provider(tmp_path: Path, database: str | None) -> Iterator[Callable[..., WalletProvider]]:
    """Build providers on the test's database (all sharing it unless ``database`` says otherwise)."""

    def make(**settings: Any) -> WalletProvider:
        if database is not None:
            settings.setdefault("database", database)
        return WalletProvider(ProviderConfig(name="wallet", settings=settings, data_dir=tmp_path))

    with closing_all(make) as made:
        yield made


@pytest.fixture
def provider(make_provider: Callable[..., WalletProvider]) -> WalletProvider:
    """A wallet with default settings on a fresh database."""
    return make_provider()


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """Orders to pay; by default alice pays USD 3.00 for trade T-1."""

    def make(amount: str = "300", currency: str = "USD", payer: str = "alice", trade_no: str = "T-1") -> Order:
        return Order(trade_no, PaymentAmount(currency, amount), merchant_id="shop-1", payer_id=payer)

    return make


@pytest.fixture
def order(make_order: Callable[..., Order]) -> Order:
    return make_order()


def make_attempt(key: str = "pay-1-1") -> Attempt:
    """An attempt of the wallet with idempotency key ``key``."""
    payment_id, _, number = key.rpartition("-")
    return Attempt(payment_id=payment_id, number=int(number), provider="wallet", idempotency_key=key)


@pytest.fixture
def attempt() -> Callable[[str], Attempt]:
    """Attempts by key: ``attempt("pay-1-1")``."""
    return make_attempt


def make_refund(attempt: Attempt, amount: str = "100", key: str = "ref-1", currency: str = "USD") -> Refund:
    """A refund of ``amount`` minor units of ``attempt``'s payment, under refund key ``key``, for trade T-1."""
    return sample_refund(attempt, PaymentAmount(currency, amount), key=key, request_id=f"req-{key}")


@pytest.fixture
def refund_of() -> Callable[..., Refund]:
    """Refunds by payment attempt: ``refund_of(attempt("pay-1-1"), "100", key="ref-1")``."""
    return make_refund
