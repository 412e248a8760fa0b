"""Fixtures of the tradepay-card tests: providers on a real database, SQLite (a file in tmp_path) and
PostgreSQL (a schema of its own per test, dropped after; only when TRADEPAY_TEST_POSTGRES_URL is set), with a
fixed clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

# The multi-process tests start "spawn" children, which import their target by module name: put this folder on
# sys.path so that the children (which inherit sys.path) can import card_support.
sys.path.insert(0, str(Path(__file__).parent))

from card_support import TODAY, Backend, OpenCard, open_provider

from tradepay import CardNumber, CardSecret
from tradepay.testing import closing_all, postgres_skip_reason
from tradepay_card import Card, CardProvider

_UNAVAILABLE = postgres_skip_reason()
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[pytest.mark.postgres, pytest.mark.skipif(_UNAVAILABLE is not None, reason=_UNAVAILABLE or "")],
    ),
]


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """The database of the test: SQLite, or a fresh PostgreSQL schema that is dropped afterwards."""
    chosen = Backend("sqlite") if request.param == "sqlite" else Backend.postgres()
    yield chosen
    chosen.drop()


@pytest.fixture(params=BACKENDS[1:])
def postgres_backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    """A fresh PostgreSQL schema, dropped afterwards (for the tests that are about PostgreSQL only)."""
    chosen = Backend.postgres()
    yield chosen
    chosen.drop()


@pytest.fixture
def open_card(tmp_path: Path, backend: Backend) -> Iterator[OpenCard]:
    """Open card providers on the test's database (data_dir ``tmp_path``); every one is closed afterwards."""

    def open_card(today: date = TODAY, **settings: Any) -> CardProvider:
        return open_provider(tmp_path, today=today, **{**backend.settings, **settings})

    with closing_all(open_card) as opened:
        yield opened


@pytest.fixture
def provider(open_card: OpenCard) -> CardProvider:
    """A card provider with default settings on the test's database, ``today`` fixed at TODAY."""
    return open_card()


@pytest.fixture
def visa(provider: CardProvider) -> Card:
    """Alice's card on file: 4242 4242 4242 4242, which the mock network approves."""
    return provider.add_card("alice", CardNumber("4242 4242 4242 4242"), "12/30", CardSecret("123"))
