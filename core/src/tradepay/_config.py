"""The one TOML configuration file: where it is found, what it may hold, and its defaults.

Every key has a documented default (``docs/configuration.md``); unknown keys and wrong types are errors that
name the key's dotted path. Provider tables (``[providers.NAME]``) are handed to the provider, less the
host's own keys, and the provider refuses what it does not know.
"""

from __future__ import annotations

import math
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ._errors import ConfigError, InvalidInput
from ._orders import check_trade_no
from ._orderstring import MIN_SECRET_LENGTH
from ._rules import Rule, parse_rules

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "ChainSettings",
    "Config",
    "HostSettings",
    "LedgerSettings",
    "ProviderSettings",
    "ensure_data_dir",
    "find_config",
    "load_config",
]

CONFIG_ENV = "TRADEPAY_CONFIG"
CONFIG_FILENAME = "tradepay.toml"
#: The largest configuration file read: a configuration is a few kilobytes; this is far more.
MAX_CONFIG_BYTES = 1024 * 1024
_NAME_RE = re.compile(r"[a-z][a-z0-9_-]{0,39}")
#: Keys of ``[providers.NAME]`` the host keeps for itself; everything else goes to the provider.
HOST_PROVIDER_KEYS = frozenset({"deadline_s"})


@dataclass(frozen=True, slots=True)
class HostSettings:
    """``[host]``: where state lives and how many threads sync providers may hold."""

    data_dir: Path = Path(".tradepay")
    provider_threads: int = 32
    cashier_url: str = "https://cashier.tradepay.invalid/pay"


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """``[chain]``: the providers in order, and the deadlines and inquiry schedule of a payment."""

    providers: tuple[str, ...]
    deadline_s: float = 30.0
    provider_deadline_s: float = 10.0
    inquiry_attempts: int = 3
    inquiry_interval_s: float = 1.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    in_flight_repeat: str = "processing"


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """``[ledger]``: where payments are recorded, and whether unsettled ones are reconciled at start-up.

    ``url`` is ``sqlite:///PATH`` (relative paths are relative to the configuration file),
    ``postgresql://USER@HOST:PORT/DB`` (optionally ``?schema=NAME``; needs ``tradepay[postgres]``) or ``memory``
    (a ledger gone with the process); ``None`` means ``ledger.sqlite3`` in ``host.data_dir``."""

    url: str | None = None
    reconcile_on_start: bool = True


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """``[providers.NAME]``: the host's ``deadline_s`` for it (``None``: the chain's) and its own settings."""

    deadline_s: float | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


