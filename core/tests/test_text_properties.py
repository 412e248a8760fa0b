"""Any text in any text field of a public model either makes a model that the SQLite ledger stores and gives
back unchanged, or is refused with :class:`tradepay.InvalidInput` naming the field, in a message safe to print;
never another exception. And a payment made with such text is answered, never with ``6004``."""

from __future__ import annotations

import itertools
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import structlog
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tradepay import (
    APIContext,
    AttemptRecord,
    Decision,
    ErrorCode,
    InvalidInput,
    MiniProgramMetaData,
    Order,
    OutcomeKind,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentStatus,
    PaymentType,
    ProviderStatus,
    ResultCode,
    ResultError,
    SQLiteLedger,
    holds_card_number,
)
from tradepay._spi.text import MAX_IDENTIFIER, check_text, plain_texts
from tradepay.testing import ReferenceProvider, build_service

if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:
    from core.tests.nasty_text import TEXT_FIELDS, any_text
else:
    from nasty_text import TEXT_FIELDS, any_text

USD = PaymentAmount("USD", "100")
_numbers = itertools.count(1)
PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def fresh_trade_no() -> str:
    return f"T-prop-{next(_numbers)}"


@pytest.fixture(scope="module")
def ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteLedger]:
    book = SQLiteLedger(tmp_path_factory.mktemp("text") / "ledger.sqlite3")
    yield book
    book.close()


@pytest.fixture(scope="module")
def service(ledger: SQLiteLedger) -> Iterator[PaymentService]:
    # The events of these payments hold hostile text; what logging does with it is not the question here.
    saved = structlog.get_config()
    structlog.configure(logger_factory=structlog.ReturnLoggerFactory())
    with build_service({"reference": ReferenceProvider()}, ledger=ledger) as built:
        yield built
    structlog.configure(**saved)


def assert_refused(exc: InvalidInput, field: str) -> None:
    assert exc.field == field, f"{exc.field!r} named instead of {field!r}"
    message = str(exc)
    assert len(message) <= 1024
    assert message.isprintable()
    message.encode("utf-8")
    assert not holds_card_number(message)


def built_or_refused(build: Callable[[], Any], field: str) -> Any:
    """What ``build`` makes, or ``None`` when it was refused as the property allows."""
    try:
        return build()
    except InvalidInput as exc:
        assert_refused(exc, field)
        return None


def stored_result(ledger: SQLiteLedger, result: PaymentResult) -> PaymentResult | None:
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice", trade_no=fresh_trade_no())
    payment, created = ledger.begin_payment(order, None)
    assert created
    ledger.finish_payment(payment.payment_id, PaymentStatus.FAILED, result)
    back = ledger.get_payment(payment.payment_id)
    assert back is not None
    return back.result


# --- every text field of every public model ----------------------------------------------------------------


@pytest.mark.parametrize(("field", "build"), TEXT_FIELDS, ids=[f"{i}-{f}" for i, (f, _b) in enumerate(TEXT_FIELDS)])
@PROPERTY
@given(text=any_text())
def test_any_text_makes_a_model_or_is_refused_naming_the_field(
    field: str, build: Callable[[str], Any], text: str
) -> None:
    built_or_refused(lambda: build(text), field)


# --- the order's identifiers --------------------------------------------------------------------------------


@pytest.mark.parametrize("field", ["trade_no", "merchant_id", "payer_id"])
@PROPERTY
@given(text=any_text())
def test_an_order_identifier_is_stored_as_given_or_refused(ledger: SQLiteLedger, field: str, text: str) -> None:
    values = {"trade_no": fresh_trade_no(), "merchant_id": "shop-1", "payer_id": "alice", field: text}
    order = built_or_refused(lambda: Order(values["trade_no"], USD, values["merchant_id"], values["payer_id"]), field)
    if order is None:
        return
    made = built_or_refused(
        lambda: ledger.create_order(
            USD, merchant_id=order.merchant_id, payer_id=order.payer_id, trade_no=order.trade_no
        ),
        "trade_no",  # the one refusal left: a trade number that is taken
    )
    if made is not None:
        assert ledger.get_order(order.trade_no) == order == made


# --- what a provider answers ----------------------------------------------------------------------------------


ANSWER_FIELDS: dict[str, Callable[[str], PaymentResult]] = {
    "result_message": lambda text: PaymentResult(ResultCode.FAILED, text),
    "result_error.error_desc": lambda text: PaymentResult(
        ResultCode.FAILED, "declined", ResultError(ErrorCode.APP_SERVICE_ERROR, text)
    ),
    "extended_info key": lambda text: PaymentResult(ResultCode.FAILED, "declined", extended_info={text: "v"}),
    "extended_info[*]": lambda text: PaymentResult(ResultCode.FAILED, "declined", extended_info={"reason": text}),
}


@pytest.mark.parametrize("field", sorted(ANSWER_FIELDS))
@PROPERTY
@given(text=any_text())
def test_an_answer_is_stored_as_given_or_refused(ledger: SQLiteLedger, field: str, text: str) -> None:
    try:
        result = ANSWER_FIELDS[field](text)
    except InvalidInput as exc:
        assert_refused(exc, "extended_info['reason']" if field == "extended_info[*]" else field)
        return
    # A message for people holds a card number's mask; a machine-read value refuses one (above).
    assert not holds_card_number(result.result_message)
    assert result.result_error is None or not holds_card_number(result.result_error.error_desc)
    assert stored_result(ledger, result) == result


