"""tradepay's HTTP server: the merchant API, the client API and the cashier page, on FastAPI.

Needs the ``server`` extra (``pip install './core[server]'``); ``import tradepay`` never imports it.
``tradepay serve`` runs :func:`create_app` on uvicorn. Merchants sign their requests with
:func:`sign_request` and check the host's answers with :func:`verify_response`.
"""

from __future__ import annotations

from .app import create_app
from .registry import register_merchant
from .settings import ServerSettings
from .signing import load_private_key, load_public_key, public_pem, sign_request, verify_response

__all__ = [
    "ServerSettings",
    "create_app",
    "load_private_key",
    "load_public_key",
    "public_pem",
    "register_merchant",
    "sign_request",
    "verify_response",
]
