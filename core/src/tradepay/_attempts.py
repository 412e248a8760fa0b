"""Attempts: one provider's try at one payment, and what a provider may say about it afterwards."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._models import PaymentType
from ._text import MAX_IDENTIFIER, check_text, plain_texts

__all__ = ["Attempt", "Capabilities", "ProviderConfig", "ProviderStatus"]


@dataclass(frozen=True, slots=True)
class Attempt:
    """One provider's try at one payment.

    ``idempotency_key`` is the provider's key for this attempt (``<payment_id>-<number>``): it is recorded
    before the provider is called, is never reused for another attempt or payment, and a provider must move
    money at most once per key, answering a repeat with its first answer. The ids are the host's (or its
    ledger's) own: each is text the ledger can store, of at most 64 characters (the key 128).
    """

    payment_id: str
    number: int
    provider: str
    idempotency_key: str

    def __post_init__(self) -> None:
        if (
            plain_texts((self.payment_id, self.provider, self.idempotency_key), MAX_IDENTIFIER)
            and len(self.provider) < 13
        ):
            return  # the host's own ids, on every attempt: passed in one call (too short for a card number)
        # The ids are random hex: one may happen to spell a run of digits, so only a provider name is card-checked.
        check_text(self.payment_id, "payment_id", limit=MAX_IDENTIFIER)
        check_text(self.provider, "provider", limit=MAX_IDENTIFIER, card_numbers="refuse")
        check_text(self.idempotency_key, "idempotency_key", limit=2 * MAX_IDENTIFIER)


class ProviderStatus(enum.StrEnum):
    """A provider's answer to an inquiry about one attempt."""

    PAID = "paid"
    """Money moved for this attempt."""
    NOT_PAID = "not_paid"
    """No money moved for this attempt, and none will."""
    UNKNOWN = "unknown"
    """The provider cannot tell yet."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a provider can pay: ``None`` in a field means no restriction.

    Amounts are in the order currency's minor units; ``max_amount`` is inclusive.
    """

    currencies: frozenset[str] | None = None
    payment_types: frozenset[PaymentType] | None = None
    min_amount: int | None = None
    max_amount: int | None = None

    def refusal(self, currency: str, amount: int, payment_type: PaymentType) -> str | None:
        """Why this provider cannot pay ``amount`` of ``currency`` for ``payment_type``, or ``None`` if it can."""
        if self.currencies is not None and currency not in self.currencies:
            return f"currency {currency} not supported (supports {', '.join(sorted(self.currencies))})"
        if self.payment_types is not None and payment_type not in self.payment_types:
            return f"request type {payment_type.value} not supported"
        if self.min_amount is not None and amount < self.min_amount:
            return f"amount {amount} below the minimum {self.min_amount}"
        if self.max_amount is not None and amount > self.max_amount:
            return f"amount {amount} above the maximum {self.max_amount}"
        return None


@dataclass(frozen=True, slots=True)
class ProviderConfig:
    """What the host hands a provider factory: its chain ``name``, its own ``settings`` and a ``data_dir``.

    ``settings`` is the ``[providers.NAME]`` table less the host's own keys (``deadline_s``). A provider must
    refuse keys it does not know with :class:`tradepay.ConfigError`. ``data_dir`` is where a provider keeps its
    state files unless its settings say otherwise; it exists when the factory is called.
    """

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    data_dir: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        check_text(self.name, "name", limit=MAX_IDENTIFIER)
