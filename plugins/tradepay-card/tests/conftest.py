"""Fixtures of the tradepay-card tests: a provider on a real SQLite file in tmp_path, with a fixed clock."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# The multi-process tests start "spawn" children, which import their target by module name: put this folder on
# sys.path so that the children (which inherit sys.path) can import tradepay_card_workers.
sys.path.insert(0, str(Path(__file__).parent))

from tradepay_card_workers import open_provider

from tradepay import CardNumber, CardSecret
from tradepay_card import Card, CardProvider


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[CardProvider]:
    """A card provider with default settings, its database in ``tmp_path``, and ``today`` fixed at TODAY."""
    card_provider = open_provider(tmp_path)
    yield card_provider
    card_provider.close()


@pytest.fixture
def visa(provider: CardProvider) -> Card:
    """Alice's card on file: 4242 4242 4242 4242, which the mock network approves."""
    return provider.add_card("alice", CardNumber("4242 4242 4242 4242"), "12/30", CardSecret("123"))
