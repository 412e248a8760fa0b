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

from ._chain.capabilities import Attempt, Capabilities, ProviderConfig, ProviderStatus
from ._chain.hookspecs import hookimpl
from ._cli.render import (
    echo_json,
    echo_text,
    format_amount,
    format_table,
    format_time,
    json_amount,
    json_time,
    printable,
)
from ._kit.locations import database_errors, shown_location
from ._kit.refund_keys import (
    REFUNDS_TABLE,
    RefundCharge,
    RefundKeys,
    RefundKeyStatus,
    RefundReason,
    RefundRow,
    judge_refund,
    refund_key_problem,
    refund_refused,
    replay_refund,
)
from ._kit.settings import (
    MAX_AMOUNT,
    STORE_SETTINGS,
    StoreSettings,
    check_currencies,
    check_max_amount,
    database_location,
    parse_store_settings,
    refuse_unknown_settings,
)
from ._ledger.orders import Order, OrderStatus
from ._ledger.records import AttemptRecord, Decision, OutcomeKind, Payment, PaymentStatus
from ._ledger.sqlite import immediate_transaction, open_sqlite
from ._spi.cards import CardNumber, CardSecret, luhn_valid, mask_card_number, redact_card_numbers
from ._spi.echo import echo_value, holds_card_number
from ._spi.errors import ConfigError, DiscoveryError, InvalidInput, TradePayError
from ._spi.models import (
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
from ._spi.refunds import Refund, RefundAnswer, RefundOutcome, RefundResult, RefundStatus, ResultStatus
from ._spi.text import check_identifier, check_text

if TYPE_CHECKING:
    from ._bridge import trade_pay, trade_pay_async, trade_pay_request
    from ._chain.breaker import FailureScope
    from ._chain.chain import PlanStep
    from ._chain.rules import DEFAULT_RULES, Rule, RuleTable
    from ._config import ChainSettings, Config, HostSettings, ProviderSettings, load_config
    from ._host import Host
    from ._kit.answers import beyond_capabilities, decline, refund_fields, result_columns, result_from_columns
    from ._kit.attempts import (
        ATTEMPTS_TABLE,
        AttemptKeys,
        AttemptRow,
        AttemptStatus,
        AttemptTable,
        PaymentReason,
        attempts_table,
        payment_key_problem,
        replay_payment,
    )
    from ._kit.commands import echo_records, json_option, table_amount, table_time, usage_errors
    from ._kit.hooks import (
        AsyncRefundingStoreProvider,
        AsyncStoreProvider,
        RefundingStoreProvider,
        StoreProvider,
        answer_refund,
        answer_refund_inquiry,
    )
    from ._kit.store import ProviderStore, StoreTransaction
    from ._ledger.databases import Connection, Database, open_database
    from ._ledger.memory import Ledger, MemoryLedger
    from ._ledger.migrations import migrate
    from ._ledger.notifications import Notification, NotificationKind, NotificationStatus
    from ._ledger.refunds import OrderRefundState, order_refund_state
    from ._ledger.sql import PostgresLedger, SQLiteLedger
    from ._logging import configure_logging, get_logger, log_failures, redact_card_data
    from ._refunding import RefundService
    from ._service import PaymentService

__version__ = "0.1.0"

_LAZY = {
    "FailureScope": "_chain.breaker",
    "Database": "_ledger.databases",
    "Connection": "_ledger.databases",
    "decline": "_kit.answers",
    "beyond_capabilities": "_kit.answers",
    "refund_fields": "_kit.answers",
    "ATTEMPTS_TABLE": "_kit.attempts",
    "attempts_table": "_kit.attempts",
    "answer_refund": "_kit.hooks",
    "StoreProvider": "_kit.hooks",
    "AsyncStoreProvider": "_kit.hooks",
    "RefundingStoreProvider": "_kit.hooks",
    "AsyncRefundingStoreProvider": "_kit.hooks",
    "answer_refund_inquiry": "_kit.hooks",
    "usage_errors": "_kit.commands",
    "echo_records": "_kit.commands",
    "json_option": "_kit.commands",
    "table_time": "_kit.commands",
    "table_amount": "_kit.commands",
    "result_columns": "_kit.answers",
    "result_from_columns": "_kit.answers",
    "AttemptKeys": "_kit.attempts",
    "AttemptRow": "_kit.attempts",
    "AttemptStatus": "_kit.attempts",
    "AttemptTable": "_kit.attempts",
    "PaymentReason": "_kit.attempts",
    "payment_key_problem": "_kit.attempts",
    "replay_payment": "_kit.attempts",
    "ProviderStore": "_kit.store",
    "StoreTransaction": "_kit.store",
    "open_database": "_ledger.databases",
    "migrate": "_ledger.migrations",
    "SQLiteLedger": "_ledger.sql",
    "PostgresLedger": "_ledger.sql",
    "trade_pay": "_bridge",
    "trade_pay_async": "_bridge",
    "trade_pay_request": "_bridge",
    "ChainSettings": "_config",
    "Config": "_config",
    "HostSettings": "_config",
    "ProviderSettings": "_config",
    "load_config": "_config",
    "PlanStep": "_chain.chain",
    "Host": "_host",
    "Ledger": "_ledger.memory",
    "MemoryLedger": "_ledger.memory",
    "configure_logging": "_logging",
    "get_logger": "_logging",
    "log_failures": "_logging",
    "redact_card_data": "_logging",
    "DEFAULT_RULES": "_chain.rules",
    "Rule": "_chain.rules",
    "RuleTable": "_chain.rules",
    "PaymentService": "_service",
    "RefundService": "_refunding",
    "OrderRefundState": "_ledger.refunds",
    "order_refund_state": "_ledger.refunds",
    "Notification": "_ledger.notifications",
    "NotificationKind": "_ledger.notifications",
    "NotificationStatus": "_ledger.notifications",
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
    "RefundService",
    "OrderRefundState",
    "order_refund_state",
    "Refund",
    "RefundAnswer",
    "RefundOutcome",
    "RefundResult",
    "RefundStatus",
    "ResultStatus",
    # notifications to merchants
    "Notification",
    "NotificationKind",
    "NotificationStatus",
    # a provider's refund keys
    "RefundReason",
    "RefundKeyStatus",
    "RefundRow",
    "RefundCharge",
    "RefundKeys",
    "refund_key_problem",
    "refund_refused",
    "replay_refund",
    "judge_refund",
    "REFUNDS_TABLE",
    # the provider kit: payment keys, the store, settings, answers, refund hooks, commands
    "ATTEMPTS_TABLE",
    "attempts_table",
    "AttemptKeys",
    "AttemptRow",
    "AttemptStatus",
    "AttemptTable",
    "PaymentReason",
    "payment_key_problem",
    "replay_payment",
    "ProviderStore",
    "StoreTransaction",
    "Connection",
    "StoreSettings",
    "MAX_AMOUNT",
    "STORE_SETTINGS",
    "parse_store_settings",
    "refuse_unknown_settings",
    "database_location",
    "check_currencies",
    "check_max_amount",
    "decline",
    "beyond_capabilities",
    "refund_fields",
    "result_columns",
    "result_from_columns",
    "answer_refund",
    "StoreProvider",
    "AsyncStoreProvider",
    "RefundingStoreProvider",
    "AsyncRefundingStoreProvider",
    "answer_refund_inquiry",
    "usage_errors",
    "echo_records",
    "json_option",
    "table_time",
    "table_amount",
    "shown_location",
    "database_errors",
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
