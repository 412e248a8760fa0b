"""The card provider's state, on SQLite or PostgreSQL: cards on file, attempts and refunds by idempotency key,
and the money that moved.

Nothing here ever sees a card number or a CVC: a card is a random token, its brand, last four digits, expiry
and the mock network's scenario.

The database is the kit's :class:`tradepay.ProviderStore` (``tradepay.open_database``, ``?`` placeholders);
payment keys follow the kit's rules (``AttemptKeys``), refund keys the core's (:func:`tradepay.judge_refund`).
Every write is one transaction, and every decision taken in it is safe against other processes: on SQLite the
transaction holds the file's write lock (``BEGIN IMMEDIATE``); on PostgreSQL (READ COMMITTED) the rows a
decision is taken on are locked: an attempt row ``FOR UPDATE`` (a second pay, inquire or cancel of the key
waits, then reads what the first one committed), the payer's cards ``FOR SHARE`` (a removal waits for the
charge, or the charge sees the removal). Two transactions that both find a key missing both insert it; the
primary key refuses the second, and :meth:`tradepay.ProviderStore.write` runs it once more, finding the row.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from tradepay import (
    Attempt,
    AttemptRow,
    AttemptStatus,
    AttemptTable,
    Order,
    PaymentResult,
    ProviderStore,
    Refund,
    RefundAnswer,
    ResultCode,
    StoreTransaction,
)

from ._answers import NOT_CHARGED, declined_by_network, refunded
from ._enrolment import Brand, CardDetails, Expiry
from ._network import Scenario
from ._schema import MIGRATIONS

__all__ = ["DEFAULT_SCHEMA", "Card", "CardStore", "CardTransaction", "Movement"]

#: The PostgreSQL schema of the tables, unless the URL's ``schema`` parameter names another.
DEFAULT_SCHEMA: Final = "tradepay_card"

_TABLE: Final = AttemptTable(extra=("payment_id", "card_token"))
_CARD_COLUMNS: Final = "token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at"
# The card a key's charge was made on (its row stays when the card is removed from file).
_CHARGED_CARD: Final = (
    f"SELECT {_CARD_COLUMNS} FROM cards WHERE token = (SELECT card_token FROM attempts WHERE idempotency_key = ?)"  # noqa: S608
)


@dataclass(frozen=True, slots=True)
class Card:
    """A card on file: never its number, never its CVC."""

    token: str
    payer_id: str
    brand: Brand
    last4: str
    expiry: Expiry
    scenario: Scenario
    added_at: float

    def to_dict(self) -> dict[str, str]:
        """The card as JSON-friendly strings (the CLI's ``--json``)."""
        return {
            "token": self.token,
            "payer": self.payer_id,
            "brand": self.brand.value,
            "last4": self.last4,
            "expiry": str(self.expiry),
            "scenario": self.scenario.value,
        }


@dataclass(frozen=True, slots=True)
class Movement:
    """Money that moved on a card: a ``charge`` or its ``refund``, at most one of each per key."""

    idempotency_key: str
    kind: str
    card_token: str
    currency: str
    amount: int


class CardTransaction(StoreTransaction):
    """The reads and writes of one open write transaction (see :meth:`CardStore.transaction`).

    Its reads lock the rows they return until the transaction ends (on PostgreSQL; SQLite's write transaction
    holds the whole file), so what a write decides on stays true until it commits.
    """

    def attempt(self, key: str) -> AttemptRow | None:
        """The row of ``key``, locked, or ``None`` if the key was never seen (nothing to lock: see :meth:`record`)."""
        return self.attempts.find(key, lock=True)

    def default_card(self, payer_id: str) -> Card | None:
        """The payer's default card: the most recently added one that is still active.

        All of the payer's active cards are locked ``FOR SHARE``, so a removal waits for this transaction, and
        a removal committed meanwhile is seen. (No ``LIMIT 1``: a locked read that finds its first row removed
        under it would then return no card at all instead of the next one.)
        """
        rows = self.execute(
            f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1"  # noqa: S608 - fixed columns
            f" ORDER BY id DESC{self.for_share}",
            (payer_id,),
        ).fetchall()
        return _card(rows[0]) if rows else None

    def record(self, attempt: Attempt, order: Order, result: PaymentResult, card: Card | None) -> None:
        """Insert the first row of ``attempt``'s key, asked for ``order`` and answered ``result``: ``paid`` when the
        answer is ``9000``, which also records the charge of the order's amount on ``card``, else ``declined``. A
        unique violation if the key already has a row (see :meth:`tradepay.ProviderStore.write`)."""
        paid = result.result_code is ResultCode.SUCCESS
        status = AttemptStatus.PAID if paid else AttemptStatus.DECLINED
        self.attempts.record(
            attempt, order, status, result, payment_id=attempt.payment_id, card_token=card and card.token
        )
        if paid:
            if card is None:
                raise ValueError("a paid attempt needs the card it charged")
            self.move(attempt.idempotency_key, "charge", card.token, order.amount.currency, order.amount.minor_units)

    def charged_card(self, key: str) -> Card | None:
        """The card that ``key``'s charge was made on, or ``None`` if the key charged no card."""
        row = self.execute(_CHARGED_CARD, (key,)).fetchone()
        return None if row is None else _card(row)

    def move(self, key: str, kind: str, card_token: str, currency: str, amount: int) -> None:
        """Record money moved on a card under ``key``: its ``charge``, or the ``refund`` of a reversal."""
        self.execute(
            "INSERT INTO movements (idempotency_key, kind, card_token, currency, amount, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (key, kind, card_token, currency, amount, self.now),
        )


class CardStore(ProviderStore[CardTransaction]):
    """The card provider's database, opened (and migrated) on construction.

    ``location`` is a SQLite file (a path, absolute or relative to the working directory) or a
    ``postgresql://`` URL (tables in the schema ``tradepay_card`` unless the URL's ``schema`` parameter names
    another). ``where`` is the configuration key named by a :class:`tradepay.ConfigError` when the database
    cannot be opened or was written by a newer tradepay-card. Safe to share between threads and processes;
    after ``close()`` the next call opens the database again.
    """

    def __init__(self, location: str | os.PathLike[str], *, where: str = "providers.card.database") -> None:
        super().__init__(
            location,
            schema=DEFAULT_SCHEMA,
            migrations=MIGRATIONS,
            where=where,
            transaction=CardTransaction,
            attempts=_TABLE,
        )

    not_charged = NOT_CHARGED

    def tombstone(self, attempt: Attempt) -> dict[str, str]:
        """A tombstone keeps the payment id, as every attempt row does."""
        return {"payment_id": attempt.payment_id}

    def give_back(self, tx: CardTransaction, paid: AttemptRow, held: int) -> None:
        """Refund to the card what the reversed charge still holds: one refund movement at most (the schema
        refuses a second one), none when refunds gave everything back already."""
        if held > 0:
            tx.move(paid.idempotency_key, "refund", paid.extra["card_token"], paid.currency, held)

    def refund_money(self, tx: CardTransaction, paid: AttemptRow, refund: Refund) -> RefundAnswer:
        """The refund goes back to the card the key charged."""
        card = tx.charged_card(paid.idempotency_key)
        if card is None:
            raise ValueError(f"attempt {paid.idempotency_key!r} is paid but names no card")
        return refunded(refund.amount, card.brand, card.last4)

    def refund_check(self, tx: CardTransaction, paid: AttemptRow) -> RefundAnswer | None:
        """The network declines a refund to a ``refund_fails`` card."""
        card = tx.charged_card(paid.idempotency_key)
        return declined_by_network(card.scenario) if card else None

    def charged_card(self, key: str) -> Card | None:
        """The card that ``key``'s charge was made on, or ``None`` if the key charged no card (a plain read)."""
        with self.read() as conn:
            row = conn.execute(_CHARGED_CARD, (key,)).fetchone()
        return None if row is None else _card(row)

    def add_card(self, payer_id: str, details: CardDetails) -> Card:
        """Put a checked card on file for ``payer_id`` under a new random token; it becomes the default card."""
        card = Card(
            token=f"card_{secrets.token_hex(12)}",
            payer_id=payer_id,
            brand=details.brand,
            last4=details.last4,
            expiry=details.expiry,
            scenario=details.scenario,
            added_at=self.clock(),
        )
        with self.transaction() as tx:
            tx.execute(
                f"INSERT INTO cards ({_CARD_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",  # noqa: S608 - fixed columns
                (card.token, payer_id, card.brand.value, card.last4, card.expiry.year, card.expiry.month,
                 card.scenario.value, card.added_at),
            )  # fmt: skip
        return card

    def cards(self, payer_id: str) -> list[Card]:
        """The payer's active cards, default (most recently added) first."""
        with self.read() as conn:
            rows = conn.execute(
                f"SELECT {_CARD_COLUMNS} FROM cards WHERE payer_id = ? AND active = 1 ORDER BY id DESC",  # noqa: S608
                (payer_id,),
            ).fetchall()
        return [_card(row) for row in rows]

    def remove_card(self, payer_id: str, token: str) -> bool:
        """Deactivate the payer's card ``token``; False if the payer has no such active card.

        The row stays, deactivated, because attempts and movements refer to it. The update names the state it
        expects (``active = 1``), so of two removals at once exactly one succeeds, on either database.
        """
        with self.transaction() as tx:
            cursor = tx.execute(
                "UPDATE cards SET active = 0, removed_at = ? WHERE payer_id = ? AND token = ? AND active = 1",
                (tx.now, payer_id, token),
            )
            return bool(cursor.rowcount == 1)

    def movements(self, key: str | None = None) -> list[Movement]:
        """Money moved, oldest first: every movement, or those of one idempotency key."""
        sql = "SELECT idempotency_key, kind, card_token, currency, amount FROM movements"
        with self.read() as conn:
            if key is None:
                rows = conn.execute(f"{sql} ORDER BY id").fetchall()
            else:
                rows = conn.execute(f"{sql} WHERE idempotency_key = ? ORDER BY id", (key,)).fetchall()
        return [Movement(*row) for row in rows]


def _card(row: Sequence[Any]) -> Card:
    token, payer_id, brand, last4, exp_year, exp_month, scenario, added_at = row
    return Card(
        token=token,
        payer_id=payer_id,
        brand=Brand(brand),
        last4=last4,
        expiry=Expiry(year=exp_year, month=exp_month),
        scenario=Scenario(scenario),
        added_at=added_at,
    )
