"""The rule table: every shipped default, specificity, overrides, and the guards against charging twice."""

from __future__ import annotations

import re
from dataclasses import fields
from typing import Any

import pytest

from tradepay import (
    ConfigError,
    Decision,
    ErrorCode,
    OutcomeKind,
    PaymentResult,
    ResultCode,
    ResultError,
    Rule,
    RuleTable,
)
from tradepay._chain.rules import DEFAULT_RULES, effective_decision, parse_rules


def answer(code: str, error: int | None = None, reason: str | None = None) -> PaymentResult:
    return PaymentResult(
        ResultCode(code),
        "x",
        ResultError(ErrorCode(error), "desc") if error else None,
        {"reason": reason} if reason else {},
    )


def decide(
    table: RuleTable, kind: OutcomeKind, result: PaymentResult | None, provider: str = "p"
) -> tuple[str, Decision]:
    detail = (result.reason or (result.result_error.error_desc if result.result_error else "")) if result else ""
    rule = table.match(provider, kind, result, detail)
    return rule.name, effective_decision(rule, kind, result)


A = OutcomeKind.ANSWER
CASES: list[tuple[OutcomeKind, PaymentResult | None, str, Decision]] = [
    (A, answer("9000"), "success", Decision.STOP),
    (A, answer("6001"), "user-cancel", Decision.STOP),
    (A, answer("6001", 1001), "user-cancel", Decision.STOP),
    (A, answer("4000", 1001), "user-cancel-error", Decision.STOP),
    (A, answer("4000", 1002, "RISK_REJECT"), "risk-decline", Decision.STOP),
    (A, answer("4000", 1002, "LOST_CARD"), "risk-decline", Decision.STOP),
    (A, answer("4000", 1002, "STOLEN_CARD"), "risk-decline", Decision.STOP),
    (A, answer("4000", 1002, "FRAUD_SUSPECTED"), "risk-decline", Decision.STOP),
    (A, answer("4000", None, "PICKUP_CARD"), "risk-decline", Decision.STOP),
    (A, answer("4000", 1002, "USER_BALANCE_NOT_ENOUGH"), "app-service-error", Decision.FALLTHROUGH),
    (A, answer("4000", 1002, "NOT_STOLEN_CARD"), "app-service-error", Decision.FALLTHROUGH),
    (A, answer("4000", 1005), "system-error", Decision.FALLTHROUGH),
    (A, answer("4000", 2001), "agreement-pending", Decision.FALLTHROUGH),
    (A, answer("4000"), "declined", Decision.FALLTHROUGH),
    (A, answer("4000", 1003), "timeout-error", Decision.INQUIRE),
    (A, answer("4000", 1000), "unknown-error", Decision.INQUIRE),
    (A, answer("8000"), "processing", Decision.INQUIRE),
    (A, answer("8000", 1002), "processing", Decision.INQUIRE),
    (A, answer("6002"), "network-error", Decision.INQUIRE),
    (A, answer("6004"), "unknown-result", Decision.INQUIRE),
    (A, answer("6004", 1003), "unknown-result", Decision.INQUIRE),
    (OutcomeKind.EXCEPTION, None, "provider-exception", Decision.INQUIRE),
    (OutcomeKind.INVALID, None, "invalid-answer", Decision.INQUIRE),
    (OutcomeKind.TIMEOUT, None, "deadline-missed", Decision.INQUIRE),
]


@pytest.mark.parametrize(("kind", "result", "rule", "decision"), CASES)
def test_every_default_rule(kind: OutcomeKind, result: PaymentResult | None, rule: str, decision: Decision) -> None:
    assert decide(RuleTable(), kind, result) == (rule, decision)


def test_every_shipped_rule_is_exercised() -> None:
    assert {name for _, _, name, _ in CASES} == {r.name for r in DEFAULT_RULES}


def test_most_specific_rule_wins_and_overrides_come_first_among_equals() -> None:
    overrides = parse_rules(
        [
            {
                "name": "card-dnh",
                "provider": "card",
                "result_code": "4000",
                "detail": "DO_NOT_HONOR",
                "decision": "stop",
            },
            {"name": "my-1005", "error_code": 1005, "decision": "inquire"},
        ]
    )
    table = RuleTable(overrides)
    dnh = answer("4000", 1002, "DO_NOT_HONOR")
    assert decide(table, A, dnh, provider="card") == ("card-dnh", Decision.STOP)
    assert decide(table, A, dnh, provider="wallet") == ("app-service-error", Decision.FALLTHROUGH)
    assert decide(table, A, answer("4000", 1005)) == ("my-1005", Decision.INQUIRE)


def test_the_default_rule_catches_the_undescribed() -> None:
    table = RuleTable(defaults=())
    assert decide(table, A, answer("4000")) == ("default", Decision.INQUIRE)


