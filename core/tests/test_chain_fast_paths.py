"""The shortcuts the chain takes on every payment give what the plain way gives (docs/performance.md says what
each one buys): a shortcut that goes wrong fails here."""

from __future__ import annotations

import enum
from types import ModuleType

import pytest

from tradepay._chain import breaker, chain

_WITH_MEMBERS = (chain, breaker)


@pytest.mark.parametrize("module", _WITH_MEMBERS, ids=lambda module: module.__name__)
def test_each_enum_member_read_once_is_the_member_its_name_says(module: ModuleType) -> None:
    found = {name: value for name, value in vars(module).items() if isinstance(value, enum.Enum)}
    assert found, "the module keeps no enum member of its own any more: drop it from this test"
    for name, member in found.items():
        # ``_STOP`` is Decision.STOP, ``_ORDER_PAID`` is OrderStatus.PAID: the name ends with the member's.
        assert name.endswith(f"_{member.name}"), (name, member)


def test_the_chain_reads_the_members_of_the_enums_it_compares() -> None:
    # A constant of the right name but of another enum (ProviderStatus.PAID for OrderStatus.PAID) passes the test
    # above; the chain's comparisons would then never match. Each constant's enum, as the chain means it:
    expected = {
        "_STOP": "Decision",
        "_INQUIRE": "Decision",
        "_ANSWER": "OutcomeKind",
        "_EXCEPTION": "OutcomeKind",
        "_INVALID": "OutcomeKind",
        "_TIMEOUT": "OutcomeKind",
        "_SUCCEEDED": "PaymentStatus",
        "_FAILED": "PaymentStatus",
        "_CANCELLED": "PaymentStatus",
        "_NEEDS_RECONCILIATION": "PaymentStatus",
        "_PAID": "ProviderStatus",
        "_NOT_PAID": "ProviderStatus",
        "_UNKNOWN": "ProviderStatus",
        "_ORDER_OPEN": "OrderStatus",
        "_ORDER_PAID": "OrderStatus",
        "_ORDER_CLOSED": "OrderStatus",
        "_SUCCESS": "ResultCode",
    }
    found = {name: type(value).__name__ for name, value in vars(chain).items() if isinstance(value, enum.Enum)}
    assert found == expected
    assert (type(breaker._ANSWER).__name__, type(breaker._SUCCESS).__name__) == ("OutcomeKind", "ResultCode")
    assert (breaker._SCOPE_KEY, breaker._PROVIDER_SCOPE) == (breaker.FailureScope.KEY, "provider")
