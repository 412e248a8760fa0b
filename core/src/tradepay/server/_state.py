"""What every request handler of one server process shares: the host, its payment service, the settings."""

from __future__ import annotations

from dataclasses import dataclass

from tradepay import Host, PaymentService

__all__ = ["ServerState"]


@dataclass
class ServerState:
    """The host and its :class:`~tradepay.PaymentService` that one server process serves.

    Created by :func:`tradepay.server.create_app` and kept on ``app.state.tradepay``; a router reaches it
    through :func:`state_of`. The server closes the service when the application shuts down.
    """

    host: Host
    service: PaymentService
