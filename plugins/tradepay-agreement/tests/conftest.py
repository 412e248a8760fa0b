"""Fixtures of the agreement tests: a provider on a real SQLite file, an injected clock, orders and attempts."""

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
from tradepay_agreement import Agreement, AgreementProvider, AgreementStore

# pytest imports tests in importlib mode, which adds no folder to sys.path; the helpers must be importable by
# a plain name because spawned worker processes import them too (a child inherits its parent's sys.path).
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from agreement_support import FakeClock


@pytest.fixture(autouse=True)
def logs() -> Iterator[list[EventDict]]:
    """The structlog events of the test (captured, so nothing is printed)."""
    with structlog.testing.capture_logs() as captured:
        yield captured


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def provider(tmp_path: Path, clock: FakeClock) -> Iterator[AgreementProvider]:
    made = AgreementProvider(ProviderConfig(name="agreement", settings={}, data_dir=tmp_path), clock=clock)
    yield made
    made.close()


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
