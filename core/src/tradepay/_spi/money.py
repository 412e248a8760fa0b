"""Currencies and amounts in minor units (ISO 4217), never floats."""

from __future__ import annotations

from typing import Final

from .errors import InvalidInput

__all__ = [
    "ISO_4217_PUBLISHED",
    "MAX_AMOUNT_DIGITS",
    "minor_unit_exponent",
    "parse_minor_units",
    "recorded_exponent",
]

#: The longest amount string accepted: 18 digits fit a signed 64-bit integer, far past any real payment.
MAX_AMOUNT_DIGITS = 18

#: The edition of ISO 4217's list of current codes the table below follows.
ISO_4217_PUBLISHED = "2026-01-01"

# The currencies payments are made in, by minor-unit exponent (how many decimals the minor unit has): ISO 4217's
# current codes less the funds codes, precious metals, units of account and the testing and no-currency codes.
_EXPONENTS: Final[dict[str, int]] = {
    **dict.fromkeys(
        [
            "AED",
            "AFN",
            "ALL",
            "AMD",
            "AOA",
            "ARS",
            "AUD",
            "AWG",
            "AZN",
            "BAM",
            "BBD",
            "BDT",
            "BMD",
            "BND",
            "BOB",
            "BRL",
            "BSD",
            "BTN",
            "BWP",
            "BYN",
            "BZD",
            "CAD",
            "CDF",
            "CHF",
            "CNY",
            "COP",
            "CRC",
            "CUP",
            "CVE",
            "CZK",
            "DKK",
            "DOP",
            "DZD",
            "EGP",
            "ERN",
            "ETB",
            "EUR",
            "FJD",
            "FKP",
            "GBP",
            "GEL",
            "GHS",
            "GIP",
            "GMD",
            "GTQ",
            "GYD",
            "HKD",
            "HNL",
            "HTG",
            "HUF",
            "IDR",
            "ILS",
            "INR",
            "IRR",
            "JMD",
            "KES",
            "KGS",
            "KHR",
            "KPW",
            "KYD",
            "KZT",
            "LAK",
            "LBP",
            "LKR",
            "LRD",
            "LSL",
            "MAD",
            "MDL",
            "MGA",
            "MKD",
            "MMK",
            "MNT",
            "MOP",
            "MRU",
            "MUR",
            "MVR",
            "MWK",
            "MXN",
            "MYR",
            "MZN",
            "NAD",
            "NGN",
            "NIO",
            "NOK",
            "NPR",
            "NZD",
            "PAB",
            "PEN",
            "PGK",
            "PHP",
            "PKR",
            "PLN",
            "QAR",
            "RON",
            "RSD",
            "RUB",
            "SAR",
            "SBD",
            "SCR",
            "SDG",
            "SEK",
            "SGD",
            "SHP",
            "SLE",
            "SOS",
            "SRD",
            "SSP",
            "STN",
            "SVC",
            "SYP",
            "SZL",
            "THB",
            "TJS",
            "TMT",
            "TOP",
            "TRY",
            "TTD",
            "TWD",
            "TZS",
            "UAH",
            "USD",
            "UYU",
            "UZS",
            "VED",
            "VES",
            "WST",
            "XCD",
            "XCG",
            "YER",
            "ZAR",
            "ZMW",
            "ZWG",
        ],
        2,
    ),
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "UYW": 4,
}

# Current ISO 4217 codes that are not currencies a payment is made in, each with the reason it is refused.
_NOT_PAYABLE: Final[dict[str, str]] = {
    **dict.fromkeys(
        ["BOV", "CHE", "CHW", "CLF", "COU", "MXV", "USN", "UYI"],
        "is an ISO 4217 funds code, not a currency payments are made in",
    ),
    **dict.fromkeys(["XAG", "XAU", "XPD", "XPT"], "is a precious metal, not a currency payments are made in"),
    **dict.fromkeys(
        ["XAD", "XBA", "XBB", "XBC", "XBD", "XDR", "XSU", "XUA"],
        "is a unit of account, not a currency payments are made in",
    ),
    "XTS": "is reserved for testing, not a currency payments are made in",
    "XXX": "is the code for transactions without a currency",
}

