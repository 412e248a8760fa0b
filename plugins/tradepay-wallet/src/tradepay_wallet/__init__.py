"""tradepay-wallet: a mock e-wallet provider for the tradepay payment host.

Accounts per payer and currency hold balances in minor units, in one SQLite file or in a PostgreSQL schema
that several hosts share; ``pay`` debits the order's amount at most once per idempotency key, and ``refund``
credits it back at most once per refund key, never more than was paid. Fault profiles
script latency, hangs, exceptions, malformed and scripted answers, user cancels and late successes, so a
host's deadline, inquiry and rule table can be tested.
Configure it as ``[providers.wallet]``; see the README for settings, commands and answers.
"""

from __future__ import annotations

from tradepay import RefundKeyStatus, RefundReason, RefundRow

from ._answers import Reason
from ._faults import ALL_PAYERS, FaultKind, FaultProfile
from ._provider import HANG_SECONDS, MALFORMED_ANSWER, WalletProvider
from ._settings import WalletSettings
from ._store import EntryKind, LedgerEntry

__all__ = [
    "WalletProvider",
    "WalletSettings",
    "ALL_PAYERS",
    "FaultKind",
    "FaultProfile",
    "HANG_SECONDS",
    "MALFORMED_ANSWER",
    "EntryKind",
    "LedgerEntry",
    "Reason",
    "RefundReason",
    "RefundRow",
    "RefundKeyStatus",
]