@dataclass(frozen=True, slots=True)
class Config:
    """A validated configuration. ``path`` is the file it came from, if any."""

    chain: ChainSettings
    host: HostSettings = HostSettings()
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[Rule, ...] = ()
    path: Path | None = None
    ledger: LedgerSettings = LedgerSettings()
    merchants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Merchant id -> the secret that signs its order strings (``[merchants.ID] secret``)."""

    def provider_settings(self, name: str) -> ProviderSettings:
        """The settings of provider ``name`` (empty when its table is absent)."""
        return self.providers.get(name, ProviderSettings())

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, base_dir: Path | None = None, path: Path | None = None) -> Config:
        """Validate a parsed TOML document. Relative paths are resolved against ``base_dir`` (default: cwd)."""
        base = base_dir or Path.cwd()
        _only(raw, {"host", "chain", "providers", "rules", "ledger", "merchants"}, "")
        chain = _chain(_table(raw, "chain", required=True))
        host = _host(_table(raw, "host"), base)
        providers_raw = _table(raw, "providers")
        providers: dict[str, ProviderSettings] = {}
        for name, table in providers_raw.items():
            if name not in chain.providers:
                raise ConfigError(f"providers.{name}", f"{name!r} is not in chain.providers {list(chain.providers)}")
            if not isinstance(table, Mapping):
                raise ConfigError(f"providers.{name}", f"must be a table, got {type(table).__name__}")
            deadline = table.get("deadline_s")
            if deadline is not None:
                deadline = _seconds(deadline, f"providers.{name}.deadline_s")
            own = {k: v for k, v in table.items() if k not in HOST_PROVIDER_KEYS}
            providers[name] = ProviderSettings(deadline, MappingProxyType(own))
        rules = parse_rules(raw.get("rules", []), providers=chain.providers)
        ledger = _ledger(_table(raw, "ledger"), base)
        merchants = _merchants(_table(raw, "merchants"))
        return cls(chain, host, MappingProxyType(providers), rules, path, ledger, MappingProxyType(merchants))


def _only(table: Mapping[str, Any], known: set[str], at: str) -> None:
    for key in table:
        if key not in known:
            where = f"{at}.{key}" if at else key
            raise ConfigError(where, f"unknown key (known: {', '.join(sorted(known))})")


def _table(raw: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    if key not in raw:
        if required:
            raise ConfigError(key, f"is required: add a [{key}] table")
        return {}
    value = raw[key]
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must be a table, got {type(value).__name__}")
    return value


def _seconds(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"must be a number of seconds, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0 or value > 86_400:
        raise ConfigError(key, f"must be more than 0 and at most 86400 seconds, got {value}")
    return float(value)


def _count(value: object, key: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(key, f"must be an integer, got {type(value).__name__}")
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, got {value}")
    return value


def check_provider_names(names: object) -> tuple[str, ...]:
    """``chain.providers`` as a tuple; refuses anything but a non-empty list of distinct provider names."""
    if not isinstance(names, list) or not names:
        raise ConfigError("chain.providers", 'must be a non-empty array of provider names, e.g. ["wallet", "card"]')
    for i, name in enumerate(names):
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise ConfigError(f"chain.providers[{i}]", f"{name!r} is not a provider name (lowercase, a-z0-9_-)")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError("chain.providers", f"{dup!r} is listed twice")
    return tuple(names)


def _chain(table: Mapping[str, Any]) -> ChainSettings:
    _only(table, {f.name for f in fields(ChainSettings)}, "chain")
    names = check_provider_names(table.get("providers"))
    defaults = ChainSettings(providers=names)
    return ChainSettings(
        providers=names,
        deadline_s=_seconds(table.get("deadline_s", defaults.deadline_s), "chain.deadline_s"),
        provider_deadline_s=_seconds(
            table.get("provider_deadline_s", defaults.provider_deadline_s), "chain.provider_deadline_s"
        ),
        inquiry_attempts=_count(
            table.get("inquiry_attempts", defaults.inquiry_attempts), "chain.inquiry_attempts", 1, 100
        ),
        inquiry_interval_s=_seconds(
            table.get("inquiry_interval_s", defaults.inquiry_interval_s), "chain.inquiry_interval_s"
        ),
        breaker_threshold=_count(
            table.get("breaker_threshold", defaults.breaker_threshold), "chain.breaker_threshold", 1, 10_000
        ),
        breaker_cooldown_s=_seconds(
            table.get("breaker_cooldown_s", defaults.breaker_cooldown_s), "chain.breaker_cooldown_s"
        ),
        in_flight_repeat=_choice(
            table.get("in_flight_repeat", defaults.in_flight_repeat), "chain.in_flight_repeat", ("processing", "wait")
        ),
    )


def _ledger(table: Mapping[str, Any], base: Path) -> LedgerSettings:
    _only(table, {"url", "reconcile_on_start"}, "ledger")
    url = table.get("url")
    if url is not None:
        if not isinstance(url, str) or not (url == "memory" or url.startswith(("sqlite:///", "postgresql://"))):
            raise ConfigError("ledger.url", 'must be "sqlite:///PATH", "postgresql://..." or "memory"')
        if "\0" in url:
            raise ConfigError("ledger.url", "must not contain a NUL character")
        if url.startswith("sqlite:///"):
            url = "sqlite:///" + str((base / url.removeprefix("sqlite:///")).resolve())
    reconcile = table.get("reconcile_on_start", True)
    if not isinstance(reconcile, bool):
        raise ConfigError("ledger.reconcile_on_start", f"must be true or false, got {type(reconcile).__name__}")
    return LedgerSettings(url, reconcile)


def _merchants(table: Mapping[str, Any]) -> dict[str, str]:
    secrets: dict[str, str] = {}
    for merchant, entry in table.items():
        at = f"merchants.{merchant}"
        try:
            check_trade_no(merchant, at)
        except InvalidInput as exc:
            raise ConfigError(at, f"is not a merchant id: {exc.reason}") from None
        if not isinstance(entry, Mapping):
            raise ConfigError(at, f"must be a table, got {type(entry).__name__}")
        _only(entry, {"secret"}, at)
        secret = entry.get("secret")
        if not isinstance(secret, str) or len(secret) < MIN_SECRET_LENGTH:
            raise ConfigError(f"{at}.secret", f"must be a string of at least {MIN_SECRET_LENGTH} characters")
        secrets[merchant] = secret
    return secrets


def _choice(value: object, key: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(repr(c) for c in choices)}, got {value!r}")
    return str(value)


def _host(table: Mapping[str, Any], base: Path) -> HostSettings:
    _only(table, {"data_dir", "provider_threads", "cashier_url"}, "host")
    defaults = HostSettings()
    data_dir = table.get("data_dir", str(defaults.data_dir))
    if not isinstance(data_dir, str) or not data_dir:
        raise ConfigError("host.data_dir", "must be a non-empty path string")
    if "\0" in data_dir:
        raise ConfigError("host.data_dir", "must not contain a NUL character")
    cashier = table.get("cashier_url", defaults.cashier_url)
    if not isinstance(cashier, str) or not re.fullmatch(r"https?://[^\s?#]+", cashier):
        raise ConfigError("host.cashier_url", "must be an http(s) URL without query or fragment")
    return HostSettings(
        data_dir=(base / data_dir).resolve(),
        provider_threads=_count(
            table.get("provider_threads", defaults.provider_threads), "host.provider_threads", 1, 1024
        ),
        cashier_url=cashier,
    )


def find_config(explicit: str | os.PathLike[str] | None = None) -> Path | None:
    """The configuration file to use: ``explicit``, else ``$TRADEPAY_CONFIG``, else ``./tradepay.toml`` if it
    exists; ``None`` when there is none. Raises :class:`ConfigError` when ``explicit`` is not a path."""
    if explicit is not None:
        if not isinstance(explicit, str | os.PathLike):
            raise ConfigError("", f"the path to load must be a str or os.PathLike, got {type(explicit).__name__}")
        return Path(explicit)
    env = os.environ.get(CONFIG_ENV)
    if env:
        return Path(env)
    local = Path.cwd() / CONFIG_FILENAME
    return local if local.is_file() else None


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Find, read and validate the configuration (see :func:`find_config`).

    Raises :class:`ConfigError` when there is none (saying how to make one), when ``path`` is not a path, when
    the file is not a regular file, is larger than :data:`MAX_CONFIG_BYTES`, is unreadable, is not UTF-8 or not
    TOML, or when a key is unknown or of the wrong type.
    """
    found = find_config(path)
    if found is None:
        raise ConfigError(
            "",
            f"no configuration found: run `tradepay init` to write ./{CONFIG_FILENAME}, "
            f"or name one with --config or ${CONFIG_ENV}",
        )
    text = _read_config_file(found)
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("", f"{found}: not valid TOML: {exc}") from None
    except RecursionError:
        raise ConfigError("", f"{found}: not valid TOML: arrays or tables nested too deeply") from None
    return Config.from_mapping(raw, base_dir=found.resolve().parent, path=found)