# --- what the host records ------------------------------------------------------------------------------------


@PROPERTY
@given(text=any_text())
def test_an_app_id_is_stored_as_given_or_refused(ledger: SQLiteLedger, text: str) -> None:
    # The container's app id is taken as it is given (some platforms' app ids are 16-digit numbers), so one
    # spelled like a test card number would be stored as such: not what this property is about.
    assume(not holds_card_number(text))
    info = built_or_refused(lambda: MiniProgramMetaData(app_id=text), "mini_program_info.app_id")
    if info is None:
        return
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice", trade_no=fresh_trade_no())
    payment, _created = ledger.begin_payment(order, info.app_id)
    back = ledger.get_payment(payment.payment_id)
    assert back is not None
    assert back.app_id == text


@pytest.mark.parametrize("field", ["provider", "rule", "detail"])
@PROPERTY
@given(text=any_text())
def test_an_attempt_is_stored_as_given_or_refused(ledger: SQLiteLedger, field: str, text: str) -> None:
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice", trade_no=fresh_trade_no())
    payment, _created = ledger.begin_payment(order, None)
    provider = text if field == "provider" else "reference"
    attempt = built_or_refused(lambda: ledger.start_attempt(payment.payment_id, provider), "provider")
    if attempt is None:
        return
    if field == "rule":  # a rule's name is the configuration's, kept as given: a card-like one would be stored
        assume(not holds_card_number(text))
    rule, detail = (text if field == "rule" else "declined"), (text if field == "detail" else "")
    record = built_or_refused(
        lambda: AttemptRecord(
            attempt, OutcomeKind.ANSWER, None, rule, Decision.STOP, Decision.STOP, detail, 1.0, ProviderStatus.NOT_PAID
        ),
        field,
    )
    back = ledger.get_payment(payment.payment_id)
    assert back is not None
    if record is None:
        assert back.pending == attempt
        return
    assert not holds_card_number(record.detail)
    ledger.finish_attempt(record)
    back = ledger.get_payment(payment.payment_id)
    assert back is not None
    assert back.attempts == (record,)


# --- what the mini program sends -------------------------------------------------------------------------------


def request_and_context(field: str, text: str, trade_no: str) -> tuple[PaymentRequest, APIContext]:
    request_info = {"extended_info key": {text: "v"}, "extended_info[*]": {"note": text}}
    request = PaymentRequest(
        PaymentType.ORDER_ID, text if field == "payment_string" else trade_no, None, request_info.get(field, {})
    )
    meta = {field.removeprefix("mini_program_info."): text} if field.startswith("mini_program_info.") else {}
    extra = {"userId": text} if field == "api_context.extended_info[*]" else None
    source = text if field == "api_context.source" else "miniprogram"
    return request, APIContext(source, MiniProgramMetaData(**meta), extra)


REQUEST_FIELDS = [
    "payment_string",
    "extended_info key",
    "extended_info[*]",
    "api_context.source",
    "api_context.extended_info[*]",
    *[f"mini_program_info.{name}" for name in MiniProgramMetaData.__slots__],
]


def named(field: str, text: str) -> str:
    """The field name a refusal gives for ``field`` (an entry of a map is named by its key)."""
    if field == "extended_info[*]":
        return "extended_info['note']"
    if field == "api_context.extended_info[*]":
        return "api_context.extended_info['userId']"
    return field


@pytest.mark.parametrize("field", REQUEST_FIELDS)
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=any_text())
def test_a_payment_with_any_text_is_refused_before_it_starts_or_answered(
    ledger: SQLiteLedger, service: PaymentService, field: str, text: str
) -> None:
    if field == "mini_program_info.app_id":  # stored as given: see test_an_app_id_is_stored_as_given_or_refused
        assume(not holds_card_number(text))
    order = ledger.create_order(USD, merchant_id="shop-1", payer_id="alice", trade_no=fresh_trade_no())
    try:
        request, context = request_and_context(field, text, order.trade_no)
    except InvalidInput as exc:
        assert_refused(exc, named(field, text))
        return
    result = service.pay_blocking(request, context)
    assert result.result_code in (ResultCode.SUCCESS, ResultCode.FAILED), result
    assert result.result_message.isprintable()
    assert not holds_card_number(result.result_message)
    if result.result_code is ResultCode.SUCCESS:
        payment = ledger.get_payment(result.extended_info["paymentId"])
        assert payment is not None
        assert payment.status is PaymentStatus.SUCCEEDED
        assert payment.app_id == context.app_id


@given(value=st.one_of(any_text(), st.integers(), st.floats(), st.binary(), st.none(), st.booleans()))
@PROPERTY
def test_an_enum_field_refuses_anything_else_with_a_safe_message(value: object) -> None:
    for build, field in ((lambda: PaymentRequest(value, "T1"), "type"), (lambda: PaymentResult(value), "result_code")):  # type: ignore[arg-type]
        built_or_refused(build, field)


@PROPERTY
@given(text=any_text())
def test_the_records_shortcut_passes_only_what_check_text_passes(text: str) -> None:
    # Attempt, AttemptRecord and Payment take plain_texts' one-call shortcut; it must never let through what
    # check_text (the rule) would refuse.
    if plain_texts((text,), MAX_IDENTIFIER):
        assert check_text(text, "field", limit=MAX_IDENTIFIER) == text
        if len(text) < 13:
            assert check_text(text, "field", limit=MAX_IDENTIFIER, card_numbers="refuse") == text
