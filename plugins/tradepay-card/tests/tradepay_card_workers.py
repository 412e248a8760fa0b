"""Helpers shared by the tests, importable by name so that "spawn" children can run the workers.

Kept out of conftest.py because a spawn child imports its target by module name, and pytest's importlib mode
gives conftest a name no child can import.
"""

from __future__ import annotations

import traceback
from datetime import date
from pathlib import Path
from typing import Any

from tradepay import Attempt, Order, PaymentAmount, ProviderConfig
from tradepay_card import CardProvider

#: The tests' "today": cards expiring before June 2026 have expired.
TODAY = date(2026, 6, 15)


def open_provider(data_dir: Path, *, today: date = TODAY, **settings: Any) -> CardProvider:
    """A card provider on ``data_dir`` with ``settings``, its clock fixed at ``today``."""
    return CardProvider(ProviderConfig("card", settings, data_dir), today=lambda: today)


def make_order(amount: str = "1000", currency: str = "USD", payer: str = "alice", trade_no: str = "T-1") -> Order:
    """An open order of ``amount`` minor units of ``currency`` paid by ``payer`` to merchant m-1."""
    return Order(trade_no=trade_no, amount=PaymentAmount(currency, amount), merchant_id="m-1", payer_id=payer)


def make_attempt(key: str = "pay-1-1") -> Attempt:
    """Attempt number 1 of payment ``pay-1`` with the card provider, under idempotency ``key``."""
    payment_id, _, number = key.rpartition("-")
    return Attempt(payment_id=payment_id, number=int(number), provider="card", idempotency_key=key)


def race(data_dir: str, action: str, keys: list[str], barrier: Any, results: Any) -> None:
    """Spawn target: open an own provider, wait at ``barrier`` for the others, then ``pay`` (or ``inquire``)
    each of ``keys`` in turn, for an order of 1000 USD.

    Puts ``(action, {key: answer})`` on ``results``: the result's dict for pay, the status for inquire; or
    ``("error", traceback)`` if a call raised (so that the parent fails at once instead of waiting).
    """
    provider = open_provider(Path(data_dir))
    order = make_order()
    barrier.wait(timeout=30)
    try:
        answers: dict[str, object] = {}
        for key in keys:
            if action == "pay":
                answers[key] = provider.pay(order=order, attempt=make_attempt(key)).to_dict()
            else:
                answers[key] = provider.inquire(order=order, attempt=make_attempt(key)).value
        results.put((action, answers))
    except Exception:
        results.put(("error", traceback.format_exc()))
    finally:
        provider.close()
