"""tradepay-agreement: agreement (auto-debit) payments for tradepay.

A payer signs an agreement (scope ``AGREEMENT_PAY``) with a merchant once; while it is active, the provider
pays that merchant's orders by debiting the agreement within its limits, without a cashier, and refunds them
under the agreement, giving its usage back.
"""

from __future__ import annotations

from tradepay import RefundKeyStatus, RefundReason, RefundRow

from ._answers import Reason
from ._provider import AgreementProvider
from ._settings import AgreementSettings
from ._store import Agreement, AgreementError, AgreementNotFound, AgreementStatus, AgreementStore

__all__ = [
    "Agreement",
    "AgreementError",
    "AgreementNotFound",
    "AgreementProvider",
    "AgreementSettings",
    "AgreementStatus",
    "AgreementStore",
    "Reason",
    "RefundReason",
    "RefundRow",
    "RefundKeyStatus",
]
