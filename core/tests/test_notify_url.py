"""A merchant's notification URL: which URLs are accepted, stored with the merchant, and set later."""

from __future__ import annotations

from pathlib import Path

import pytest

from tradepay import InvalidInput, MemoryLedger, SQLiteLedger
from tradepay._ledger.merchants import MemoryMerchantBook, MerchantBook, SQLMerchantBook, check_notify_url

PEM = "-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n"

ACCEPTED = [
    "https://shop.example/notify",
    "https://shop.example:8443/hooks/tradepay?v=1",
    "http://127.0.0.1:9000/notify",
    "http://localhost/notify",
    "http://[::1]:9000/n",
]
REFUSED = [
    ("http://shop.example/notify", "must be https"),
    ("ftp://shop.example/notify", "must be https"),
    ("https:///notify", "must name a host"),
    ("https://user:pw@shop.example/", "must not carry credentials"),
    ("https://shop.example/#frag", "must not have a fragment"),
    ("https://shop.example:99999/", "is not a valid URL"),
    ("https://shop.example/a b", "printable characters"),
    ("https://shop.example/" + "a" * 2048, "at most 2048"),
    ("", "at most 2048"),
    ("notify", "must name a host"),
]


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_or_loopback_http_is_accepted(url: str) -> None:
    assert check_notify_url(url) == url


@pytest.mark.parametrize(("url", "says"), REFUSED)
def test_other_urls_are_refused_naming_the_field(url: str, says: str) -> None:
    with pytest.raises(InvalidInput) as refused:
        check_notify_url(url)
    assert refused.value.field == "notify_url"
    assert says in refused.value.reason


def books(tmp_path: Path) -> list[MerchantBook]:
    return [MemoryMerchantBook(), SQLMerchantBook(SQLiteLedger(tmp_path / "l.sqlite3").database)]


def test_the_url_is_stored_with_the_merchant_and_can_be_changed(tmp_path: Path) -> None:
    for book in books(tmp_path):
        added = book.add_merchant("shop-1", PEM, "https://shop.example/n")
        assert added.notify_url == "https://shop.example/n"
        assert book.add_merchant("shop-2", PEM).notify_url is None
        assert book.set_notify_url("shop-2", "http://127.0.0.1:1/n").notify_url == "http://127.0.0.1:1/n"
        assert book.set_notify_url("shop-1", None).notify_url is None
        assert [(m.client_id, m.notify_url) for m in book.merchants()] == [
            ("shop-1", None),
            ("shop-2", "http://127.0.0.1:1/n"),
        ]
        with pytest.raises(InvalidInput, match="not registered"):
            book.set_notify_url("shop-3", "https://shop.example/n")


def test_a_refused_url_stores_nothing(tmp_path: Path) -> None:
    for book in books(tmp_path):
        with pytest.raises(InvalidInput):
            book.add_merchant("shop-1", PEM, "http://shop.example/n")
        assert book.get_merchant("shop-1") is None
        book.add_merchant("shop-1", PEM, "https://shop.example/n")
        with pytest.raises(InvalidInput):
            book.set_notify_url("shop-1", "http://shop.example/n")
        found = book.get_merchant("shop-1")
        assert found is not None
        assert found.notify_url == "https://shop.example/n"


def test_a_memory_ledger_keeps_one_book() -> None:
    from tradepay._ledger.merchants import merchant_book

    ledger = MemoryLedger()
    merchant_book(ledger).add_merchant("shop-1", PEM, "https://shop.example/n")
    found = merchant_book(ledger).get_merchant("shop-1")
    assert found is not None
    assert found.notify_url == "https://shop.example/n"
