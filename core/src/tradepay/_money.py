"""Currencies and amounts in minor units (ISO 4217), never floats."""

from __future__ import annotations

from ._errors import InvalidInput

__all__ = ["MAX_AMOUNT_DIGITS", "minor_unit_exponent", "parse_minor_units"]

#: The longest amount string accepted: 18 digits fit a signed 64-bit integer, far past any real payment.
MAX_AMOUNT_DIGITS = 18

# ISO 4217 active codes and their minor-unit exponents (how many decimals the minor unit has).
# Funds codes and precious metals (XAU, XDR, ...) are left out on purpose: nobody pays a mini program in them.
_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(
        [
            "AED",
            "AFN",
            "ALL",
            "AMD",
            "ANG",
            "AOA",
            "ARS",
            "AUD",
            "AWG",
            "AZN",
            "BAM",
            "BBD",
            "BDT",
            "BGN",
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
            "VES",
            "WST",
            "XCD",
            "YER",
            "ZAR",
            "ZMW",
            "ZWL",
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
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
    "CLF": 4,
    "UYW": 4,
}


def minor_unit_exponent(currency: str, *, field: str = "currency") -> int:
    """Return how many decimals ``currency``'s minor unit has (USD 2, JPY 0, KWD 3).

    Raises :class:`InvalidInput` naming ``field`` for anything that is not a known ISO 4217 code.
    """
    if not isinstance(currency, str):
        raise InvalidInput(field, f"must be a string, got {type(currency).__name__}")
    try:
        return _EXPONENTS[currency]
    except KeyError:
        shown = currency if len(currency) <= 8 else currency[:8] + "..."
        raise InvalidInput(field, f"{shown!r} is not an ISO 4217 currency code (for example 'USD')") from None


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
