"""No full card number and no CVC reaches the database, a log line, an exception or the command line.

Every test number is enrolled (through the API and the CLI), charged, inquired and cancelled; then the database
(SQLite: the files, main, -wal and -shm, byte for byte; both: every row of every table, rendered as text), the
captured log events, the answers, the command outputs and every exception rendered as a traceback *with local
variables* are scanned for the full numbers.
"""

from __future__ import annotations

import json
import re
import traceback
from pathlib import Path

import click
import structlog
from card_support import Backend, OpenCard, make_attempt, make_order, make_refund, query
from click.testing import CliRunner

from tradepay import CardNumber, CardSecret, InvalidInput, Order, Refund, redact_card_numbers
from tradepay_card import CardProvider

VALID = [
    "4242424242424242",
    "5555555555554444",
    "4000000000000002",
    "4000000000009995",
    "4000000000009987",
    "4000000000009979",
    "4000000000000069",
    "4000000000000127",
    "4000000000000119",
    "378282246310005",
    "6011111111111117",
    "3566002020360505",
    "6200000000000005",
    "4000000000005126",
    "4000000000007726",
]
REFUSED = ["4242424242424241", "36227206271667"]  # fails the Luhn check; a brand not accepted (Diners Club)
ALL = VALID + REFUSED


def _grouped(number: str) -> str:
    return " ".join(number[i : i + 4] for i in range(0, len(number), 4))


def _cvc(number: str) -> CardSecret:
    return CardSecret("7391" if number.startswith("3") and number[1] in "47" else "739")


def _render(exc: BaseException) -> str:
    """Everything an exception can show: str, repr, and its traceback with every frame's local variables."""
    rendered = traceback.TracebackException.from_exception(exc, capture_locals=True).format()
    return "\n".join([str(exc), repr(exc), "".join(rendered)])


def _try_to_add(provider: CardProvider, payer: str, number: CardNumber, expiry: str, cvc: CardSecret) -> str:
    """Enrol a card; return the rendered refusal, or "" if it went on file.

    This frame (the first of every rendered traceback) holds only the wrapped number and CVC, and no list of
    earlier texts, whose repr would nest into each new traceback.
    """
    try:
        provider.add_card(payer, number, expiry, cvc)
    except InvalidInput as exc:
        return _render(exc)
    return ""


def _enrol_through_the_api(provider: CardProvider, texts: list[str]) -> None:
    for index, number in enumerate(CardNumber(n) for n in ALL):
        for expiry, cvc in (("12/30", _cvc(number.reveal())), ("12/30", CardSecret("1")), ("01/21", CardSecret("739"))):
            texts.append(_try_to_add(provider, f"api-{index}", number, expiry, cvc))


def _enrol_through_the_cli(provider: CardProvider, texts: list[str]) -> None:
    @click.group()
    def cli() -> None:
        """Stands in for ``tradepay``."""

    provider.add_cli_commands(cli=cli)
    runner = CliRunner()
    for index, number in enumerate(ALL):
        payer = f"cli-{index}"
        for shown in (number, _grouped(number)):
            result = runner.invoke(cli, ["card", "add", payer, shown, "--exp", "12/30", "--cvc", _cvc(number).reveal()])
            texts.append(result.output)
            if result.exception is not None and not isinstance(result.exception, SystemExit):
                texts.append(_render(result.exception))
        result = runner.invoke(cli, ["card", "add", payer, number, "--exp", "12/30", "--cvc", "1"])
        texts.append(result.output)
        texts.append(runner.invoke(cli, ["card", "list", payer]).output)
        texts.append(runner.invoke(cli, ["card", "list", payer, "--json"]).output)


def _pay_everyone(provider: CardProvider, texts: list[str]) -> None:
    for index in range(len(ALL)):
        for prefix in ("api", "cli"):
            order, attempt = make_order(payer=f"{prefix}-{index}"), make_attempt(f"{prefix}{index}-1")
            texts.append(json.dumps(provider.pay(order=order, attempt=attempt).to_dict()))
            texts.append(json.dumps(provider.pay(order=order, attempt=attempt).to_dict()))
            texts.append(provider.inquire(order=order, attempt=attempt).value)
            texts.append(_refund(provider, order, make_refund(attempt, key=f"{prefix}{index}-r")))
            provider.cancel(order=order, attempt=attempt)
            texts.append(repr(provider.cards(f"{prefix}-{index}")))


