"""The server's merchants and their order ids, kept beside the ledger's orders.

A merchant is registered with its client id and the RSA public key (PEM text) that verifies its signed
requests. Each merchant order id a merchant used to create an order is recorded with the trade number it
got and the fields it was asked with: the idempotency key of create-order. On the SQL ledgers both live in
the ledger's database (migration 4); a :class:`~tradepay.MemoryLedger` keeps them in memory, gone with it.

Of any number of concurrent claims of one merchant order id, exactly one records it (the primary key, or the
memory book's lock, decides); the others read the recorded one and compare fields.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .._spi.errors import InvalidInput
from .databases import Database
from .orders import check_trade_no

__all__ = [
    "MAX_PUBLIC_KEY",
    "Merchant",
    "MerchantBook",
    "MerchantOrder",
    "MemoryMerchantBook",
    "SQLMerchantBook",
    "merchant_book",
]

#: The longest public key accepted, in PEM text: a 16384-bit RSA key is about 2,900 characters.
MAX_PUBLIC_KEY = 8192


@dataclass(frozen=True, slots=True)
class Merchant:
    """A registered merchant: ``client_id`` (its merchant id on orders) and its public key in PEM."""

    client_id: str
    public_key: str
    created_at: float


@dataclass(frozen=True, slots=True)
class MerchantOrder:
    """A merchant order id as first used: the order it created and the fields (canonical JSON) it was asked
    with."""

    merchant_id: str
    merchant_order_id: str
    trade_no: str
    fields: str


def _checked(client_id: object, public_key: object) -> tuple[str, str]:
    cid = check_trade_no(client_id, "client_id")
    if not isinstance(public_key, str) or not public_key.strip() or len(public_key) > MAX_PUBLIC_KEY:
        raise InvalidInput("public_key", f"must be PEM text of at most {MAX_PUBLIC_KEY} characters")
    return cid, public_key


class MerchantBook(Protocol):
    """Where merchants and their order ids are recorded."""

    def add_merchant(self, client_id: str, public_key: str) -> Merchant:
        """Register ``client_id`` with ``public_key`` (PEM); a client id already registered is refused."""

    def get_merchant(self, client_id: str) -> Merchant | None:
        """The merchant ``client_id``, or ``None``."""

    def merchants(self) -> list[Merchant]:
        """Every registered merchant, by client id."""

    def claim_merchant_order(
        self, merchant_id: str, merchant_order_id: str, trade_no: str, fields: str
    ) -> MerchantOrder:
        """Record ``merchant_order_id`` of ``merchant_id`` for ``trade_no`` and ``fields`` and return it, or
        return the record that exists already (whatever its fields: the caller compares them)."""

    def find_merchant_order(self, merchant_id: str, merchant_order_id: str) -> MerchantOrder | None:
        """The record of ``merchant_order_id`` of ``merchant_id``, or ``None``."""


class MemoryMerchantBook:
    """Merchants and merchant order ids in memory (thread-safe), for a :class:`~tradepay.MemoryLedger`."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._lock = threading.Lock()
        self._merchants: dict[str, Merchant] = {}
        self._orders: dict[tuple[str, str], MerchantOrder] = {}
        self._clock = clock

    def add_merchant(self, client_id: str, public_key: str) -> Merchant:
        cid, key = _checked(client_id, public_key)
        with self._lock:
            if cid in self._merchants:
                raise InvalidInput("client_id", f"merchant {cid!r} is already registered")
            merchant = self._merchants[cid] = Merchant(cid, key, self._clock())
        return merchant

    def get_merchant(self, client_id: str) -> Merchant | None:
        return self._merchants.get(client_id)

    def merchants(self) -> list[Merchant]:
        with self._lock:
            return sorted(self._merchants.values(), key=lambda m: m.client_id)

    def claim_merchant_order(
        self, merchant_id: str, merchant_order_id: str, trade_no: str, fields: str
    ) -> MerchantOrder:
        with self._lock:
            key = (merchant_id, merchant_order_id)
            return self._orders.setdefault(key, MerchantOrder(merchant_id, merchant_order_id, trade_no, fields))

    def find_merchant_order(self, merchant_id: str, merchant_order_id: str) -> MerchantOrder | None:
        return self._orders.get((merchant_id, merchant_order_id))


class SQLMerchantBook:
    """Merchants and merchant order ids in the ledger's SQL database (tables ``merchants`` and
    ``merchant_orders``); safe across processes."""

    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock

    def add_merchant(self, client_id: str, public_key: str) -> Merchant:
        cid, key = _checked(client_id, public_key)
        merchant = Merchant(cid, key, self._clock())
        try:
            with self.database.write() as db:
                db.execute("INSERT INTO merchants VALUES (?, ?, ?)", (cid, key, merchant.created_at))
        except self.database.integrity_errors:
            raise InvalidInput("client_id", f"merchant {cid!r} is already registered") from None
        return merchant

    def get_merchant(self, client_id: str) -> Merchant | None:
        with self.database.read() as db:
            row = db.execute(
                "SELECT client_id, public_key, created_at FROM merchants WHERE client_id = ?", (client_id,)
            ).fetchone()
        return None if row is None else Merchant(*row)

    def merchants(self) -> list[Merchant]:
        with self.database.read() as db:
            rows = db.execute("SELECT client_id, public_key, created_at FROM merchants ORDER BY client_id").fetchall()
        return [Merchant(*row) for row in rows]

    def claim_merchant_order(
        self, merchant_id: str, merchant_order_id: str, trade_no: str, fields: str
    ) -> MerchantOrder:
        try:
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO merchant_orders VALUES (?, ?, ?, ?, ?)",
                    (merchant_id, merchant_order_id, trade_no, fields, self._clock()),
                )
        except self.database.integrity_errors:
            found = self.find_merchant_order(merchant_id, merchant_order_id)
            if found is None:  # the trade number was taken (a random clash): never the merchant's own record
                raise InvalidInput("trade_no", f"{trade_no!r} already exists") from None
            return found
        return MerchantOrder(merchant_id, merchant_order_id, trade_no, fields)

    def find_merchant_order(self, merchant_id: str, merchant_order_id: str) -> MerchantOrder | None:
        with self.database.read() as db:
            row = db.execute(
                "SELECT merchant_id, merchant_order_id, trade_no, fields FROM merchant_orders"
                " WHERE merchant_id = ? AND merchant_order_id = ?",
                (merchant_id, merchant_order_id),
            ).fetchone()
        return None if row is None else MerchantOrder(*row)


_MEMORY_BOOKS: weakref.WeakKeyDictionary[Any, MemoryMerchantBook] = weakref.WeakKeyDictionary()
_MEMORY_LOCK = threading.Lock()


def merchant_book(ledger: object) -> MerchantBook:
    """The merchant book of ``ledger``: in its database for a SQL ledger, else one in memory that lives as long
    as the ledger does."""
    database = getattr(ledger, "database", None)
    if database is not None:
        return SQLMerchantBook(database)
    with _MEMORY_LOCK:
        book = _MEMORY_BOOKS.get(ledger)
        if book is None:
            book = _MEMORY_BOOKS[ledger] = MemoryMerchantBook()
    return book
