"""Inputs a careless operator or an attacker types into text fields, and every text field of every public
model, shared by the text tests.

Card numbers come in every spelling people (and their keyboards) produce: grouped by spaces of any kind,
dots or dashes, in full-width digits, and glued to the punctuation of an identifier.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from hypothesis import strategies as st

from tradepay import (
    APIContext,
    Attempt,
    AttemptRecord,
    Decision,
    ErrorCode,
    MiniProgramMetaData,
    Order,
    OutcomeKind,
    Payment,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentStatus,
    PaymentType,
    ProviderConfig,
    ResultCode,
    ResultError,
)

USD = PaymentAmount("USD", "100")
ATTEMPT = Attempt("pay_1", 1, "reference", "pay_1-1")

#: Test card numbers of the card networks: Visa, Mastercard (5 and 2 series), Amex, Discover, JCB, UnionPay,
#: a 13-digit and a 19-digit Visa, and one that fails the Luhn check (a mistyped number is card data too).
CARD_NUMBERS: Final = (
    "4000000000000069",
    "4242424242424242",
    "5555555555554444",
    "2223003122003222",
    "378282246310005",
    "6011111111111117",
    "3530111333300000",
    "6200000000000005",
    "4222222222222",
    "4000000000000000006",
    "4242424242424241",
)

_SEPARATORS: Final = (" ", ".", "-", "\u00a0", "\u202f", "\u2007", "\u3000", "\u2013", "\uff0d", "\uff0e")
_FULL_WIDTH: Final = str.maketrans("0123456789", "\uff10\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff19")


def _grouped(number: str, separator: str) -> str:
    return separator.join(number[i : i + 4] for i in range(0, len(number), 4))


def card_spellings(number: str) -> list[str]:
    """``number`` as people write it: plain, grouped by each separator, in full-width digits, in an id."""
    spellings = [number, number.translate(_FULL_WIDTH), _grouped(number.translate(_FULL_WIDTH), "\u3000")]
    spellings += [_grouped(number, separator) for separator in _SEPARATORS]
    spellings += [f"card-{number}", f"{number}:1", f"payer.{_grouped(number, '.')}", f"({number})"]
    return spellings


#: Every spelling of every test card number.
CARD_TEXTS: Final = tuple(text for number in CARD_NUMBERS for text in card_spellings(number))

#: Text that looks alarming and is no card number: ids of 16 digits without a card network's prefix (Alipay's
#: 2088... user ids), dates, digits glued to a letter or ``_`` (generated ids), too few or too many digits.
NOT_CARD_IDENTIFIERS: Final = (
    "2088102177846880",
    "2021000000000001",
    "20240101123456",
    "2024-01-01-123456",
    "T4111111111111112",
    "pay_0123456789abcdef",
    "pay_4111111111111112",
    "424242424242",
    "45678901234567890123",
    "1234567890123456",
    "user-42",
)

#: Text no ledger may be asked to store, and text that only tries to break what reads it.
NASTY_TEXTS: Final = (
    "",
    " ",
    "\t\n",
    "\ud800",
    "a\udfffb",
    "\udc80\ud800",
    "\x00",
    "T\x001",
    "x" * 1_000_000,
    "\U0001f4b3" * 500,
    "e\u0301",
    "\u202eRTL",
    "\ufeffBOM",
    "\uffff",
    "\U0010ffff",
    "\x1b]0;owned\x07",
    "\x1b[2J",
    "'; DROP TABLE orders; --",
    '" OR 1=1 --',
    "../../etc/passwd",
    "<script>alert(1)</script>",
    "${jndi:ldap://x}",
    "%s%s%n",
    "Robert'); DROP TABLE payments;--",
)


def any_text() -> st.SearchStrategy[str]:
    """Any Python string, lone surrogates and NUL included, and the nasty and card-number texts above."""
    every_character = st.characters(codec=None, exclude_categories=())
    return st.one_of(
        st.text(every_character, max_size=80),
        st.text(st.sampled_from("09 .-_:aZ\u00a0\uff10\ud800\x00"), max_size=40),
        st.sampled_from(NASTY_TEXTS + CARD_TEXTS + NOT_CARD_IDENTIFIERS),
    )


#: (the field an InvalidInput names, a function making a model with the text in that field), for every text
#: field of every public model.
def result_with(**fields: Any) -> PaymentResult:
    return PaymentResult(**{"result_code": ResultCode.FAILED, **fields})


TEXT_FIELDS: list[tuple[str, Callable[[str], object]]] = [
    ("payment_string", lambda text: PaymentRequest(PaymentType.ORDER_ID, text)),
    ("extended_info key", lambda text: PaymentRequest(PaymentType.ORDER_ID, "T1", extended_info={text: "v"})),
    ("extended_info['k']", lambda text: PaymentRequest(PaymentType.ORDER_ID, "T1", extended_info={"k": text})),
    ("api_context.source", lambda text: APIContext(text)),
    ("api_context.extended_info['userId']", lambda text: APIContext("app", extended_info={"userId": text})),
    *[
        (f"mini_program_info.{name}", lambda text, name=name: MiniProgramMetaData(**{name: text}))
        for name in MiniProgramMetaData.__slots__
    ],
    ("result_message", lambda text: result_with(result_message=text)),
    ("extended_info['reason']", lambda text: result_with(extended_info={"reason": text})),
    ("result_error.error_desc", lambda text: ResultError(ErrorCode.APP_SERVICE_ERROR, text)),
    ("trade_no", lambda text: Order(text, USD, "shop-1", "alice")),
    ("merchant_id", lambda text: Order("T1", USD, text, "alice")),
    ("payer_id", lambda text: Order("T1", USD, "shop-1", text)),
    ("payment_id", lambda text: Attempt(text, 1, "reference", "k-1")),
    ("provider", lambda text: Attempt("pay_1", 1, text, "k-1")),
    ("idempotency_key", lambda text: Attempt("pay_1", 1, "reference", text)),
    ("name", lambda text: ProviderConfig(text)),
    ("rule", lambda text: AttemptRecord(ATTEMPT, OutcomeKind.ANSWER, None, text, Decision.STOP, Decision.STOP, "", 1)),
    (
        "detail",
        lambda text: AttemptRecord(ATTEMPT, OutcomeKind.ANSWER, None, "r", Decision.STOP, Decision.STOP, text, 1),
    ),
    ("payment_id", lambda text: Payment(text, "T1", PaymentStatus.PROCESSING, None)),
    ("trade_no", lambda text: Payment("pay_1", text, PaymentStatus.PROCESSING, None)),
    ("app_id", lambda text: Payment("pay_1", "T1", PaymentStatus.PROCESSING, None, app_id=text)),
]
