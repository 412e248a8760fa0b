"""tradepay: a payment host for mini programs.

The super app's ``PaymentService.pay(payment_request, api_context, callback)`` walks a configured chain of
provider plugins and answers exactly once. Everything public is importable from this module; the private
modules behind it may change without notice.

The models and hook markers load at once; the host machinery (pluggy, structlog, asyncio) loads on first use
of a name that needs it, so that ``import tradepay`` and the command line start fast.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._attempts import Attempt, Capabilities, ProviderConfig, ProviderStatus
from ._cards import CardNumber, CardSecret, luhn_valid, mask_card_number, redact_card_numbers
from ._echo import echo_value, holds_card_number
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
from ._refund_keys import (
    RefundCharge,
    RefundKeys,
    RefundReason,
    RefundRow,
    RefundState,
    judge_refund,
    refund_key_problem,
    refund_refused,
    replay_refund,
)
from ._refunds import Refund, RefundAnswer, RefundOutcome, RefundResult, RefundStatus, ResultStatus
from ._render import (
    echo_json,
    echo_text,
    format_amount,
    format_table,
    format_time,
    json_amount,
    json_time,
    printable,
)
from ._sqlite import immediate_transaction, open_sqlite
from ._text import check_identifier, check_text

if TYPE_CHECKING:
    from ._breaker import FailureScope
    from ._bridge import trade_pay, trade_pay_async, trade_pay_request
    from ._config import ChainSettings, Config, HostSettings, ProviderSettings, load_config
    from ._databases import Database, open_database
    from ._engine import PlanStep
    from ._host import Host
    from ._ledger import Ledger, MemoryLedger
    from ._logging import configure_logging, get_logger, log_failures, redact_card_data
    from ._migrations import migrate
    from ._rules import DEFAULT_RULES, Rule, RuleTable
    from ._service import PaymentService
    from ._sql_ledger import PostgresLedger, SQLiteLedger

__version__ = "0.1.0"

_LAZY = {
    "FailureScope": "_breaker",
    "Database": "_databases",
    "open_database": "_databases",
    "migrate": "_migrations",
    "SQLiteLedger": "_sql_ledger",
    "PostgresLedger": "_sql_ledger",
    "trade_pay": "_bridge",
    "trade_pay_async": "_bridge",
    "trade_pay_request": "_bridge",
    "ChainSettings": "_config",
    "Config": "_config",
    "HostSettings": "_config",
    "ProviderSettings": "_config",
    "load_config": "_config",
    "PlanStep": "_engine",
    "Host": "_host",
    "Ledger": "_ledger",
    "MemoryLedger": "_ledger",
    "configure_logging": "_logging",
    "get_logger": "_logging",
    "log_failures": "_logging",
    "redact_card_data": "_logging",
    "DEFAULT_RULES": "_rules",
    "Rule": "_rules",
    "RuleTable": "_rules",
    "PaymentService": "_service",
}

__all__ = [
    # the SPI
    "PaymentService",
    "PaymentRequest",
    "PaymentType",
    "PaymentAmount",
    "APIContext",
    "MiniProgramMetaData",
    "PaymentResult",
    "ResultError",
    "ResultCode",
    "ErrorCode",
    "Callback",
    "trade_pay",
    "trade_pay_async",
    "trade_pay_request",
    # writing providers
    "hookimpl",
    "Attempt",
    "Capabilities",
    "ProviderConfig",
    "ProviderStatus",
    "FailureScope",
    "Order",
    "OrderStatus",
    "open_sqlite",
    "immediate_transaction",
    "Database",
    "open_database",
    "migrate",
    # refunds
    "Refund",
    "RefundAnswer",
    "RefundOutcome",
    "RefundResult",
    "RefundStatus",
    "ResultStatus",
    # a provider's refund keys
    "RefundReason",
    "RefundState",
    "RefundRow",
    "RefundCharge",
    "RefundKeys",
    "refund_key_problem",
    "refund_refused",
    "replay_refund",
    "judge_refund",
    # the host
    "Host",
    "Config",
    "ChainSettings",
    "HostSettings",
    "ProviderSettings",
    "load_config",
    "Rule",
    "RuleTable",
    "DEFAULT_RULES",
    "Decision",
    "OutcomeKind",
    "PlanStep",
    "Ledger",
    "MemoryLedger",
    "SQLiteLedger",
    "PostgresLedger",
    "Payment",
    "PaymentStatus",
    "AttemptRecord",
    # logging and card data
    "configure_logging",
    "get_logger",
    "log_failures",
    "redact_card_data",
    "CardNumber",
    "CardSecret",
    "luhn_valid",
    "mask_card_number",
    "redact_card_numbers",
    # text and identifiers
    "check_text",
    "check_identifier",
    "holds_card_number",
    "echo_value",
    # the command line's output
    "echo_text",
    "echo_json",
    "format_amount",
    "format_time",
    "format_table",
    "json_amount",
    "json_time",
    "printable",
    # errors
    "TradePayError",
    "InvalidInput",
    "ConfigError",
    "DiscoveryError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tradepay' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
