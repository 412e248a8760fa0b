"""tradepay's HTTP server: the merchant API, the client API the super app calls, and the cashier page.

An optional part (``pip install './core[server]'``): ``import tradepay`` never imports it; ``tradepay serve``
and code that asks for :func:`create_app` do.
"""

from __future__ import annotations

from ._app import create_app
from ._state import ServerState

__all__ = ["ServerState", "create_app"]
