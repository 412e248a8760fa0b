"""What every route of one app shares: the host, its payment and refund services, the settings and the host's
key."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from starlette.requests import Request

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric import rsa

    from .._host import Host
    from .._ledger.merchants import MerchantBook
    from .._refunding import RefundService
    from .._service import PaymentService
    from .settings import ServerSettings

__all__ = ["ServerState", "state_of"]


@dataclass
class ServerState:
    """One app's shared state (``app.state.tradepay``)."""

    host: Host
    service: PaymentService
    settings: ServerSettings
    key: rsa.RSAPrivateKey
    merchants: MerchantBook
    clock: Callable[[], float] = time.time
    public_keys: dict[tuple[str, str], rsa.RSAPublicKey] = field(default_factory=dict)
    refunds: RefundService | None = None


def state_of(request: Request) -> ServerState:
    """The state of the app ``request`` reached."""
    state: ServerState = request.app.state.tradepay
    return state