def _read_config_file(path: Path) -> str:
    """The text of the configuration file at ``path``: a regular file (a FIFO or a device could block or never
    end), at most :data:`MAX_CONFIG_BYTES` long, in UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; the descriptor's own type is checked next.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise ConfigError("", f"{path}: no such file (run `tradepay init` to write one)") from None
    except (OSError, ValueError) as exc:
        raise ConfigError("", f"{path}: cannot be read: {_os_reason(exc)}") from None
    try:
        kind = _file_kind(os.fstat(fd).st_mode)
        if kind != "regular file":
            raise ConfigError("", f"{path}: is not a regular file (it is a {kind})")
        with os.fdopen(fd, "rb", closefd=False) as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError("", f"{path}: cannot be read: {_os_reason(exc)}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError("", f"{path}: is larger than {MAX_CONFIG_BYTES} bytes, the most a configuration may be")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError("", f"{path}: is not UTF-8 text (byte {exc.start} cannot be decoded)") from None


def _file_kind(mode: int) -> str:
    kinds = {
        stat.S_ISREG: "regular file",
        stat.S_ISDIR: "directory",
        stat.S_ISFIFO: "FIFO",
        stat.S_ISCHR: "character device",
        stat.S_ISBLK: "block device",
        stat.S_ISSOCK: "socket",
    }
    return next((kind for test, kind in kinds.items() if test(mode)), "special file")


def _os_reason(exc: OSError | ValueError) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc)


def ensure_data_dir(config: Config) -> Path:
    """``host.data_dir`` of ``config``, created if it is missing. Raises :class:`ConfigError` naming
    ``host.data_dir`` and the path when it is not a directory, cannot be created, or cannot be written to."""
    data_dir = Path(config.host.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError("host.data_dir", f"{data_dir}: is not a directory") from None
    except (OSError, ValueError) as exc:
        raise ConfigError("host.data_dir", f"{data_dir}: cannot be created: {_os_reason(exc)}") from None
    try:
        # A real write, not os.access(): permission bits say nothing to root, nor of a read-only file system.
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        raise ConfigError("host.data_dir", f"{data_dir}: cannot be written to: {_os_reason(exc)}") from None
    return data_dir