@pytest.mark.parametrize(
    ("kind", "result"),
    [
        (A, answer("9000")),
        (A, answer("8000")),
        (A, answer("6004")),
        (A, answer("6001")),
        (A, answer("4000", 1001)),
        (OutcomeKind.EXCEPTION, None),
        (OutcomeKind.TIMEOUT, None),
        (OutcomeKind.INVALID, None),
    ],
)
def test_a_fallthrough_rule_never_passes_on_what_may_have_charged(
    kind: OutcomeKind, result: PaymentResult | None
) -> None:
    # Rule itself refuses such a rule; the guard must hold for one that got past it all the same.
    reckless = object.__new__(Rule)
    for name, value in {**{f.name: None for f in fields(Rule)}, "name": "reckless", "specificity": 0}.items():
        object.__setattr__(reckless, name, value)
    object.__setattr__(reckless, "decision", Decision.FALLTHROUGH)
    assert effective_decision(reckless, kind, result) is not Decision.FALLTHROUGH


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        ({"result_code": "9000", "decision": "fallthrough"}, "rules[0].decision", "only on result code 4000"),
        ({"result_code": "6004", "decision": "fallthrough"}, "rules[0].decision", "only on result code 4000"),
        ({"kind": "timeout", "decision": "fallthrough"}, "rules[0].decision", "could charge twice"),
        ({"kind": "exception", "decision": "fallthrough"}, "rules[0].decision", "could charge twice"),
        ({"error_code": 1001, "decision": "fallthrough"}, "rules[0].decision", "never falls through"),
        ({"provider": "card", "decision": "fallthrough"}, "rules[0].decision", "must name"),
        ({"result_code": "4000"}, "rules[0].decision", "is required"),
        ({"result_code": "4000", "decision": "retry"}, "rules[0].decision", "not one of"),
        ({"result_code": "1234", "decision": "stop"}, "rules[0].result_code", "not one of"),
        ({"error_code": "1002", "decision": "stop"}, "rules[0].error_code", "must be an integer"),
        ({"error_code": 1004, "decision": "stop"}, "rules[0].error_code", "not one of"),
        ({"detail": "([", "decision": "stop"}, "rules[0].detail", "not a valid regular expression"),
        ({"kind": "explosion", "decision": "stop"}, "rules[0].kind", "not one of"),
        ({"decision": "stop", "colour": "red"}, "rules[0].colour", "unknown key"),
        ({"provider": "ghost", "decision": "stop"}, "rules[0].provider", "not in chain.providers"),
    ],
)
def test_bad_rules_are_refused_with_the_key_path(raw: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)) as info:
        parse_rules([raw], providers=["card", "wallet"])
    assert info.value.key == key


def test_rules_must_be_an_array_of_tables() -> None:
    with pytest.raises(ConfigError, match="array of tables"):
        parse_rules({"decision": "stop"})
    with pytest.raises(ConfigError, match="must be a table"):
        parse_rules(["stop"])


def test_describe_reads_as_the_rule() -> None:
    (rule,) = parse_rules([{"name": "n", "provider": "card", "error_code": 1005, "decision": "stop"}])
    assert rule.describe() == "n: provider=card error_code=1005 -> stop"


