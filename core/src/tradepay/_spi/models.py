"""The SPI's types, as the mini program SDK ships them, in Python style.

All models are frozen and validate on construction: an invalid value raises :class:`InvalidInput` naming the
field, so a model that exists is a model that is valid. Every text field holds text the ledger can store
(:func:`tradepay.check_text`), and every message quotes a refused value only as :func:`tradepay.echo_value`
shows it.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Protocol, cast, runtime_checkable

from .._cli.render import format_amount
from .echo import echo_value
from .enums import CheckedEnumType
from .errors import InvalidInput
from .frozen import unchecked
from .money import minor_unit_exponent, parse_minor_units, recorded_exponent
from .numbers import shown_number
from .text import MAX_TEXT, check_text

__all__ = [
    "APIContext",
    "Callback",
    "ErrorCode",
    "MiniProgramMetaData",
    "PaymentAmount",
    "PaymentRequest",
    "PaymentResult",
    "PaymentType",
    "ResultCode",
    "ResultError",
]

#: Longest payment string accepted (a trade number is at most 64 characters; URLs and signed strings more).
MAX_PAYMENT_STRING = 4096
_MAX_INFO_ITEMS = 64
_MAX_INFO_TEXT = MAX_TEXT
_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})


class PaymentType(enum.StrEnum, metaclass=CheckedEnumType):
    """What ``PaymentRequest.payment_string`` names."""

    ORDER_ID = "ORDER_ID"
    PAYMENT_ID = "PAYMENT_ID"
    CASHIER_URL = "CASHIER_URL"
    ORDER_STRING = "ORDER_STRING"


class ResultCode(enum.StrEnum, metaclass=CheckedEnumType):
    """``PaymentResult.result_code``: the code the mini program's ``my.tradePay`` receives unchanged."""

    SUCCESS = "9000"
    PROCESSING = "8000"
    FAILED = "4000"
    USER_CANCEL = "6001"
    NETWORK_ERROR = "6002"
    UNKNOWN = "6004"


class ErrorCode(enum.IntEnum, metaclass=CheckedEnumType):
    """The SPI's error codes (the seed's table; there is no 1004).

    Members carry short names; the seed's names (``ERROR_CODE_USER_CANCEL``) are aliases of them, and
    :attr:`seed_name` gives the seed's spelling of any member.
    """

    UNKNOWN_ERROR = 1000
    USER_CANCEL = 1001
    APP_SERVICE_ERROR = 1002
    TIMEOUT = 1003
    SYSTEM_ERROR = 1005
    AUTH_PENDING_AGREEMENT = 2001

    ERROR_CODE_UNKNOWN_ERROR = 1000
    ERROR_CODE_USER_CANCEL = 1001
    ERROR_CODE_APP_SERVICE_ERROR = 1002
    ERROR_CODE_TIMEOUT = 1003
    ERROR_CODE_SYSTEM_ERROR = 1005
    ERROR_CODE_AUTH_PENDING_AGREEMENT = 2001

    @property
    def seed_name(self) -> str:
        """The name the SDK's table uses, for example ``ERROR_CODE_USER_CANCEL``."""
        return f"ERROR_CODE_{self.name}"


def _info_entry(key: object, item: object, field_name: str) -> None:
    # Machine-read values, so a card number is refused rather than masked: a mask would quietly change an id.
    check_text(key, f"{field_name} key", limit=_MAX_INFO_TEXT, card_numbers="refuse")
    try:
        check_text(item, field_name, limit=_MAX_INFO_TEXT, required=False, card_numbers="refuse")
    except InvalidInput as exc:  # the entry's name is rendered only when it is needed
        raise InvalidInput(f"{field_name}[{echo_value(key)}]", exc.reason) from None


def _info(value: object, field_name: str) -> Mapping[str, str]:
    """Validate an ``extendedInfo`` map (string to string, bounded, no card numbers) and freeze it."""
    if value is None:
        return _EMPTY
    cls = type(value)
    # A dict or a frozen map, the common cases, known without the Mapping ABC's instance check (a Python-level
    # call: 1.8 % of a payment's samples with 10,000 in flight; docs/performance.md).
    if cls is not dict and cls is not MappingProxyType and not isinstance(value, Mapping):
        raise InvalidInput(field_name, f"must be a mapping of strings, got {cls.__name__}")
    mapping = cast(Mapping[str, str], value)  # its entries are checked next
    if len(mapping) > _MAX_INFO_ITEMS:
        raise InvalidInput(field_name, f"has more than {_MAX_INFO_ITEMS} entries")
    for key, item in mapping.items():
        _info_entry(key, item, field_name)
    # mappingproxy cannot be subclassed: the type's identity is isinstance's answer.
    return mapping if cls is MappingProxyType else MappingProxyType(dict(mapping))


