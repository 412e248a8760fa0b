"""The field-by-field copies kept for speed (``with_info``, ``order_with_status``) copy every field: each gives
what ``dataclasses.replace`` gives, so a field added to the model and forgotten in the copy fails here."""

from __future__ import annotations

import dataclasses

from tradepay import ErrorCode, PaymentAmount, PaymentResult, ResultCode, ResultError
from tradepay._ledger.orders import Order, OrderStatus, order_with_status
from tradepay._spi.models import with_info


def test_with_info_copies_every_field_of_a_result() -> None:
    result = PaymentResult(
        ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, "CARD_DECLINED"), {"reason": "X"}
    )
    copied = with_info(result, {"paymentId": "pay_1"}, trusted=True)
    expected = dataclasses.replace(result, extended_info={"reason": "X", "paymentId": "pay_1"})
    assert copied == expected
    for field in dataclasses.fields(PaymentResult):  # a slot left unset would raise AttributeError here
        assert getattr(copied, field.name) == getattr(expected, field.name), field.name


def test_order_with_status_copies_every_field_of_an_order() -> None:
    order = Order("T-1", PaymentAmount("USD", "100"), "m-1", "u-1", OrderStatus.OPEN, 4_000_000_000.0)
    copied = order_with_status(order, OrderStatus.PAID)
    expected = dataclasses.replace(order, status=OrderStatus.PAID)
    assert copied == expected
    for field in dataclasses.fields(Order):
        assert getattr(copied, field.name) == getattr(expected, field.name), field.name