def _refund(provider: CardProvider, order: Order, refund: Refund) -> str:
    """Refund part of a payment; return the answer and the inquiry's outcome, or the rendered failure (a card
    whose refunds hang raises)."""
    try:
        answer = provider.refund(order=order, attempt=refund.attempt, refund=refund)
    except RuntimeError as exc:
        return _render(exc)
    return f"{answer!r} {provider.inquire_refund(order=order, attempt=refund.attempt, refund=refund)}"


def _files(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.rglob("*") if path.is_file()}


def _tables(provider: CardProvider, backend: Backend) -> dict[str, str]:
    """Every table of the provider's database (on PostgreSQL: of the test's schema), every row rendered as text."""
    if backend.kind == "sqlite":
        names = [row[0] for row in query(provider, "SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {name: repr(query(provider, f'SELECT * FROM "{name}"')) for name in names}  # noqa: S608
    names = [
        row[0]
        for row in query(
            provider, "SELECT table_name FROM information_schema.tables WHERE table_schema = ?", [backend.schema]
        )
    ]
    # PostgreSQL's own text of each row (the composite's output form), and Python's repr of its values.
    return {
        name: repr(query(provider, f'SELECT CAST(t AS TEXT) FROM "{backend.schema}"."{name}" AS t'))  # noqa: S608
        + repr(query(provider, f'SELECT * FROM "{backend.schema}"."{name}"'))  # noqa: S608
        for name in names
    }


def _luhn_runs(text: str) -> list[str]:
    """The card-number-like digit runs of ``text`` (what redact_card_numbers would mask), card tokens aside: a
    token is 24 random hex digits, which hold a Luhn-valid run of 13 decimal digits about once in 2000 tokens."""
    text = re.sub(r"card_[0-9a-f]{24}", "card_<token>", text)
    return [] if redact_card_numbers(text) == text else [text]


def _leaks(haystack: str | bytes) -> list[str]:
    forms = [form for number in ALL for form in (number, _grouped(number), "-".join(_grouped(number).split()))]
    if isinstance(haystack, bytes):
        return [form for form in forms if form.encode() in haystack]
    return [form for form in forms if form in haystack]


def test_no_full_number_reaches_disk_logs_or_exceptions(tmp_path: Path, backend: Backend, open_card: OpenCard) -> None:
    texts: list[str] = []
    with structlog.testing.capture_logs() as logs:
        provider = open_card()
        _enrol_through_the_api(provider, texts)
        _enrol_through_the_cli(provider, texts)
        _pay_everyone(provider, texts)
        files_while_open = _files(tmp_path)
        tables = _tables(provider, backend)
        provider.close()
    files_after_close = _files(tmp_path)

    # The scan must have had something to find: cards were enrolled, refused, charged and declined.
    if backend.kind == "sqlite":
        assert any(name.endswith("-wal") for name in files_while_open)
        assert set(tables) == {"cards", "attempts", "movements", "refunds"}
    else:
        assert set(tables) == {"cards", "attempts", "movements", "refunds", "tradepay_schema"}
        assert files_while_open == files_after_close == {}  # nothing of the state is kept in data_dir
    assert tables["cards"].count("card_") >= 2 * len(VALID)
    assert "4242" in tables["cards"]
    assert "9979" in tables["cards"]  # the last four digits are stored, the rest is not
    assert tables["movements"].count("'charge'") >= 4
    assert tables["refunds"].count("'succeeded'") >= 4
    assert any("refunded to Visa ending 4242" in t for t in texts)
    assert any("the refund was never answered" in t for t in texts)
    assert len([t for t in texts if "fails the Luhn check" in t]) >= 3
    assert any('"resultCode": "9000"' in t for t in texts)
    assert any("STOLEN_CARD" in t for t in texts)
    assert {entry["event"] for entry in logs} >= {"card.added", "card.answered", "card.inquired", "card.cancelled"}
    assert len(texts) > 100

    for name, content in {**files_while_open, **{f"closed {n}": c for n, c in files_after_close.items()}}.items():
        assert _leaks(content) == [], name
    for name, rows in tables.items():
        assert _leaks(rows) == [], name
        assert _luhn_runs(rows) == [], name  # no Luhn-valid run of 13-19 digits at all
    log_text = repr(logs)
    assert _leaks(log_text) == []
    assert _luhn_runs(log_text) == []
    for text in texts:
        assert _leaks(text) == [], text
        assert _luhn_runs(text) == [], text


def test_card_values_render_masked() -> None:
    number, cvc = CardNumber("4242424242424242"), CardSecret("739")
    assert repr(number) == "CardNumber('424242******4242')"
    assert f"{number} {cvc} {cvc!r}" == "424242******4242 *** CardSecret('***')"
