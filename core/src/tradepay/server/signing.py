"""RSA256 signatures of the merchant API, the Alipay+ way, for both directions.

A request carries ``Client-Id``, ``Request-Time`` (ISO 8601 with an offset, ``2026-12-02T03:30:00Z``) and
``Signature: algorithm=RSA256, keyVersion=1, signature=S``, where ``S`` is the URL-encoded base64 of the
RSASSA-PKCS1-v1_5 SHA-256 signature of ``<METHOD> <URI>\\n<Client-Id>.<Request-Time>.<Body>`` by the
merchant's private key. The host answers with ``Client-Id``, ``Response-Time`` and a ``Signature`` of the
same shape over ``<METHOD> <URI>\\n<Client-Id>.<Response-Time>.<Body>`` by its own key.

The host's key lives in ``host.data_dir`` as ``server-key.pem`` (created on first start, mode 0600).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import os
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote, unquote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from .._spi.errors import ConfigError, InvalidInput

__all__ = [
    "ALGORITHM",
    "HOST_KEY_FILE",
    "KEY_VERSION",
    "MIN_KEY_BITS",
    "SignatureProblem",
    "load_host_key",
    "load_private_key",
    "load_public_key",
    "parse_signature_header",
    "parse_time",
    "public_pem",
    "sign",
    "sign_request",
    "signature_header",
    "signed_content",
    "verify",
    "verify_response",
]

ALGORITHM = "RSA256"
KEY_VERSION = "1"
HOST_KEY_FILE = "server-key.pem"
#: Shorter RSA keys are refused: 2048 bits is the least any current guidance accepts.
MIN_KEY_BITS = 2048


class SignatureProblem(Exception):
    """Why a signed message was refused, in a sentence for the caller."""


def signed_content(method: str, uri: str, client_id: str, time: str, body: bytes) -> bytes:
    """The bytes a signature covers: ``<METHOD> <URI>\\n<Client-Id>.<Time>.<Body>``."""
    return f"{method.upper()} {uri}\n{client_id}.{time}.".encode() + body


def sign(key: rsa.RSAPrivateKey, content: bytes) -> str:
    """The base64 RSA256 (PKCS#1 v1.5, SHA-256) signature of ``content``."""
    return base64.b64encode(key.sign(content, padding.PKCS1v15(), hashes.SHA256())).decode()


def verify(key: rsa.RSAPublicKey, content: bytes, signature: str) -> bool:
    """Whether ``signature`` (base64) is ``key``'s RSA256 signature of ``content``."""
    try:
        raw = base64.b64decode(signature, validate=True)
    except (binascii.Error, ValueError):
        return False
    try:
        key.verify(raw, content, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def signature_header(signature: str) -> str:
    """The ``Signature`` header's value for a base64 ``signature``."""
    return f"algorithm={ALGORITHM}, keyVersion={KEY_VERSION}, signature={quote(signature, safe='')}"


def parse_signature_header(value: str) -> str:
    """The base64 signature a ``Signature`` header carries; :class:`SignatureProblem` when the header is not
    ``algorithm=RSA256, keyVersion=1, signature=...``."""
    fields: dict[str, str] = {}
    for part in value.split(","):
        name, sep, item = part.strip().partition("=")
        if not sep or name in fields:
            raise SignatureProblem("the Signature header must be 'algorithm=RSA256, keyVersion=1, signature=...'")
        fields[name] = item
    if set(fields) != {"algorithm", "keyVersion", "signature"}:
        raise SignatureProblem("the Signature header must name exactly algorithm, keyVersion and signature")
    if fields["algorithm"] != ALGORITHM:
        raise SignatureProblem(f"the Signature header's algorithm must be {ALGORITHM}")
    if fields["keyVersion"] != KEY_VERSION:
        raise SignatureProblem(f"the Signature header's keyVersion must be {KEY_VERSION}")
    if not fields["signature"]:
        raise SignatureProblem("the Signature header's signature is empty")
    return unquote(fields["signature"])


def parse_time(value: str) -> datetime:
    """A ``Request-Time`` or ``Response-Time``: ISO 8601 with an offset; :class:`SignatureProblem` otherwise."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise SignatureProblem(
            "Request-Time must be an ISO 8601 time with an offset, e.g. 2026-12-02T03:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise SignatureProblem("Request-Time must carry its offset (Z or +08:00)")
    return moment


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def load_public_key(pem: str, field: str = "public_key") -> rsa.RSAPublicKey:
    """The RSA public key of ``pem`` (PEM text); :class:`InvalidInput` naming ``field`` when it is not an RSA
    public key of at least 2048 bits."""
    try:
        key = serialization.load_pem_public_key(pem.encode())
    except (ValueError, TypeError, UnicodeEncodeError):
        raise InvalidInput(field, "is not a PEM public key (-----BEGIN PUBLIC KEY-----)") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise InvalidInput(field, "must be an RSA key (RSA256 signatures)")
    if key.key_size < MIN_KEY_BITS:
        raise InvalidInput(field, f"is {key.key_size} bits: at least {MIN_KEY_BITS} are required")
    return key


def load_private_key(pem: bytes, field: str = "private_key") -> rsa.RSAPrivateKey:
    """The RSA private key of unencrypted ``pem``; :class:`InvalidInput` naming ``field`` otherwise."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        raise InvalidInput(field, "is not an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise InvalidInput(field, "must be an RSA key (RSA256 signatures)")
    return key


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    """The PEM text (SubjectPublicKeyInfo) of ``key``'s public half."""
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_host_key(data_dir: Path) -> rsa.RSAPrivateKey:
    """The host's signing key in ``data_dir/server-key.pem``, created (mode 0600) when it is missing.

    Several processes starting at once create it once: the file is made with ``O_EXCL`` under a temporary name
    and linked into place, so a reader never sees half a key."""
    path = data_dir / HOST_KEY_FILE
    try:
        return _load_or_create(path)
    except OSError as exc:
        raise ConfigError("host.data_dir", f"{path}: cannot be made or read: {exc.strerror or exc}") from None


def _load_or_create(path: Path) -> rsa.RSAPrivateKey:
    data_dir = path.parent
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=MIN_KEY_BITS)
        pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        temporary = data_dir / f".{HOST_KEY_FILE}.{os.getpid()}"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
                file.flush()
                os.fsync(file.fileno())
            # Fails if another process put its key in place first: that one is kept.
            with contextlib.suppress(FileExistsError):
                os.link(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    return load_private_key(path.read_bytes(), field=str(path))


def sign_request(
    private_key: rsa.RSAPrivateKey, method: str, uri: str, client_id: str, body: bytes, *, time: str | None = None
) -> dict[str, str]:
    """The headers that sign a merchant's request (``Client-Id``, ``Request-Time``, ``Signature``,
    ``Content-Type``): what a merchant's server sends with ``body`` to ``uri``."""
    moment = time or _now()
    signature = sign(private_key, signed_content(method, uri, client_id, moment, body))
    return {
        "Content-Type": "application/json",
        "Client-Id": client_id,
        "Request-Time": moment,
        "Signature": signature_header(signature),
    }


def verify_response(
    host_key: rsa.RSAPublicKey, method: str, uri: str, headers: dict[str, str] | object, body: bytes
) -> bool:
    """Whether an answer of the host (its ``headers`` and ``body``) to ``method uri`` is signed by ``host_key``:
    what a merchant's server checks before it trusts an answer."""
    get = getattr(headers, "get", None)
    if get is None:
        return False
    client_id, moment, header = get("Client-Id"), get("Response-Time"), get("Signature")
    if not (isinstance(client_id, str) and isinstance(moment, str) and isinstance(header, str)):
        return False
    try:
        signature = parse_signature_header(header)
    except SignatureProblem:
        return False
    return verify(host_key, signed_content(method, uri, client_id, moment, body), signature)
