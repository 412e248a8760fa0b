"""redaction_ratio: the card-data redaction of ``tradepay.redact_card_data`` against a naive redactor.

The baseline is written here and never uses the code it measures: the redactor anyone would write first, one
regular expression (13 to 19 digits, spaces or dashes between them) run over every string value of the event,
nested mappings and lists included, masking each match but its last four digits. It finds fewer card numbers
than the project's redaction (no dots, no other spaces, no full-width digits, no Luhn or issuer check, no
secret keys, no sets, bytes or reprs), so it is the floor: the project's redaction, which does more, must not
cost more on the events a payment logs.

Shapes measured (each event freshly copied before each call, on both sides):

* ``attempt.finished`` and ``payment.finished`` as the chain logs them, bound to a payment: a payment id of 16
  random hex digits, the 16-digit app id ``2021000000000001``, a trade number, enums, numbers, ``None``;
* ``payment.refused``: ordinary strings, a sentence with a trade number in it;
* ``card-bearing`` (reported, not part of the key): a decline reason with a card number, a traceback's text.

The key is the median over neighbouring pairs of rounds of (project's time / naive time) for the three ordinary
shapes together. Run alone with ``python -m benchmarks.bench_redaction`` (from the repository's root, with the
development environment's interpreter) to print the ratio of each shape.
"""

from __future__ import annotations

import copy
import re
import sys
import time
from collections.abc import Callable, Mapping
from secrets import token_hex
from typing import Any

from tradepay import redact_card_data

from ._harness import QUICK, Figure, Sizes, alternate, median

__all__ = ["measure", "naive_redact"]

_NAIVE = re.compile(r"(?<!\d)(?:\d[ -]?){12,18}\d(?!\d)")


def _naive_mask(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group())
    return "*" * (len(digits) - 4) + digits[-4:]


def _naive_value(value: Any) -> Any:
    if isinstance(value, str):
        return _NAIVE.sub(_naive_mask, value)
    if isinstance(value, Mapping):
        return {k: _naive_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_naive_value(v) for v in value]
    return value


def naive_redact(_logger: object, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """The baseline: one regular expression over every string value."""
    for key, value in event_dict.items():
        event_dict[key] = _naive_value(value)
    return event_dict


def _payment() -> dict[str, Any]:
    return {"payment_id": f"pay_{token_hex(8)}", "app_id": "2021000000000001", "trade_no": f"T{token_hex(10)}"}


def _shapes() -> dict[str, list[dict[str, Any]]]:
    """A few events of each shape (fresh ids in each, as in real payments)."""
    attempts, finished, refused, cards = [], [], [], []
    for _ in range(20):
        payment = _payment()
        attempts.append(
            {
                **payment,
                "provider": "wallet",
                "attempt": 1,
                "kind": "answer",
                "result": "4000",
                "error_code": 1002,
                "reason": "USER_BALANCE_NOT_ENOUGH",
                "rule": "app-service-error",
                "decision": "fallthrough",
                "final": "fallthrough",
                "duration_ms": 0.412,
                "event": "attempt.finished",
                "level": "info",
            }
        )
        finished.append(
            {
                **payment,
                "provider": "card",
                "attempt": 3,
                "result": "9000",
                "status": "succeeded",
                "duration_ms": 1.734,
                "event": "payment.finished",
                "level": "info",
            }
        )
        refused.append(
            {
                "app_id": "2021000000000001",
                "result": "4000",
                "reason": f"order T{token_hex(10)} has expired",
                "event": "payment.refused",
                "level": "info",
            }
        )
        cards.append(
            {
                **payment,
                "reason": "card 4000 0000 0000 0002 declined by the issuer",
                "exception": (
                    "Traceback (most recent call last):\n"
                    '  File "/srv/app/checkout.py", line 118, in charge\n'
                    "    raise Declined(number)\n"
                    "Declined: card 4242-4242-4242-4242 refused (code 05)"
                ),
                "event": "charge.failed",
                "level": "error",
            }
        )
    return {"attempt.finished": attempts, "payment.finished": finished, "payment.refused": refused, "cards": cards}


ORDINARY = ("attempt.finished", "payment.finished", "payment.refused")
Processor = Callable[[object, str, dict[str, Any]], Any]


def _round(processor: Processor, events: list[dict[str, Any]], repeats: int) -> float:
    """CPU seconds per event of ``processor`` over ``events``, each copied before each call (copies untimed
    apart from the shallow copy, which both sides pay alike)."""
    batch = [copy.deepcopy(events) for _ in range(repeats)]
    started = time.process_time()
    for copies in batch:
        for event in copies:
            processor(None, "info", dict(event))
    return (time.process_time() - started) / (repeats * len(events))


def compare(
    shapes: dict[str, list[dict[str, Any]]], names: tuple[str, ...], repeats: int, rounds: int
) -> dict[str, Any]:
    events = [event for name in names for event in shapes[name]]
    ours, naive = alternate(
        lambda: _round(redact_card_data, events, repeats), lambda: _round(naive_redact, events, repeats), rounds=rounds
    )
    return {
        "tradepay_us": round(median(ours) * 1e6, 3),
        "naive_us": round(median(naive) * 1e6, 3),
        "ratio": round(median([o / n for o, n in zip(ours, naive, strict=True)]), 3),
    }


def measure(sizes: Sizes) -> Figure:
    shapes = _shapes()
    repeats = max(sizes.chain_payments // 4, 10)
    rounds = max(sizes.chain_rounds // 2, 2)
    ordinary = compare(shapes, ORDINARY, repeats, rounds)
    details: dict[str, Any] = {
        "baseline": "one regular expression over every string value (written in the benchmark)",
        "events_per_round": repeats * sum(len(shapes[name]) for name in ORDINARY),
        "rounds": rounds,
        **ordinary,
        "per_shape": {name: compare(shapes, (name,), repeats, rounds) for name in (*ORDINARY, "cards")},
    }
    return Figure("redaction_ratio", ordinary["ratio"], details)


def main() -> int:
    figure = measure(QUICK)
    print(f"redaction_ratio = {figure.value:g} (target {figure.target}: {'met' if figure.met else 'MISSED'})")
    for name, row in figure.details["per_shape"].items():
        print(
            f"  {name:<18} tradepay {row['tradepay_us']:>7.3f} us  naive {row['naive_us']:>7.3f} us  {row['ratio']:g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