# Codes withdrawn from ISO 4217 since 2014: the code that replaced each, and its minor-unit exponent, with which
# an amount recorded before the withdrawal is still read (:func:`recorded_exponent`).
_WITHDRAWN: Final[dict[str, tuple[str, int]]] = {
    "ANG": ("XCG", 2),
    "BGN": ("EUR", 2),
    "BYR": ("BYN", 0),
    "CUC": ("CUP", 2),
    "HRK": ("EUR", 2),
    "LTL": ("EUR", 2),
    "LVL": ("EUR", 2),
    "MRO": ("MRU", 2),
    "SLL": ("SLE", 2),
    "STD": ("STN", 2),
    "VEF": ("VES", 2),
    "ZWL": ("ZWG", 2),
}


def _shown(value: str) -> str:
    return repr(value if len(value) <= 8 else value[:8] + "...")


def _refusal(currency: object) -> str:
    """Why ``currency`` (not a current currency's code) cannot be the currency of an amount."""
    if not isinstance(currency, str):
        return f"must be a string, got {type(currency).__name__}"
    if len(currency) != 3 or not currency.isascii() or not currency.isalpha():
        return f"{_shown(currency)} is not an ISO 4217 currency code (three capital letters, for example 'USD')"
    if not currency.isupper():
        hint = f"codes are capitals: {currency.upper()!r}" if currency.upper() in _EXPONENTS else "for example 'USD'"
        return f"{currency!r} is not an ISO 4217 currency code ({hint})"
    if currency in _NOT_PAYABLE:
        return f"{currency!r} {_NOT_PAYABLE[currency]}"
    if currency in _WITHDRAWN:
        return f"{currency!r} was withdrawn from ISO 4217: use {_WITHDRAWN[currency][0]!r}"
    return f"{currency!r} is not an ISO 4217 currency code (for example 'USD')"


def minor_unit_exponent(currency: str, *, field: str = "currency") -> int:
    """Return how many decimals ``currency``'s minor unit has (USD 2, JPY 0, KWD 3).

    Raises :class:`InvalidInput` naming ``field`` for anything but the code of a current currency, with the
    true reason: not a string; not three capital letters; a funds code, precious metal, unit of account, the
    testing or the no-currency code; a code withdrawn from ISO 4217 (naming its successor); an unassigned code.
    """
    exponent = _EXPONENTS.get(currency) if isinstance(currency, str) else None
    if exponent is None:
        raise InvalidInput(field, _refusal(currency))
    return exponent


def recorded_exponent(currency: str, *, field: str = "currency") -> int:
    """The minor-unit exponent of ``currency`` for an amount recorded earlier: a current currency's, or that of
    a code withdrawn since (an order in BGN recorded before 2026 stays readable and reconcilable)."""
    withdrawn = _WITHDRAWN.get(currency) if isinstance(currency, str) else None
    return withdrawn[1] if withdrawn is not None else minor_unit_exponent(currency, field=field)


def parse_minor_units(value: object, *, field: str = "value") -> int:
    """Return the integer amount that ``value`` (a string of a natural number) stands for.

    Refuses with :class:`InvalidInput` naming ``field``: non-strings (floats above all), empty strings,
    signs, decimal points, non-ASCII digits, leading zeros and strings longer than ``MAX_AMOUNT_DIGITS``.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string of digits in the minor unit, got {type(value).__name__}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    if len(value) > MAX_AMOUNT_DIGITS:
        raise InvalidInput(field, f"is longer than {MAX_AMOUNT_DIGITS} digits")
    # str.isdigit() accepts other scripts' digits and superscripts: only ASCII 0-9 is an amount.
    if not value.isascii() or not value.isdigit():
        shown = value if len(value) <= 20 else value[:20] + "..."
        raise InvalidInput(field, f"{shown!r} is not a natural number in the minor unit (for example '100' for 1.00)")
    if len(value) > 1 and value[0] == "0":
        raise InvalidInput(field, f"{value!r} has a leading zero")
    return int(value)
