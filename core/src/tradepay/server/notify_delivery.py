"""One delivery of one notification: its payload POSTed, signed by the host, to the merchant's current URL.

The URL is the one the merchant book holds at delivery time (a merchant that changed it gets the next
attempt at the new one), checked again as registration checks it. The body is the event's ``payload``, as
it was written; the headers sign it as the merchant API's answers are signed (``Client-Id``, a fresh
``Request-Time``, ``Signature``). Redirects are never followed, and at most ``max_response_bytes`` of the
answer are read.

The merchant acknowledges with HTTP 200 and a JSON body whose ``result`` has ``resultStatus`` ``S`` and
``resultCode`` ``SUCCESS``. Anything else is a failed delivery with a one-line reason in which every piece of
the merchant's answer is escaped and cut short (:func:`~tradepay._spi.echo.echo_value`): it goes to the log
and to the event's ``last_error``.
"""

from __future__ import annotations

import asyncio
import enum
import json
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa

from .._config import NotificationSettings
from .._ledger.merchants import Merchant, check_notify_url
from .._ledger.notifications import Notification
from .._spi.echo import echo_value, safe_text
from .._spi.errors import InvalidInput
from .signing import sign_request

__all__ = ["DeliveryOutcome", "Failure", "deliver", "make_client"]

#: How much of a merchant's text a reason quotes.
_QUOTED = 60


class Failure(enum.StrEnum):
    """Why a delivery failed, as the metrics count it."""

    NO_URL = "no_url"
    """The merchant is gone, has no URL any more, or its URL is refused."""
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    REDIRECT = "redirect"
    STATUS = "status"
    """An HTTP status other than 200."""
    TOO_LARGE = "too_large"
    BAD_ANSWER = "bad_answer"
    """Not JSON, or JSON that does not acknowledge."""


@dataclass(frozen=True, slots=True)
class DeliveryOutcome:
    """What one delivery came to: acknowledged (``failure is None``), or why not, in one line."""

    failure: Failure | None = None
    reason: str = "acknowledged"

    @property
    def acknowledged(self) -> bool:
        return self.failure is None


def make_client(settings: NotificationSettings) -> httpx.AsyncClient:
    """The HTTP client of a delivery worker: the settings' timeouts, no redirects, no proxies from the
    environment (a notification goes straight to the merchant's URL)."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_s,
        read=settings.read_timeout_s,
        write=settings.write_timeout_s,
        pool=settings.pool_timeout_s,
    )
    limits = httpx.Limits(max_connections=settings.concurrency * 2, max_keepalive_connections=settings.concurrency)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False)


def _uri(url: str) -> str:
    """The ``<URI>`` the signature covers: the URL's path (``/`` when it has none), and its query."""
    parts = urlsplit(url)
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _target(notification: Notification, merchant: Merchant | None) -> tuple[str, DeliveryOutcome | None]:
    if merchant is None:
        return "", DeliveryOutcome(Failure.NO_URL, f"merchant {notification.merchant_id!r} is not registered")
    if merchant.notify_url is None:
        return "", DeliveryOutcome(Failure.NO_URL, f"merchant {merchant.client_id!r} has no notification URL")
    try:
        return check_notify_url(merchant.notify_url), None
    except InvalidInput as exc:
        return "", DeliveryOutcome(Failure.NO_URL, f"the notification URL is refused: {exc.reason}")


def _acknowledgement(status: int, headers: httpx.Headers, body: bytes) -> DeliveryOutcome:
    if 300 <= status < 400:
        location = headers.get("location", "")
        return DeliveryOutcome(
            Failure.REDIRECT, f"HTTP {status} redirect to {echo_value(location, limit=_QUOTED)}, not followed"
        )
    if status != 200:
        return DeliveryOutcome(Failure.STATUS, f"HTTP {status}")
    try:
        answer = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        shown = echo_value(body.decode("utf-8", "replace"), limit=_QUOTED)
        return DeliveryOutcome(Failure.BAD_ANSWER, f"HTTP 200 but not JSON: {shown}")
    result = answer.get("result") if isinstance(answer, dict) else None
    if not isinstance(result, dict):
        return DeliveryOutcome(Failure.BAD_ANSWER, "HTTP 200 but no result object in the answer")
    result_status, result_code = result.get("resultStatus"), result.get("resultCode")
    if result_status == "S" and result_code == "SUCCESS":
        return DeliveryOutcome()
    said = f"resultStatus {echo_value(result_status, limit=8)}, resultCode {echo_value(result_code, limit=_QUOTED)}"
    return DeliveryOutcome(Failure.BAD_ANSWER, f"not acknowledged: {said}")


async def _post(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], max_bytes: int
) -> DeliveryOutcome:
    async with client.stream("POST", url, content=body, headers=headers) as response:
        received = bytearray()
        async for chunk in response.aiter_bytes():
            received += chunk
            if len(received) > max_bytes:
                return DeliveryOutcome(
                    Failure.TOO_LARGE, f"HTTP {response.status_code}: the answer is larger than {max_bytes} bytes"
                )
        return _acknowledgement(response.status_code, response.headers, bytes(received))


async def deliver(
    client: httpx.AsyncClient,
    key: rsa.RSAPrivateKey,
    notification: Notification,
    merchant: Merchant | None,
    settings: NotificationSettings,
) -> DeliveryOutcome:
    """POST ``notification`` to ``merchant``'s notification URL, signed with the host's ``key``; what came of
    it. Never raises for anything the merchant's side does: every failure is an outcome. The whole delivery
    is bounded by ``settings.delivery_deadline_s``."""
    url, refused = _target(notification, merchant)
    if refused is not None:
        return refused
    assert merchant is not None  # _target refuses a missing merchant
    body = notification.payload.encode()
    headers = sign_request(key, "POST", _uri(url), merchant.client_id, body)
    try:
        async with asyncio.timeout(settings.delivery_deadline_s):
            return await _post(client, url, body, headers, settings.max_response_bytes)
    except (TimeoutError, httpx.TimeoutException) as exc:
        kind = type(exc).__name__ if isinstance(exc, httpx.TimeoutException) else "deadline"
        return DeliveryOutcome(Failure.TIMEOUT, f"timed out ({kind}, {settings.delivery_deadline_s:g} s at most)")
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError, ValueError) as exc:
        detail = safe_text(str(exc), _QUOTED) or type(exc).__name__
        return DeliveryOutcome(Failure.CONNECTION, f"{type(exc).__name__}: {detail}")
