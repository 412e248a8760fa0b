"""Fixtures of the agreement tests: a provider on each database, an injected clock, orders and attempts.

Every test that takes ``provider``, ``store`` or ``database`` runs twice: on a real SQLite file in tmp_path,
and on PostgreSQL (marked ``postgres``) in a schema of its own that is dropped afterwards. The PostgreSQL run
needs ``TRADEPAY_TEST_POSTGRES_URL`` and psycopg, and is skipped, saying so, without them.
"""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.typing import EventDict

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig
from tradepay.testing import closing_all
from tradepay_agreement import Agreement, AgreementProvider, AgreementStore

# pytest imports tests in importlib mode, which adds no folder to sys.path; the helpers must be importable by
# a plain name because spawned worker processes import them too (a child inherits its parent's sys.path).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from agreement_support import BACKENDS, FakeClock

from tradepay.testing import postgres_schema


@pytest.fixture(params=BACKENDS)
def database(request: pytest.FixtureRequest) -> Iterator[str]:
    """The ``database`` setting of the test's backend: a SQLite file name (relative to the data directory),
    or a PostgreSQL URL naming a new schema that is dropped after the test."""
    if request.param == "sqlite":
        yield "agreement.sqlite3"
    else:
        with postgres_schema() as url:
            yield url


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[EventDict]]:
    """The structlog events of the test (captured, so nothing is printed)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_provider(tmp_path: Path, database: str) -> Iterator[Callable[..., AgreementProvider]]:
    """``make_provider(clock=None, **settings)``: a provider on the test's database (closed after the test)."""

    def make(clock: Callable[[], float] | None = None, **settings: Any) -> AgreementProvider:
        config = ProviderConfig(name="agreement", settings={"database": database, **settings}, data_dir=tmp_path)
        return AgreementProvider(config) if clock is None else AgreementProvider(config, clock=clock)

    with closing_all(make) as made:
        yield made


@pytest.fixture
def provider(make_provider: Callable[..., AgreementProvider], clock: FakeClock) -> AgreementProvider:
    return make_provider(clock=clock)


@pytest.fixture
def store(provider: AgreementProvider) -> AgreementStore:
    return provider.store


@pytest.fixture
def make_order() -> Callable[..., Order]:
    """``make_order(value="100", currency="USD", payer="alice", merchant="shop")``: a new order each call."""
    numbers = itertools.count(1)

    def make(value: str = "100", currency: str = "USD", payer: str = "alice", merchant: str = "shop") -> Order:
        return Order(f"T{next(numbers)}", PaymentAmount(currency, value), merchant, payer)

    return make


@pytest.fixture
def make_attempt() -> Callable[[], Attempt]:
    """A new attempt, with a key never used before, each call."""
    numbers = itertools.count(1)

    def make() -> Attempt:
        number = next(numbers)
        return Attempt(f"pay_{number}", 1, "agreement", f"pay_{number}-1")

    return make


@pytest.fixture
def active(store: AgreementStore) -> Callable[..., Agreement]:
    """``active(payer="alice", merchant="shop", currency="USD", **limits)``: sign and activate an agreement."""

    def make(payer: str = "alice", merchant: str = "shop", currency: str = "USD", **limits: Any) -> Agreement:
        return store.activate(store.sign(payer, merchant, currency, **limits).agreement_id)

    return make
