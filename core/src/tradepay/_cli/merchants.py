"""``tradepay merchants add ID --public-key FILE [--notify-url URL]``, ``tradepay merchants set ID`` and
``tradepay merchants list``: the merchants the server accepts signed requests from (and notifies), kept in the
ledger's database."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from .render import echo_json, echo_text, format_table, format_time, json_time

if TYPE_CHECKING:
    from .main import _State

__all__ = ["register"]

#: The largest public-key file read: a PEM public key is a few kilobytes.
MAX_KEY_FILE = 64 * 1024


def _read_key(path: str) -> str:
    try:
        with Path(path).open("rb") as file:
            data = file.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise click.BadParameter(f"{path}: {exc.strerror or exc}", param_hint="'--public-key'") from None
    if len(data) > MAX_KEY_FILE:
        raise click.BadParameter(
            f"{path}: larger than {MAX_KEY_FILE} bytes, not a public key", param_hint="'--public-key'"
        )
    try:
        pem = data.decode("ascii")
    except UnicodeDecodeError:
        raise click.BadParameter(f"{path}: not PEM text", param_hint="'--public-key'") from None
    try:
        from ..server.signing import load_public_key
    except ImportError:
        raise click.ClickException("checking RSA keys needs the server extra: pip install 'tradepay[server]'") from None
    from .._spi.errors import InvalidInput

    try:
        load_public_key(pem, "--public-key")
    except InvalidInput as exc:
        raise click.BadParameter(f"{path}: {exc.reason}", param_hint="'--public-key'") from None
    return pem


def _checked_url(check: Callable[[object], str], url: str) -> None:
    from .._spi.errors import InvalidInput

    try:
        check(url)
    except InvalidInput as exc:
        raise click.BadParameter(exc.reason, param_hint="'--notify-url'") from None


def fingerprint(pem: str) -> str:
    """A short name of a public key: the first 16 hex digits of the SHA-256 of its PEM text."""
    return hashlib.sha256(pem.strip().encode()).hexdigest()[:16]


def register(cli: click.Group) -> None:
    """Add ``merchants`` to ``cli``."""

    @cli.group()
    def merchants() -> None:
        """The merchants whose signed requests the server accepts."""

    @merchants.command("add")
    @click.argument("client_id", metavar="ID")
    @click.option(
        "--public-key",
        "public_key",
        required=True,
        metavar="FILE",
        help="The merchant's RSA public key (PEM) that verifies its requests.",
    )
    @click.option(
        "--notify-url",
        "notify_url",
        default=None,
        metavar="URL",
        help="Where its notifications are posted (https; http only to 127.0.0.1 or localhost).",
    )
    @click.pass_obj
    def add(state: _State, client_id: str, public_key: str, notify_url: str | None) -> None:
        """Register merchant ID (its Client-Id, and the merchant id of its orders) with its public key."""
        from .._ledger.merchants import check_notify_url, merchant_book
        from .._spi.errors import InvalidInput

        ledger = state.host().ledger  # first: a broken configuration is the first thing to say
        pem = _read_key(public_key)
        if notify_url is not None:
            _checked_url(check_notify_url, notify_url)
        try:
            merchant = merchant_book(ledger).add_merchant(client_id, pem, notify_url)
        except InvalidInput as exc:
            raise click.BadParameter(exc.reason, param_hint="'ID'") from None
        notified = f", notified at {merchant.notify_url}" if merchant.notify_url else ""
        echo_text(f"merchant {merchant.client_id} registered (key {fingerprint(pem)}){notified}")

    @merchants.command("set")
    @click.argument("client_id", metavar="ID")
    @click.option("--notify-url", "notify_url", default=None, metavar="URL", help="The new notification URL.")
    @click.option("--no-notify-url", "clear", is_flag=True, help="Stop notifying the merchant.")
    @click.pass_obj
    def set_merchant(state: _State, client_id: str, notify_url: str | None, clear: bool) -> None:
        """Change registered merchant ID: its notification URL."""
        from .._ledger.merchants import check_notify_url, merchant_book
        from .._spi.errors import InvalidInput

        ledger = state.host().ledger
        if (notify_url is None) == (not clear):
            raise click.UsageError("give exactly one of --notify-url URL and --no-notify-url")
        if notify_url is not None:
            _checked_url(check_notify_url, notify_url)
        try:
            merchant = merchant_book(ledger).set_notify_url(client_id, notify_url)
        except InvalidInput as exc:
            raise click.BadParameter(exc.reason, param_hint="'ID'") from None
        where = f"notified at {merchant.notify_url}" if merchant.notify_url else "not notified"
        echo_text(f"merchant {merchant.client_id}: {where}")

    @merchants.command("list")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    @click.pass_obj
    def list_merchants(state: _State, as_json: bool) -> None:
        """The registered merchants, with their keys' fingerprints."""
        from .._ledger.merchants import merchant_book

        found = merchant_book(state.host().ledger).merchants()
        if as_json:
            echo_json(
                {
                    "merchants": [
                        {
                            "clientId": m.client_id,
                            "keyFingerprint": fingerprint(m.public_key),
                            "createdAt": json_time(m.created_at),
                            "notifyUrl": m.notify_url,
                        }
                        for m in found
                    ]
                }
            )
            return
        if not found:
            echo_text("no merchants: add one with `tradepay merchants add ID --public-key FILE`")
            return
        rows = [[m.client_id, fingerprint(m.public_key), format_time(m.created_at), m.notify_url or "-"] for m in found]
        echo_text(format_table(["client id", "key", "added", "notify url"], rows))