@pytest.mark.parametrize(
    ("raw", "key", "reason"),
    [
        ({"error_code": 1003, "decision": "fallthrough"}, "rules[0].decision", "never falls through"),
        ({"error_code": 1000, "decision": "fallthrough"}, "rules[0].decision", "never falls through"),
        ({"result_code": "4000", "decision": "stop", "answer_code": "4000"}, "rules[0].answer_code", "may only be"),
        ({"result_code": "4000", "decision": "inquire", "answer_code": "6001"}, "rules[0].answer_code", "goes only"),
    ],
)
def test_more_refused_rules(raw: dict[str, Any], key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as info:
        parse_rules([raw])
    assert info.value.key == key


def test_a_rule_written_in_code_takes_plain_values() -> None:
    rule = Rule("r", "stop", result_code="4000", error_code=1005, kind="answer", detail="X.*")  # type: ignore[arg-type]
    assert rule.decision is Decision.STOP
    assert rule.matches("p", A, answer("4000", 1005, "XYZ"), "XYZ")
    assert rule.describe() == "r: kind=answer result_code=4000 error_code=1005 detail=X.* -> stop"
    with pytest.raises(ConfigError, match="9999") as info:
        Rule("bad", "stop", result_code="9999")  # type: ignore[arg-type]
    assert info.value.key == "result_code"


@pytest.mark.parametrize(
    ("kwargs", "key", "reason"),
    [
        ({"decision": "bogus"}, "decision", "'bogus' is not one of 'stop', 'fallthrough', 'inquire'"),
        ({"decision": None}, "decision", "is required"),
        ({"decision": "stop", "detail": "["}, "detail", "is not a valid regular expression"),
        ({"decision": "stop", "detail": 5}, "detail", "must be a regular expression string, got int"),
        ({"decision": "stop", "detail": re.compile(b"x")}, "detail", "must be a regular expression string"),
        ({"decision": "stop", "error_code": 10**5000}, "error_code", "an integer of more than 20 digits is not"),
        ({"decision": "stop", "error_code": "1002"}, "error_code", "must be an integer, got str"),
        ({"decision": "stop", "error_code": True}, "error_code", "must be an integer, got bool"),
        ({"decision": "stop", "result_code": 10**5000}, "result_code", "an integer of more than 20 digits is not"),
        ({"decision": "stop", "kind": []}, "kind", "a value of type list is not one of"),
        ({"decision": "stop", "provider": "Card"}, "provider", "'Card' is not a provider name"),
        ({"decision": "stop", "provider": 7}, "provider", "7 is not a provider name"),
        ({"decision": "fallthrough"}, "decision", "must name"),
        ({"decision": "fallthrough", "result_code": "8000"}, "decision", "only on result code 4000"),
        ({"decision": "fallthrough", "kind": "timeout"}, "decision", "could charge twice"),
        ({"decision": "inquire", "answer_code": "6001"}, "answer_code", "goes only"),
        ({"decision": "stop", "answer_code": "9000"}, "answer_code", "may only be"),
    ],
)
def test_a_rule_written_in_code_is_checked_as_the_configuration_checks_it(
    kwargs: dict[str, Any], key: str, reason: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)) as info:
        Rule("r", **kwargs)
    assert info.value.key == key


@pytest.mark.parametrize("name", ["", "   ", 5, None, "x" * 101])
def test_a_rule_needs_a_name(name: object) -> None:
    with pytest.raises(ConfigError) as info:
        Rule(name, "stop")  # type: ignore[arg-type]
    assert info.value.key == "name"


@pytest.mark.parametrize(
    ("overrides", "key", "reason"),
    [
        ([None], "rules[0]", "must be a Rule, got NoneType"),
        ([DEFAULT_RULES[0], "stop"], "rules[1]", "must be a Rule, got str"),
        ("stop", "rules", "must be a sequence of Rule, got str"),
        (5, "rules", "must be a sequence of Rule, got int"),
    ],
)
def test_a_rule_table_takes_only_rules(overrides: Any, key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)) as info:
        RuleTable(overrides)
    assert info.value.key == key


def test_a_4000_with_a_timeout_error_never_falls_through() -> None:
    table = RuleTable(parse_rules([{"result_code": "4000", "decision": "fallthrough"}]))
    assert decide(table, A, answer("4000", 1003))[1] is Decision.INQUIRE
    assert decide(table, A, answer("4000", 1000))[1] is Decision.INQUIRE
    assert decide(table, A, answer("4000", 1002))[1] is Decision.FALLTHROUGH
    assert decide(table, A, answer("6001", 1002))[1] is Decision.STOP


@pytest.mark.parametrize(("kind", "result", "rule", "decision"), CASES)
def test_decide_remembers_nothing_it_should_not(
    kind: OutcomeKind, result: PaymentResult | None, rule: str, decision: Decision
) -> None:
    # One table sees every case twice (the second time from its memory), in both orders: each outcome must
    # get its own rule and decision whatever the table answered before.
    table = RuleTable()
    for _ in range(2):
        for other_kind, other_result, _name, _decision in CASES:  # the memo holds every other outcome
            table.decide("p", other_kind, other_result, _detail(other_result))
        found, decided = table.decide("p", kind, result, _detail(result))
        assert (found.name, decided) == (rule, decision)


def _detail(result: PaymentResult | None) -> str:
    if result is None:
        return ""
    return result.reason or (result.result_error.error_desc if result.result_error else "")


def test_decide_tells_providers_and_details_apart_and_stays_bounded() -> None:
    table = RuleTable(parse_rules([{"provider": "card", "result_code": "4000", "decision": "stop"}]))
    declined = answer("4000", 1002, "USER_BALANCE_NOT_ENOUGH")
    assert table.decide("wallet", A, declined, "USER_BALANCE_NOT_ENOUGH")[1] is Decision.FALLTHROUGH
    assert table.decide("card", A, declined, "USER_BALANCE_NOT_ENOUGH")[1] is Decision.STOP
    assert table.decide("wallet", A, declined, "STOLEN_CARD")[1] is Decision.STOP  # risk-decline by detail
    for number in range(3000):
        table.decide("wallet", OutcomeKind.TIMEOUT, None, f"no answer within {number}.000s")
    assert len(table._memo) <= 1024
    assert table.decide("wallet", A, declined, "USER_BALANCE_NOT_ENOUGH")[1] is Decision.FALLTHROUGH
