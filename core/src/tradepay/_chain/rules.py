"""The rule table: what the chain does with each provider outcome.

A rule matches on any of provider, outcome kind, result code, error code and a detail pattern (fully matched
against the answer's ``extended_info["reason"]``, else its error description); the most specific matching
rule wins (the most matchers set), and among equally specific rules the one listed first (configured
overrides come before the shipped defaults). A catch-all default rule always matches last.

Safety is not left to the table alone: a ``fallthrough`` is only ever carried out for a valid answer whose
result code is ``4000`` (failed) and which is not a user cancel. Anything else a fall-through rule would
catch is inquired instead, so no configuration can move a payment to a second provider while the first may
have charged.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Final

from .._ledger.records import Decision, OutcomeKind
from .._spi.errors import ConfigError
from .._spi.fields import NAME_RE
from .._spi.models import ErrorCode, PaymentResult, ResultCode
from .._spi.numbers import shown_value

__all__ = ["DEFAULT_RULES", "RISK_REASONS", "Rule", "RuleTable", "parse_rules"]

#: Decline reasons that mean "do not try another way": fraud or risk, a lost or stolen card.
RISK_REASONS = r"RISK_REJECT|LOST_CARD|STOLEN_CARD|FRAUD\w*|PICKUP_CARD"

#: The longest rule name and ``detail`` pattern accepted.
MAX_RULE_NAME: Final = 100
MAX_DETAIL_PATTERN: Final = 1024

_AMBIGUOUS_CODES = frozenset({ResultCode.PROCESSING, ResultCode.NETWORK_ERROR, ResultCode.UNKNOWN})


_NEVER_FALL_THROUGH_ERRORS = frozenset({ErrorCode.USER_CANCEL, ErrorCode.TIMEOUT, ErrorCode.UNKNOWN_ERROR})


def _enum(enum_type: Any, value: object, key: str) -> Any:
    try:
        return enum_type(value)
    except (ValueError, TypeError):
        choices = ", ".join(repr(m.value) for m in dict.fromkeys(enum_type))
        raise ConfigError(key, f"{shown_value(value)} is not one of {choices}") from None


def _pattern(detail: object) -> re.Pattern[str] | None:
    if detail is None or (isinstance(detail, re.Pattern) and isinstance(detail.pattern, str)):
        return detail
    if not isinstance(detail, str):
        raise ConfigError("detail", f"must be a regular expression string, got {type(detail).__name__}")
    if len(detail) > MAX_DETAIL_PATTERN:
        raise ConfigError("detail", f"is longer than {MAX_DETAIL_PATTERN} characters")
    try:
        return re.compile(detail)
    except (re.error, OverflowError, RecursionError) as exc:
        raise ConfigError("detail", f"is not a valid regular expression: {exc}") from None


def _refuse_unsafe(rule: Rule) -> None:
    if rule.answer_code is not None:
        if rule.answer_code is not ResultCode.USER_CANCEL:
            raise ConfigError("answer_code", 'may only be "6001" (answer a stopping rule as a user cancel)')
        if rule.decision is not Decision.STOP:
            raise ConfigError("answer_code", 'goes only with decision = "stop"')
    if rule.decision is not Decision.FALLTHROUGH:
        return
    if rule.kind is not None and rule.kind is not OutcomeKind.ANSWER:
        raise ConfigError("decision", f"fallthrough on kind {rule.kind.value!r} could charge twice")
    if rule.result_code is not None and rule.result_code is not ResultCode.FAILED:
        raise ConfigError("decision", f"fallthrough is allowed only on result code 4000, not {rule.result_code.value}")
    if rule.error_code in _NEVER_FALL_THROUGH_ERRORS:
        raise ConfigError(
            "decision", f"error {int(rule.error_code)} never falls through (a cancel, or a result nobody knows)"
        )
    if rule.result_code is None and rule.error_code is None:
        raise ConfigError("decision", 'a fallthrough rule must name result_code = "4000" or an error_code')


@dataclass(frozen=True, slots=True)
class Rule:
    """One row of the rule table. ``None`` in a matcher means "any"."""

    name: str
    decision: Decision
    provider: str | None = None
    kind: OutcomeKind | None = None
    result_code: ResultCode | None = None
    error_code: ErrorCode | None = None
    detail: re.Pattern[str] | None = None
    answer_code: ResultCode | None = None
    specificity: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        """Check every field as a ``[[rules]]`` table is checked (plain values become their enums, a string
        ``detail`` is compiled) and refuse the fall-throughs that could charge twice; each error is a
        :class:`ConfigError` whose key is the field (``decision``, ``detail`` ...)."""
        if not isinstance(self.name, str) or not self.name.strip() or len(self.name) > MAX_RULE_NAME:
            raise ConfigError("name", f"must be a non-blank string of at most {MAX_RULE_NAME} characters")
        if self.provider is not None and (not isinstance(self.provider, str) or not NAME_RE.fullmatch(self.provider)):
            raise ConfigError("provider", f"{shown_value(self.provider)} is not a provider name (lowercase, a-z0-9_-)")
        raw_code: object = self.result_code  # TOML may give a result code as an integer
        if isinstance(raw_code, int) and not isinstance(raw_code, bool) and 0 <= raw_code < 10_000:
            object.__setattr__(self, "result_code", str(raw_code))
        raw_error: object = self.error_code
        if raw_error is not None and (isinstance(raw_error, bool) or not isinstance(raw_error, int)):
            raise ConfigError("error_code", f"must be an integer, got {type(raw_error).__name__}")
        for name, enum_type in (
            ("decision", Decision),
            ("kind", OutcomeKind),
            ("result_code", ResultCode),
            ("error_code", ErrorCode),
            ("answer_code", ResultCode),
        ):
            value = getattr(self, name)
            if value is not None and not isinstance(value, enum_type):
                object.__setattr__(self, name, _enum(enum_type, value, name))
        if self.decision is None:
            raise ConfigError("decision", "is required (stop, fallthrough or inquire)")
        object.__setattr__(self, "detail", _pattern(self.detail))
        _refuse_unsafe(self)
        matchers = (self.provider, self.kind, self.result_code, self.error_code, self.detail)
        object.__setattr__(self, "specificity", sum(m is not None for m in matchers))

    def matches(self, provider: str, kind: OutcomeKind, result: PaymentResult | None, detail: str) -> bool:
        """True when this rule applies to ``provider``'s outcome."""
        if self.provider is not None and self.provider != provider:
            return False
        if self.kind is not None and self.kind is not kind:
            return False
        if self.result_code is not None and (result is None or result.result_code is not self.result_code):
            return False
        if self.error_code is not None and (
            result is None or result.result_error is None or result.result_error.error_code is not self.error_code
        ):
            return False
        return self.detail is None or self.detail.fullmatch(detail) is not None

    def describe(self) -> str:
        """A one-line description: ``name: error_code=1002 -> fallthrough``."""
        parts = [
            f"{label}={value}"
            for label, value in (
                ("provider", self.provider),
                ("kind", self.kind.value if self.kind else None),
                ("result_code", self.result_code.value if self.result_code else None),
                ("error_code", int(self.error_code) if self.error_code else None),
                ("detail", self.detail.pattern if self.detail else None),
            )
            if value is not None
        ]
        answer = f" (answered {self.answer_code.value})" if self.answer_code else ""
        return f"{self.name}: {' '.join(parts) or 'any outcome'} -> {self.decision.value}{answer}"