@dataclass(frozen=True, slots=True)
class PaymentAmount:
    """An amount: an ISO 4217 ``currency`` and ``value``, a string of a natural number in its minor unit.

    USD 1.00 is ``PaymentAmount("USD", "100")``, JPY 1 is ``PaymentAmount("JPY", "1")``. Zero, negative,
    fractional, non-digit, absurdly long values and unknown currencies are refused.
    """

    currency: str
    value: str

    def __post_init__(self) -> None:
        minor_unit_exponent(self.currency, field="payment_amount.currency")
        if parse_minor_units(self.value, field="payment_amount.value") == 0:
            raise InvalidInput("payment_amount.value", "must be greater than zero")

    @property
    def minor_units(self) -> int:
        """The amount as an integer count of minor units."""
        return int(self.value)

    def __str__(self) -> str:
        return format_amount(self.currency, self.value)


def recorded_amount(currency: str, value: str) -> PaymentAmount:
    """An amount as a ledger recorded it: in a current currency, or in one withdrawn from ISO 4217 since the
    record was made (new amounts in it are refused, records of it stay readable). The value is checked as
    :class:`PaymentAmount` checks it."""
    recorded_exponent(currency, field="payment_amount.currency")
    if parse_minor_units(value, field="payment_amount.value") == 0:
        raise InvalidInput("payment_amount.value", "must be greater than zero")
    amount = object.__new__(PaymentAmount)
    object.__setattr__(amount, "currency", currency)
    object.__setattr__(amount, "value", value)
    return amount


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """What the mini program asked to pay: ``type`` says what ``payment_string`` names.

    ``payment_amount`` is usually ``None``: the host resolves the amount from its own order book; when it is
    given, it must agree with the order.
    """

    type: PaymentType
    payment_string: str
    payment_amount: PaymentAmount | None = None
    extended_info: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        raw: object = self.type  # a plain string is accepted and converted
        if not isinstance(raw, PaymentType):
            try:
                object.__setattr__(self, "type", PaymentType(raw))  # type: ignore[arg-type]
            except ValueError:
                choices = ", ".join(t.value for t in PaymentType)
                raise InvalidInput("type", f"{echo_value(raw)} is not one of {choices}") from None
        check_text(self.payment_string, "payment_string", limit=MAX_PAYMENT_STRING)
        if self.payment_amount is not None and not isinstance(self.payment_amount, PaymentAmount):
            raise InvalidInput("payment_amount", f"must be a PaymentAmount, got {type(self.payment_amount).__name__}")
        object.__setattr__(self, "extended_info", _info(self.extended_info, "extended_info"))


@dataclass(frozen=True, slots=True)
class MiniProgramMetaData:
    """The calling mini program, as the container describes it. Every field is optional."""

    app_id: str | None = None
    merchant_id: str | None = None
    client_id: str | None = None
    acquirer_id: str | None = None
    name: str | None = None
    logo: str | None = None
    app_type: str | None = None
    deploy_version: str | None = None
    developer_version: str | None = None
    desc: str | None = None

    def __post_init__(self) -> None:
        for name in self.__slots__:
            value = getattr(self, name)
            if value is not None:
                check_text(value, f"mini_program_info.{name}", limit=_MAX_INFO_TEXT, required=False)


@dataclass(frozen=True, slots=True)
class APIContext:
    """The runtime context of the call: where it came from and which mini program made it.

    ``extended_info["userId"]``, when given, names the super app's signed-in user; the host checks that it
    is the order's payer.
    """

    source: str
    mini_program_info: MiniProgramMetaData | None = None
    extended_info: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        check_text(self.source, "api_context.source", limit=256)
        if self.mini_program_info is not None and not isinstance(self.mini_program_info, MiniProgramMetaData):
            raise InvalidInput(
                "api_context.mini_program_info",
                f"must be a MiniProgramMetaData, got {type(self.mini_program_info).__name__}",
            )
        object.__setattr__(self, "extended_info", _info(self.extended_info, "api_context.extended_info"))

    @property
    def app_id(self) -> str | None:
        """The calling mini program's app id, if the container gave one."""
        return self.mini_program_info.app_id if self.mini_program_info else None


@dataclass(frozen=True, slots=True)
class ResultError:
    """Why a payment did not succeed: an SPI ``error_code`` and a human ``error_desc`` (a card number in it is
    kept as its mask, ``424242******4242``)."""

    error_code: ErrorCode
    error_desc: str

    def __post_init__(self) -> None:
        raw: object = self.error_code  # a plain int is accepted and converted
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise InvalidInput("result_error.error_code", f"must be an int, got {type(raw).__name__}")
        try:
            object.__setattr__(self, "error_code", ErrorCode(self.error_code))
        except ValueError:
            known = ", ".join(str(int(c)) for c in _ERROR_CODES)
            shown = shown_number(raw)
            raise InvalidInput("result_error.error_code", f"{shown} is not one of {known}") from None
        desc = check_text(
            self.error_desc, "result_error.error_desc", limit=_MAX_INFO_TEXT, required=False, card_numbers="mask"
        )
        object.__setattr__(self, "error_desc", desc)


_ERROR_CODES = tuple(dict.fromkeys(ErrorCode))


