"""Attempts: one provider's try at one payment, and what a provider may say about it afterwards."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._spi.enums import CheckedEnumType
from .._spi.errors import InvalidInput
from .._spi.fields import NAME_RE, check_count, check_instance, check_member
from .._spi.frozen import set_at_once
from .._spi.models import PaymentType
from .._spi.money import MAX_AMOUNT_DIGITS, minor_unit_exponent
from .._spi.numbers import shown_value
from .._spi.text import MAX_IDENTIFIER, check_text, plain_texts

__all__ = ["Attempt", "Capabilities", "ProviderConfig", "ProviderStatus"]


@set_at_once
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
        check_count(self.number, "attempt.number")
        if (
            plain_texts((self.payment_id, self.provider, self.idempotency_key), MAX_IDENTIFIER)
            and len(self.provider) < 13
        ):
            return  # the host's own ids, on every attempt: passed in one call (too short for a card number)
        # The ids are random hex: one may happen to spell a run of digits, so only a provider name is card-checked.
        check_text(self.payment_id, "payment_id", limit=MAX_IDENTIFIER)
        check_text(self.provider, "provider", limit=MAX_IDENTIFIER, card_numbers="refuse")
        check_text(self.idempotency_key, "idempotency_key", limit=2 * MAX_IDENTIFIER)


class ProviderStatus(enum.StrEnum, metaclass=CheckedEnumType):
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

    def __post_init__(self) -> None:
        # Any collection is accepted and kept as a frozenset; plain strings become PaymentType members.
        for name in ("currencies", "payment_types"):
            value: object = getattr(self, name)
            if value is not None and (isinstance(value, str | bytes | Mapping) or not isinstance(value, Collection)):
                raise InvalidInput(f"capabilities.{name}", f"must be a set, got {type(value).__name__}")
        if self.currencies is not None:
            for code in self.currencies:
                minor_unit_exponent(code, field="capabilities.currencies")
            object.__setattr__(self, "currencies", frozenset(self.currencies))
        if self.payment_types is not None:
            kinds = [check_member(t, PaymentType, "capabilities.payment_types") for t in self.payment_types]
            object.__setattr__(self, "payment_types", frozenset(kinds))
        for name in ("min_amount", "max_amount"):
            if getattr(self, name) is not None:
                check_count(getattr(self, name), f"capabilities.{name}", 0, 10**MAX_AMOUNT_DIGITS - 1)
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            raise InvalidInput("capabilities.min_amount", f"is above max_amount ({self.max_amount})")

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
        if not isinstance(self.name, str) or not NAME_RE.fullmatch(self.name):
            raise InvalidInput("name", f"{shown_value(self.name)} is not a provider name (lowercase, a-z0-9_-)")
        check_instance(self.settings, Mapping, "settings")
        raw_dir: object = self.data_dir
        if isinstance(raw_dir, str) and raw_dir and "\x00" not in raw_dir:
            object.__setattr__(self, "data_dir", Path(raw_dir))
        check_instance(self.data_dir, Path, "data_dir")