def _rule(name: str, decision: Decision, **matchers: Any) -> Rule:
    return Rule(name=name, decision=decision, **matchers)


#: The shipped defaults, in priority order among equally specific rules. Ambiguous outcomes come before
#: fall-throughs so that, say, ``8000`` with error ``1002`` is inquired, not passed on.
DEFAULT_RULES: tuple[Rule, ...] = (
    _rule("success", Decision.STOP, result_code=ResultCode.SUCCESS),
    _rule("user-cancel", Decision.STOP, result_code=ResultCode.USER_CANCEL, answer_code=ResultCode.USER_CANCEL),
    _rule("user-cancel-error", Decision.STOP, error_code=ErrorCode.USER_CANCEL, answer_code=ResultCode.USER_CANCEL),
    _rule("risk-decline", Decision.STOP, result_code=ResultCode.FAILED, detail=re.compile(RISK_REASONS)),
    _rule("processing", Decision.INQUIRE, result_code=ResultCode.PROCESSING),
    _rule("network-error", Decision.INQUIRE, result_code=ResultCode.NETWORK_ERROR),
    _rule("unknown-result", Decision.INQUIRE, result_code=ResultCode.UNKNOWN),
    _rule("timeout-error", Decision.INQUIRE, error_code=ErrorCode.TIMEOUT),
    _rule("unknown-error", Decision.INQUIRE, error_code=ErrorCode.UNKNOWN_ERROR),
    _rule("provider-exception", Decision.INQUIRE, kind=OutcomeKind.EXCEPTION),
    _rule("invalid-answer", Decision.INQUIRE, kind=OutcomeKind.INVALID),
    _rule("deadline-missed", Decision.INQUIRE, kind=OutcomeKind.TIMEOUT),
    _rule("app-service-error", Decision.FALLTHROUGH, error_code=ErrorCode.APP_SERVICE_ERROR),
    _rule("system-error", Decision.FALLTHROUGH, error_code=ErrorCode.SYSTEM_ERROR),
    _rule("agreement-pending", Decision.FALLTHROUGH, error_code=ErrorCode.AUTH_PENDING_AGREEMENT),
    _rule("declined", Decision.FALLTHROUGH, result_code=ResultCode.FAILED),
)
#: Matches whatever no other rule does: an outcome nobody described is treated as ambiguous.
DEFAULT_RULE = _rule("default", Decision.INQUIRE)


