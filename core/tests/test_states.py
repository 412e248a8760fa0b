"""The state machines allow exactly their listed transitions; terminal states never change."""

from __future__ import annotations

import itertools

import pytest

from tradepay import PaymentStatus, ProviderStatus
from tradepay._ledger.states import ATTEMPT_SENT, IllegalTransition, check_attempt, check_payment, is_terminal

P = PaymentStatus
ALLOWED_PAYMENT = {
    (P.PROCESSING, P.SUCCEEDED),
    (P.PROCESSING, P.FAILED),
    (P.PROCESSING, P.CANCELLED),
    (P.PROCESSING, P.NEEDS_RECONCILIATION),
    (P.NEEDS_RECONCILIATION, P.SUCCEEDED),
    (P.NEEDS_RECONCILIATION, P.FAILED),
}
ATTEMPT_STATES = [ATTEMPT_SENT, *(s.value for s in ProviderStatus)]
ALLOWED_ATTEMPT = {
    (ATTEMPT_SENT, "paid"),
    (ATTEMPT_SENT, "not_paid"),
    (ATTEMPT_SENT, "unknown"),
    ("unknown", "paid"),
    ("unknown", "not_paid"),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(PaymentStatus, PaymentStatus)))
def test_every_payment_pair(old: PaymentStatus, new: PaymentStatus) -> None:
    if (old, new) in ALLOWED_PAYMENT:
        check_payment(old, new)
    else:
        with pytest.raises(IllegalTransition, match=f"from {old.value} to {new.value}"):
            check_payment(old, new)


@pytest.mark.parametrize(("old", "new"), list(itertools.product(ATTEMPT_STATES, ProviderStatus)))
def test_every_attempt_pair(old: str, new: ProviderStatus) -> None:
    if (old, new.value) in ALLOWED_ATTEMPT:
        check_attempt(old, new)
    else:
        with pytest.raises(IllegalTransition):
            check_attempt(old, new)


def test_terminal_states() -> None:
    assert {s for s in PaymentStatus if is_terminal(s)} == {P.SUCCEEDED, P.FAILED, P.CANCELLED}
