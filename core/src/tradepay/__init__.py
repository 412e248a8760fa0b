"""tradepay: a payment host for mini programs.

The super app's ``PaymentService.pay(payment_request, api_context, callback)`` walks a configured chain of
provider plugins and answers exactly once. Everything public is importable from this module; the private
modules behind it may change without notice.
"""

from __future__ import annotations

from ._attempts import Attempt, Capabilities, ProviderConfig, ProviderStatus
from ._cards import CardNumber, CardSecret, luhn_valid, mask_card_number, redact_card_numbers
from ._errors import ConfigError, DiscoveryError, InvalidInput, TradePayError
from ._hookspecs import hookimpl
from ._models import (
    APIContext,
    Callback,
    ErrorCode,
    MiniProgramMetaData,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ResultCode,
    ResultError,
)
from ._orders import Order, OrderStatus
from ._records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus
from ._sqlite import immediate_transaction, open_sqlite

__version__ = "0.1.0"

__all__ = [
    "APIContext",
    "Attempt",
    "AttemptRecord",
    "Callback",
    "Capabilities",
    "CardNumber",
    "CardSecret",
    "ConfigError",
    "Decision",
    "DiscoveryError",
    "ErrorCode",
    "InvalidInput",
    "MiniProgramMetaData",
    "Order",
    "OrderStatus",
    "OutcomeKind",
    "Payment",
    "PaymentAmount",
    "PaymentRequest",
    "PaymentResult",
    "PaymentStatus",
    "PaymentType",
    "ProviderConfig",
    "ProviderStatus",
    "ResultCode",
    "ResultError",
    "TradePayError",
    "__version__",
    "hookimpl",
    "immediate_transaction",
    "luhn_valid",
    "mask_card_number",
    "open_sqlite",
    "redact_card_numbers",
]