@dataclass(frozen=True, slots=True)
class PaymentResult:
    """The one answer to a payment: ``result_code`` (see :class:`ResultCode`) and a message.

    A successful result carries no ``result_error``. ``extended_info`` carries machine-readable detail,
    such as ``reason`` (``USER_BALANCE_NOT_ENOUGH``) which the rule table can match. A card number in
    ``result_message`` is kept as its mask; one in ``extended_info`` is refused (a mask would change an id).
    """

    result_code: ResultCode
    result_message: str = ""
    result_error: ResultError | None = None
    extended_info: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    def __post_init__(self) -> None:
        raw: object = self.result_code  # a plain string is accepted and converted
        if not isinstance(raw, ResultCode):
            try:
                object.__setattr__(self, "result_code", ResultCode(raw))  # type: ignore[arg-type]
            except ValueError:
                codes = ", ".join(c.value for c in ResultCode)
                raise InvalidInput("result_code", f"{echo_value(raw)} is not one of {codes}") from None
        message = check_text(
            self.result_message, "result_message", limit=_MAX_INFO_TEXT, required=False, card_numbers="mask"
        )
        object.__setattr__(self, "result_message", message)
        if self.result_error is not None and not isinstance(self.result_error, ResultError):
            raise InvalidInput("result_error", f"must be a ResultError, got {type(self.result_error).__name__}")
        if self.result_code is ResultCode.SUCCESS and self.result_error is not None:
            raise InvalidInput("result_error", "a successful result (9000) carries no error")
        object.__setattr__(self, "extended_info", _info(self.extended_info, "extended_info"))

    @property
    def has_error(self) -> bool:
        """True when the result carries a :class:`ResultError` (the SDK's ``hasError``)."""
        return self.result_error is not None

    @property
    def reason(self) -> str | None:
        """The machine-readable reason in ``extended_info["reason"]``, if any."""
        return self.extended_info.get("reason")

    def to_dict(self) -> dict[str, object]:
        """The result in the SDK's JSON spelling (``resultCode``, ``resultError.errorCode`` ...)."""
        out: dict[str, object] = {
            "resultCode": self.result_code.value,
            "resultMessage": self.result_message,
            "hasError": self.has_error,
        }
        if self.result_error is not None:
            out["resultError"] = {
                "errorCode": int(self.result_error.error_code),
                "errorDesc": self.result_error.error_desc,
            }
        if self.extended_info:
            out["extendedInfo"] = dict(self.extended_info)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> PaymentResult:
        """The result that :meth:`to_dict` gave ``data`` for: ``from_dict(r.to_dict()) == r``.

        ``hasError`` is derived, so it is not read. Raises :class:`InvalidInput` naming the field for anything
        else ``to_dict`` never writes: a missing ``resultCode``, an ``resultError`` or ``extendedInfo`` that is
        not an object, an unknown code.
        """
        if not isinstance(data, Mapping):
            raise InvalidInput("result", f"must be a JSON object, got {type(data).__name__}")
        if "resultCode" not in data:
            raise InvalidInput("resultCode", "is missing")
        error, info = data.get("resultError"), data.get("extendedInfo", {})
        if error is not None and not isinstance(error, Mapping):
            raise InvalidInput("resultError", f"must be an object, got {type(error).__name__}")
        if not isinstance(info, Mapping):
            raise InvalidInput("extendedInfo", f"must be an object, got {type(info).__name__}")
        message = data.get("resultMessage", "")
        result_error = None
        if error is not None:
            result_error = ResultError(error.get("errorCode"), error.get("errorDesc", ""))  # type: ignore[arg-type]
        return cls(data["resultCode"], message, result_error, info)  # type: ignore[arg-type]


@runtime_checkable
class Callback(Protocol):
    """The SPI's ``Callback<PaymentResult>``: its one method is called exactly once per payment."""

    def result(self, result: PaymentResult, /) -> None:
        """Receive the payment's one result."""


def with_info(result: PaymentResult, info: Mapping[str, str], *, trusted: bool = False) -> PaymentResult:
    """``result`` with ``info`` added to its ``extended_info`` (the host's ``paymentId`` and ``provider``). Only
    the new entries are validated: the rest of a result that exists is valid already, and a copy made through
    the constructor would check it all again. ``trusted`` skips checking the entries' text too, for values the
    host made itself (its payment ids, the configured provider names); the entry count is always checked."""
    merged = {**result.extended_info, **info}
    if len(merged) > _MAX_INFO_ITEMS:
        raise InvalidInput("extended_info", f"has more than {_MAX_INFO_ITEMS} entries")
    if not trusted:
        for key, item in info.items():
            _info_entry(key, item, "extended_info")
    # A field-by-field copy rather than dataclasses.replace, which would validate every field again. Measured:
    # it saves 34,000 instructions per payment (benchmarks/instructions.py; docs/performance.md), and the twin
    # (plain attributes) 4,100 more than object.__setattr__ per field. Every field must be copied here:
    # core/tests/test_record_copies.py fails when one is added and not copied.
    return _unchecked_result(result.result_code, result.result_message, result.result_error, MappingProxyType(merged))


_unchecked_result = unchecked(PaymentResult)
