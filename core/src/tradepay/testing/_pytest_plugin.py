"""The pytest plugin of the testing kit (entry point ``pytest11``): fixtures for tests that pay."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from .._service import PaymentService
from .._spi.models import APIContext
from . import build_service, sample_context
from ._databases import postgres_schema, postgres_skip_reason


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs TRADEPAY_TEST_POSTGRES_URL (skipped, saying so, without it)")


@pytest.fixture
def tradepay_sqlite_database(tmp_path: Path) -> str:
    """The ``database`` setting of a new SQLite file in the test's own folder."""
    return str(tmp_path / "provider.sqlite3")


@pytest.fixture
def tradepay_postgres_database() -> Iterator[str]:
    """The ``database`` setting of a new PostgreSQL schema on ``TRADEPAY_TEST_POSTGRES_URL``'s server, dropped
    after the test; the test is skipped, saying why, when no server is configured or psycopg is missing."""
    if reason := postgres_skip_reason():
        pytest.skip(reason)
    with postgres_schema() as url:
        yield url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def tradepay_database(request: pytest.FixtureRequest) -> str:
    """The ``database`` setting of each kind in turn: the test runs on SQLite, then on PostgreSQL (skipped
    without a server)."""
    name = "tradepay_sqlite_database" if request.param == "sqlite" else "tradepay_postgres_database"
    database: str = request.getfixturevalue(name)
    return database


@pytest.fixture
def tradepay_context() -> APIContext:
    """An :class:`tradepay.APIContext` as a mini program container sends it (no user id)."""
    return sample_context()


@pytest.fixture
def tradepay_service() -> Iterator[Callable[..., PaymentService]]:
    """A factory: ``tradepay_service({"a": provider_a, "b": provider_b}, rules=...)`` returns a
    :class:`tradepay.PaymentService` over an in-memory ledger; every service is closed after the test."""
    made: list[PaymentService] = []

    def make(providers: Mapping[str, object], **host_kwargs: Any) -> PaymentService:
        service = build_service(providers, **host_kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()