#: How many distinct outcomes a table remembers its decision for (a provider has a handful of answers).
_MEMO_SIZE = 1024


class RuleTable:
    """An ordered, validated set of rules with a catch-all default."""

    __slots__ = ("_memo", "_rules")

    def __init__(self, overrides: Iterable[Rule] = (), *, defaults: Iterable[Rule] = DEFAULT_RULES) -> None:
        """Order ``overrides`` before ``defaults``; a :class:`ConfigError` names ``rules[INDEX]`` (or
        ``defaults[INDEX]``) of an entry that is not a :class:`Rule`."""
        ordered = [*check_rules(overrides), *check_rules(defaults, key="defaults")]
        # Stable sort: specificity first, then listed order (overrides before defaults).
        self._rules: tuple[Rule, ...] = (*sorted(ordered, key=lambda r: -r.specificity), DEFAULT_RULE)
        self._memo: dict[tuple[object, ...], tuple[Rule, Decision]] = {}

    @property
    def rules(self) -> tuple[Rule, ...]:
        """Every rule in the order they are tried, the catch-all default last."""
        return self._rules

    def match(self, provider: str, kind: OutcomeKind, result: PaymentResult | None, detail: str) -> Rule:
        """The rule that applies to this outcome (always one: the default catches the rest)."""
        for rule in self._rules:
            if rule.matches(provider, kind, result, detail):
                return rule
        raise AssertionError("unreachable: the default rule matches every outcome")  # pragma: no cover

    def decide(
        self, provider: str, kind: OutcomeKind, result: PaymentResult | None, detail: str
    ) -> tuple[Rule, Decision]:
        """The matching rule and the decision the chain carries out (:func:`effective_decision`).

        Both depend only on the provider, the outcome's kind, result code, error code and ``detail``, so the
        answer is remembered per such key: a chain sees the same few outcomes again and again, and walking
        the table is the larger part of classifying one. The memory is bounded (cleared when full).
        """
        error = result.result_error if result is not None else None
        key = (
            provider,
            kind,
            result.result_code if result is not None else None,
            error.error_code if error is not None else None,
            detail,
        )
        found = self._memo.get(key)
        if found is None:
            rule = self.match(provider, kind, result, detail)
            found = (rule, effective_decision(rule, kind, result))
            if len(self._memo) >= _MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = found
        return found


