"""The server's merchants and their order ids, kept beside the ledger's orders.

A merchant is registered with its client id and the RSA public key (PEM text) that verifies its signed
requests, and optionally the URL its notifications are posted to. Each merchant order id a merchant used to
create an order is recorded with the trade number it got and the fields it was asked with: the idempotency
key of create-order. On the SQL ledgers both live in the ledger's database (migrations 5 and 6); a
:class:`~tradepay.MemoryLedger` keeps them in memory, gone with it.

Of any number of concurrent claims of one merchant order id, exactly one records it (the primary key, or the
memory book's lock, decides); the others read the recorded one and compare fields.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from .._spi.errors import InvalidInput
from .databases import Database
from .orders import check_trade_no

__all__ = [
    "MAX_NOTIFY_URL",
    "MAX_PUBLIC_KEY",
    "Merchant",
    "MerchantBook",
    "MerchantOrder",
    "MemoryMerchantBook",
    "SQLMerchantBook",
    "check_notify_url",
    "merchant_book",
]

#: The longest public key accepted, in PEM text: a 16384-bit RSA key is about 2,900 characters.
MAX_PUBLIC_KEY = 8192
#: The longest notification URL accepted.
MAX_NOTIFY_URL = 2048
#: The hosts a notification URL may name over plain ``http``: this machine only (a merchant's test receiver).
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True, slots=True)
class Merchant:
    """A registered merchant: ``client_id`` (its merchant id on orders), its public key in PEM and the URL its
    notifications are posted to (``None``: it is not notified)."""

    client_id: str
    public_key: str
    created_at: float
    notify_url: str | None = None


@dataclass(frozen=True, slots=True)
class MerchantOrder:
    """A merchant order id as first used: the order it created and the fields (canonical JSON) it was asked
    with."""

    merchant_id: str
    merchant_order_id: str
    trade_no: str
    fields: str


def check_notify_url(url: object) -> str:
    """``url`` if it is a notification URL: absolute ``https`` with a host, or ``http`` to this machine
    (``127.0.0.1``, ``localhost``, ``::1``); no credentials, no fragment, at most :data:`MAX_NOTIFY_URL`
    characters. Anything else is an :class:`~tradepay.InvalidInput` naming ``notify_url``."""
    if not isinstance(url, str) or not url or len(url) > MAX_NOTIFY_URL or not url.isprintable() or " " in url:
        raise InvalidInput("notify_url", f"must be a URL of at most {MAX_NOTIFY_URL} printable characters")
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - a malformed port raises here
    except ValueError:
        raise InvalidInput("notify_url", "is not a valid URL") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidInput("notify_url", "must not carry credentials")
    if parts.fragment:
        raise InvalidInput("notify_url", "must not have a fragment")
    if not host:
        raise InvalidInput("notify_url", "must name a host")
    if parts.scheme == "https" or (parts.scheme == "http" and host in LOOPBACK_HOSTS):
        return url
    raise InvalidInput("notify_url", "must be https (plain http only to 127.0.0.1 or localhost)")


def _checked(client_id: object, public_key: object) -> tuple[str, str]:
    cid = check_trade_no(client_id, "client_id")
    if not isinstance(public_key, str) or not public_key.strip() or len(public_key) > MAX_PUBLIC_KEY:
        raise InvalidInput("public_key", f"must be PEM text of at most {MAX_PUBLIC_KEY} characters")
    return cid, public_key


class MerchantBook(Protocol):
    """Where merchants and their order ids are recorded."""

    def add_merchant(self, client_id: str, public_key: str, notify_url: str | None = None) -> Merchant:
        """Register ``client_id`` with ``public_key`` (PEM) and ``notify_url``; a client id already registered,
        or a URL :func:`check_notify_url` refuses, is refused."""

    def set_notify_url(self, client_id: str, notify_url: str | None) -> Merchant:
        """Set (``None``: clear) the notification URL of the registered merchant ``client_id``."""

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

    def add_merchant(self, client_id: str, public_key: str, notify_url: str | None = None) -> Merchant:
        cid, key = _checked(client_id, public_key)
        url = None if notify_url is None else check_notify_url(notify_url)
        with self._lock:
            if cid in self._merchants:
                raise InvalidInput("client_id", f"merchant {cid!r} is already registered")
            merchant = self._merchants[cid] = Merchant(cid, key, self._clock(), url)
        return merchant

    def set_notify_url(self, client_id: str, notify_url: str | None) -> Merchant:
        url = None if notify_url is None else check_notify_url(notify_url)
        with self._lock:
            found = self._merchants.get(client_id)
            if found is None:
                raise InvalidInput("client_id", f"merchant {client_id!r} is not registered")
            merchant = self._merchants[client_id] = Merchant(found.client_id, found.public_key, found.created_at, url)
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

    def add_merchant(self, client_id: str, public_key: str, notify_url: str | None = None) -> Merchant:
        cid, key = _checked(client_id, public_key)
        url = None if notify_url is None else check_notify_url(notify_url)
        merchant = Merchant(cid, key, self._clock(), url)
        try:
            with self.database.write() as db:
                db.execute(
                    "INSERT INTO merchants (client_id, public_key, created_at, notify_url) VALUES (?, ?, ?, ?)",
                    (cid, key, merchant.created_at, url),
                )
        except self.database.integrity_errors:
            raise InvalidInput("client_id", f"merchant {cid!r} is already registered") from None
        return merchant

    def set_notify_url(self, client_id: str, notify_url: str | None) -> Merchant:
        url = None if notify_url is None else check_notify_url(notify_url)
        with self.database.write() as db:
            changed = db.execute("UPDATE merchants SET notify_url = ? WHERE client_id = ?", (url, client_id)).rowcount
        merchant = self.get_merchant(client_id)
        if not changed or merchant is None:
            raise InvalidInput("client_id", f"merchant {client_id!r} is not registered")
        return merchant

    def get_merchant(self, client_id: str) -> Merchant | None:
        with self.database.read() as db:
            row = db.execute(
                "SELECT client_id, public_key, created_at, notify_url FROM merchants WHERE client_id = ?", (client_id,)
            ).fetchone()
        return None if row is None else Merchant(*row)

    def merchants(self) -> list[Merchant]:
        with self.database.read() as db:
            rows = db.execute(
                "SELECT client_id, public_key, created_at, notify_url FROM merchants ORDER BY client_id"
            ).fetchall()
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
