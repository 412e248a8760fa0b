"""Settings given in code are refused exactly as the same settings in the configuration file."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

import pytest

from tradepay import (
    ChainSettings,
    Config,
    ConfigError,
    HostSettings,
    InvalidInput,
    MemoryLedger,
    Order,
    PaymentAmount,
    ProviderSettings,
    ResultError,
    SQLiteLedger,
)
from tradepay._config import LedgerSettings

CHAIN = {"providers": ["wallet", "card"]}
SECRET = "a-secret-of-sixteen-or-more"


def ids(value: object) -> str | None:
    """A test id for an integer too long for pytest to print (``None``: pytest's own id)."""
    return "huge" if isinstance(value, int) and abs(value) > 10**20 else None


def refusal(build: Any) -> tuple[str, str]:
    with pytest.raises(ConfigError) as info:
        build()
    return info.value.key, info.value.reason


@pytest.mark.parametrize(
    ("table", "key", "value", "reason"),
    [
        ("chain", "deadline_s", -1, "must be more than 0 and at most 86400 seconds, got -1"),
        ("chain", "deadline_s", math.nan, "must be more than 0 and at most 86400 seconds, got nan"),
        ("chain", "deadline_s", math.inf, "must be more than 0 and at most 86400 seconds, got inf"),
        ("chain", "deadline_s", 10**5000, "at most 86400 seconds, got an integer of more than 20 digits"),
        ("chain", "deadline_s", True, "must be a number of seconds, got bool"),
        ("chain", "deadline_s", "30", "must be a number of seconds, got str"),
        ("chain", "provider_deadline_s", 0, "must be more than 0"),
        ("chain", "inquiry_interval_s", 86_401, "at most 86400 seconds"),
        ("chain", "breaker_cooldown_s", -0.0, "must be more than 0"),
        ("chain", "inquiry_attempts", 0, "must be between 1 and 100, got 0"),
        ("chain", "inquiry_attempts", 3.0, "must be an integer, got float"),
        ("chain", "breaker_threshold", 10**5000, "must be between 1 and 10000, got an integer of more than 20 digits"),
        ("chain", "in_flight_repeat", "x", "must be one of 'processing', 'wait', got 'x'"),
        ("chain", "in_flight_repeat", ["wait"], "must be one of 'processing', 'wait', got a value of type list"),
        ("chain", "providers", [], "must be a non-empty array of provider names"),
        ("chain", "providers", ["Card"], "'Card' is not a provider name"),
        ("chain", "providers", ["card", "card"], "'card' is listed twice"),
        ("host", "provider_threads", 0, "must be between 1 and 1024, got 0"),
        ("host", "provider_threads", "32", "must be an integer, got str"),
        ("host", "cashier_url", "javascript:alert(1)", "must be an http(s) URL without query or fragment"),
        ("host", "cashier_url", "https://pay.example.com/c?x=1", "must be an http(s) URL without query or fragment"),
        ("host", "cashier_url", "https:///nohost", "must be an http(s) URL without query or fragment"),
        ("host", "cashier_url", "https://pay.example.com:99999/c", "must be an http(s) URL without query or fragment"),
        ("host", "cashier_url", "https://pay.example.com/\x1b]0;x\x07", "printable characters"),
        ("host", "cashier_url", "https://user:pw@pay.example.com/c", "must not hold a user name or password"),
        ("host", "cashier_url", 5, "must be an http(s) URL"),
        ("host", "data_dir", "", "must be a non-empty path string"),
        ("host", "data_dir", "a\x00b", "must not contain a NUL character"),
        ("host", "data_dir", "a\ud800b", "holds a lone surrogate"),
        ("host", "data_dir", 5, "must be a non-empty path string"),
        ("ledger", "url", "mysql://x", 'must be "sqlite:///PATH", "postgresql://..." or "memory"'),
        ("ledger", "url", 5, 'must be "sqlite:///PATH"'),
        ("ledger", "url", "sqlite:///a\ud800b", "holds a lone surrogate"),
        ("ledger", "reconcile_on_start", 1, "must be true or false, got int"),
    ],
    ids=ids,
)
def test_a_setting_in_code_is_refused_as_in_the_file(table: str, key: str, value: object, reason: str) -> None:
    settings = {"chain": ChainSettings, "host": HostSettings, "ledger": LedgerSettings}[table]
    given: dict[str, object] = {key: value}
    if table == "chain" and key != "providers":
        given["providers"] = CHAIN["providers"]
    raw: dict[str, object] = {"chain": {**CHAIN, **given} if table == "chain" else CHAIN}
    if table != "chain":
        raw[table] = given
    in_code = refusal(lambda: settings(**given))
    in_file = refusal(lambda: Config.from_mapping(raw))
    assert in_code == in_file
    assert in_code[0] == f"{table}.{key}" or in_code[0].startswith(f"{table}.{key}[")
    assert reason in in_code[1]


def test_unsafe_chain_and_host_settings_in_code_are_refused() -> None:
    assert refusal(lambda: ChainSettings(("card",), deadline_s=-1))[0] == "chain.deadline_s"
    assert refusal(lambda: ChainSettings(("card",), inquiry_attempts=0))[0] == "chain.inquiry_attempts"
    assert refusal(lambda: ChainSettings(("card",), in_flight_repeat="x"))[0] == "chain.in_flight_repeat"
    assert refusal(lambda: HostSettings(provider_threads=0))[0] == "host.provider_threads"
    assert refusal(lambda: HostSettings(cashier_url="javascript:alert(1)"))[0] == "host.cashier_url"


def test_settings_given_in_code_are_normalised_as_the_files_are() -> None:
    chain = ChainSettings(["card"], deadline_s=5)  # type: ignore[arg-type]
    assert chain.providers == ("card",)
    assert isinstance(chain.deadline_s, float)
    assert HostSettings(data_dir="state").data_dir == Path("state")  # type: ignore[arg-type]
    settings = {"network": "test"}
    provider = ProviderSettings(5, settings)
    settings["network"] = "changed"
    assert (provider.deadline_s, dict(provider.settings)) == (5.0, {"network": "test"})


@pytest.mark.parametrize(
    ("build", "key", "reason"),
    [
        (lambda: ProviderSettings(deadline_s=math.nan), "deadline_s", "must be more than 0"),
        (lambda: ProviderSettings(settings=["x"]), "settings", "must be a table, got list"),  # type: ignore[arg-type]
        (lambda: ProviderSettings(settings={1: "x"}), "settings", "keys must be strings"),  # type: ignore[dict-item]
        (
            lambda: Config.from_mapping({"chain": CHAIN, "providers": {"card": {"deadline_s": -5}}}),
            "providers.card.deadline_s",
            "must be more than 0",
        ),
        (lambda: Config.from_mapping(None), "", "must be a table (a parsed TOML document), got NoneType"),  # type: ignore[arg-type]
        (lambda: Config.from_mapping([("chain", CHAIN)]), "", "must be a table"),  # type: ignore[arg-type]
        (lambda: Config(chain=CHAIN), "chain", "must be a ChainSettings, got dict"),  # type: ignore[arg-type]
        (lambda: Config(ChainSettings(("card",)), host=None), "host", "must be a HostSettings"),  # type: ignore[arg-type]
        (lambda: Config(ChainSettings(("card",)), ledger="memory"), "ledger", "must be a LedgerSettings"),  # type: ignore[arg-type]
        (
            lambda: Config(ChainSettings(("card",)), providers={"wallet": ProviderSettings()}),
            "providers.wallet",
            "is not in chain.providers",
        ),
        (
            lambda: Config(ChainSettings(("card",)), providers={"card": 5}),  # type: ignore[dict-item]
            "providers.card",
            "must be a ProviderSettings, got int",
        ),
        (lambda: Config(ChainSettings(("card",)), rules=[None]), "rules[0]", "must be a Rule, got NoneType"),  # type: ignore[arg-type]
        (lambda: Config(ChainSettings(("card",)), merchants={"shop-1": ""}), "merchants.shop-1.secret", "16 to 1024"),
        (lambda: Config(ChainSettings(("card",)), merchants={"shop 1": SECRET}), "merchants.shop 1", "merchant id"),
        (lambda: Config(ChainSettings(("card",)), merchants=[SECRET]), "merchants", "must be a mapping"),  # type: ignore[arg-type]
        (
            lambda: Config(ChainSettings(("card",)), merchants={"shop-1": "\ud800" * 16}),
            "merchants.shop-1.secret",
            "UTF-8",
        ),
        (
            lambda: Config.from_mapping({"chain": CHAIN, "merchants": {"shop-1": {"secret": "short"}}}),
            "merchants.shop-1.secret",
            "16 to 1024",
        ),
    ],
)
def test_settings_and_configurations_name_the_key(build: Any, key: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(reason)) as info:
        build()
    assert info.value.key == key


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"merchant_secrets": {"shop-1": ""}}, "merchants.shop-1.secret"),
        ({"merchant_secrets": {"shop-1": "short"}}, "merchants.shop-1.secret"),
        ({"merchant_secrets": "secret"}, "merchants"),
        ({"cashier_url": "javascript:alert(1)"}, "host.cashier_url"),
        ({"cashier_url": None}, "host.cashier_url"),
    ],
)
def test_a_ledger_takes_only_valid_secrets_and_cashier_urls(kwargs: dict[str, Any], key: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        MemoryLedger(**kwargs)
    assert info.value.key == key
    with pytest.raises(ConfigError) as info:
        SQLiteLedger(tmp_path / "ledger.sqlite3", **kwargs)
    assert info.value.key == key
    assert not (tmp_path / "ledger.sqlite3").exists()  # refused before the file is made


@pytest.mark.parametrize(
    ("expires_at", "reason"),
    [
        (math.nan, "got nan"),
        (math.inf, "got inf"),
        (-1.0, "got -1.0"),
        (10**5000, "got an integer of more than 20 digits"),
        (True, "got bool"),
        ("soon", "got str"),
    ],
    ids=ids,
)
def test_an_order_expires_at_a_real_moment(expires_at: object, reason: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)) as info:
        Order("T1", PaymentAmount("USD", "1"), "m", "p", expires_at=expires_at)  # type: ignore[arg-type]
    assert info.value.field == "expires_at"
    assert Order("T1", PaymentAmount("USD", "1"), "m", "p", expires_at=2_000_000_000).expires_at == 2_000_000_000


@pytest.mark.parametrize(
    ("code", "reason"),
    [(10**5000, "an integer of more than 20 digits is not one of"), (1004, "1004 is not one of"), (-1, "-1 is not")],
    ids=ids,
)
def test_a_result_error_code_is_echoed_bounded(code: int, reason: str) -> None:
    with pytest.raises(InvalidInput, match=re.escape(reason)) as info:
        ResultError(code, "x")  # type: ignore[arg-type]
    assert info.value.field == "result_error.error_code"


def test_an_order_status_names_the_field() -> None:
    with pytest.raises(InvalidInput, match="'lost' is not one of 'open', 'paid', 'closed'") as info:
        Order("T1", PaymentAmount("USD", "1"), "m", "p", status="lost")  # type: ignore[arg-type]
    assert info.value.field == "status"


def test_a_base_directory_no_file_call_could_take_is_refused_by_name() -> None:
    """A lone surrogate cannot be encoded for the file system: refused as ``base_dir``, not a UnicodeEncodeError
    from deep in ``pathlib``."""
    assert refusal(lambda: Config.from_mapping({"chain": CHAIN}, base_dir="\ud800")) == (  # type: ignore[arg-type]
        "base_dir",
        "must be a path this system can encode (it holds a lone surrogate)",
    )