def is_user_cancel(result: PaymentResult | None) -> bool:
    """True for an answer that says the user cancelled (result ``6001`` or error ``1001``)."""
    if result is None:
        return False
    error = result.result_error
    return result.result_code is ResultCode.USER_CANCEL or (
        error is not None and error.error_code is ErrorCode.USER_CANCEL
    )


def effective_decision(rule: Rule, kind: OutcomeKind, result: PaymentResult | None) -> Decision:
    """The decision the chain carries out: the rule's, within two guards that no configuration can lift.

    * A user cancel always stops: no other provider is tried after the user said no.
    * A fall-through happens only for a valid ``4000`` answer whose error (if any) is not a timeout or an
      unknown error; anything else a fall-through rule would catch is inquired first.
    """
    if kind is OutcomeKind.ANSWER and is_user_cancel(result):
        return Decision.STOP
    if rule.decision is not Decision.FALLTHROUGH:
        return rule.decision
    if kind is OutcomeKind.ANSWER and result is not None and result.result_code is ResultCode.FAILED:
        error = result.result_error
        if error is None or error.error_code not in _NEVER_FALL_THROUGH_ERRORS:
            return Decision.FALLTHROUGH
    return Decision.INQUIRE


_RULE_KEYS = frozenset({"name", "decision", "provider", "kind", "result_code", "error_code", "detail", "answer_code"})


@contextmanager
def within(prefix: str) -> Iterator[None]:
    """Re-raise a :class:`ConfigError` of a part (``decision``) under the path of the whole (``rules[2].decision``)."""
    try:
        yield
    except ConfigError as exc:
        raise ConfigError(f"{prefix}.{exc.key}" if exc.key else prefix, exc.reason) from None


def check_rules(rules: object, *, key: str = "rules", providers: Sequence[str] | None = None) -> tuple[Rule, ...]:
    """``rules`` as a tuple: an iterable of :class:`Rule` whose providers (when ``providers`` is given) are among
    them; a :class:`ConfigError` names ``key[INDEX]`` of the first that is not."""
    if isinstance(rules, str | bytes | Mapping) or not isinstance(rules, Iterable):
        raise ConfigError(key, f"must be a sequence of Rule, got {type(rules).__name__}")
    checked = tuple(rules)
    for index, rule in enumerate(checked):
        if not isinstance(rule, Rule):
            raise ConfigError(f"{key}[{index}]", f"must be a Rule, got {type(rule).__name__}")
        if providers is not None and rule.provider is not None and rule.provider not in providers:
            raise ConfigError(f"{key}[{index}].provider", f"{rule.provider!r} is not in chain.providers")
    return checked


def parse_rules(raw: object, *, providers: Sequence[str] | None = None) -> tuple[Rule, ...]:
    """Build rules from the configuration's ``[[rules]]`` array; every error names its key path.

    Each table is checked by :class:`Rule` itself (one set of checks for rules written in TOML and in code):
    refused outright, because they could charge twice, are a ``fallthrough`` on a success, a cancel, a
    processing or unknown result, or on an exception, invalid answer or missed deadline.
    """
    if not isinstance(raw, list):
        raise ConfigError("rules", f"must be an array of tables ([[rules]]), got {type(raw).__name__}")
    rules = []
    for index, item in enumerate(raw):
        at = f"rules[{index}]"
        if not isinstance(item, Mapping):
            raise ConfigError(at, f"must be a table, got {type(item).__name__}")
        unknown = sorted(set(item) - _RULE_KEYS)
        if unknown:
            raise ConfigError(f"{at}.{unknown[0]}", f"unknown key (known: {', '.join(sorted(_RULE_KEYS))})")
        with within(at):
            rules.append(Rule(**{"name": f"rule-{index}", "decision": None, **item}))
    return check_rules(rules, providers=providers)


def is_ambiguous_code(code: ResultCode) -> bool:
    """True for result codes that do not say whether money moved (8000, 6002, 6004)."""
    return code in _AMBIGUOUS_CODES
