"""The currency table is ISO 4217's current list, and every refused code is refused for its true reason."""

from __future__ import annotations

import datetime
import sqlite3
from pathlib import Path

import iso4217
import pytest

from tradepay import InvalidInput, PaymentAmount, SQLiteLedger
from tradepay._spi.money import _EXPONENTS, _NOT_PAYABLE, _WITHDRAWN, ISO_4217_PUBLISHED, minor_unit_exponent

# The one unit of account to which ISO 4217 gives a minor unit (the Arab Monetary Fund's accounting dinar).
_UNITS_WITH_A_MINOR_UNIT = {"XAD"}


def _iso_list_one() -> dict[str, tuple[str, bool]]:
    """Every code of the iso4217 package's current list: its minor unit (a digit or ``N.A.``) and fund flag."""
    codes: dict[str, tuple[str, bool]] = {}
    for entry in iso4217.raw_xml.findall("CcyTbl/CcyNtry"):
        code, name, units = entry.find("Ccy"), entry.find("CcyNm"), entry.find("CcyMnrUnts")
        if code is None or code.text is None:  # a territory without a universal currency (Antarctica)
            continue
        assert name is not None
        assert units is not None
        assert units.text is not None
        codes[code.text] = (units.text.strip(), name.get("IsFund") == "true")
    return codes


def test_the_iso4217_package_is_at_least_the_edition_the_table_follows() -> None:
    # A stale package would make the comparisons below pass against an old list: XCG (2025) and ZWG (2024)
    # must be in it and BGN (withdrawn on 2026-01-01) not.
    assert iso4217.__published__ >= datetime.date.fromisoformat(ISO_4217_PUBLISHED)
    assert {"XCG", "ZWG"} <= set(_iso_list_one())
    assert "BGN" not in _iso_list_one()


def test_payable_currencies_are_iso_4217s_current_currencies_with_their_minor_units() -> None:
    iso = _iso_list_one()
    payable = {
        code: int(units)
        for code, (units, fund) in iso.items()
        if units.isdigit() and not fund and code not in _UNITS_WITH_A_MINOR_UNIT
    }
    assert payable == _EXPONENTS


def test_every_current_code_that_is_not_payable_is_refused_for_a_reason() -> None:
    iso = _iso_list_one()
    funds = {code for code, (_, fund) in iso.items() if fund}
    no_minor_unit = {code for code, (units, _) in iso.items() if not units.isdigit()}
    assert set(_NOT_PAYABLE) == funds | no_minor_unit | _UNITS_WITH_A_MINOR_UNIT
    assert all("funds code" in _NOT_PAYABLE[code] for code in funds)


def test_withdrawn_codes_are_off_the_current_list_and_name_a_current_successor() -> None:
    iso = _iso_list_one()
    assert not set(_WITHDRAWN) & set(iso)
    assert all(successor in _EXPONENTS for successor, _ in _WITHDRAWN.values())


@pytest.mark.parametrize(
    ("currency", "exponent"),
    [("JMD", 2), ("PAB", 2), ("VED", 2), ("XCG", 2), ("ZWG", 2), ("UYW", 4), ("XOF", 0), ("KWD", 3)],
)
def test_current_currencies_are_accepted(currency: str, exponent: int) -> None:
    assert minor_unit_exponent(currency) == exponent
    assert PaymentAmount(currency, "100").currency == currency


@pytest.mark.parametrize(
    ("currency", "reason"),
    [
        ("ANG", "'ANG' was withdrawn from ISO 4217: use 'XCG'"),
        ("ZWL", "'ZWL' was withdrawn from ISO 4217: use 'ZWG'"),
        ("BGN", "'BGN' was withdrawn from ISO 4217: use 'EUR'"),
        ("HRK", "'HRK' was withdrawn from ISO 4217: use 'EUR'"),
        ("CLF", "'CLF' is an ISO 4217 funds code, not a currency payments are made in"),
        ("UYI", "'UYI' is an ISO 4217 funds code, not a currency payments are made in"),
        ("USN", "'USN' is an ISO 4217 funds code, not a currency payments are made in"),
        ("XAU", "'XAU' is a precious metal, not a currency payments are made in"),
        ("XPT", "'XPT' is a precious metal, not a currency payments are made in"),
        ("XDR", "'XDR' is a unit of account, not a currency payments are made in"),
        ("XAD", "'XAD' is a unit of account, not a currency payments are made in"),
        ("XTS", "'XTS' is reserved for testing, not a currency payments are made in"),
        ("XXX", "'XXX' is the code for transactions without a currency"),
        ("XYZ", "'XYZ' is not an ISO 4217 currency code (for example 'USD')"),
        ("usd", "'usd' is not an ISO 4217 currency code (codes are capitals: 'USD')"),
        ("xyz", "'xyz' is not an ISO 4217 currency code (for example 'USD')"),
        ("US", "'US' is not an ISO 4217 currency code (three capital letters, for example 'USD')"),
        ("USDX" * 100, "'USDXUSDX...' is not an ISO 4217 currency code (three capital letters, for example 'USD')"),
        ("ÜSD", "'ÜSD' is not an ISO 4217 currency code (three capital letters, for example 'USD')"),
        (840, "must be a string, got int"),
    ],
)
def test_refused_currencies_say_why(currency: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        PaymentAmount(currency, "100")  # type: ignore[arg-type]
    assert (info.value.field, info.value.reason) == ("payment_amount.currency", reason)


def test_an_order_recorded_in_a_since_withdrawn_currency_stays_readable(tmp_path: Path) -> None:
    # An order recorded in BGN before the lev was withdrawn must still be read (to reconcile its payments, to
    # show it), although no new amount in BGN is accepted.
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    order = ledger.create_order(PaymentAmount("EUR", "250"), merchant_id="shop-1", payer_id="alice")
    ledger.close()
    with sqlite3.connect(tmp_path / "ledger.sqlite3") as db:
        db.execute("UPDATE orders SET currency = 'BGN' WHERE trade_no = ?", (order.trade_no,))
    db.close()
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    try:
        recorded = ledger.get_order(order.trade_no)
    finally:
        ledger.close()
    assert recorded is not None
    assert (recorded.amount.currency, recorded.amount.value, str(recorded.amount)) == ("BGN", "250", "BGN 2.50")
