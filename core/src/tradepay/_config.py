"""The one TOML configuration file: where it is found, what it may hold, and its defaults.

Every key has a documented default (``docs/configuration.md``); unknown keys and wrong types are errors that
name the key's dotted path. Provider tables (``[providers.NAME]``) are handed to the provider, less the
host's own keys, and the provider refuses what it does not know.
"""

from __future__ import annotations

import logging
import os
import re
import stat
import tempfile
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import urlsplit

from ._chain.rules import Rule, check_rules, parse_rules, within
from ._ledger.orders import check_trade_no
from ._ledger.orderstring import MIN_SECRET_LENGTH
from ._spi.errors import ConfigError, InvalidInput
from ._spi.fields import NAME_RE
from ._spi.numbers import count_refusal, seconds_refusal, shown_value

__all__ = [
    "CONFIG_ENV",
    "CONFIG_FILENAME",
    "ChainSettings",
    "Config",
    "HostSettings",
    "LedgerSettings",
    "NotificationSettings",
    "ProviderSettings",
    "ensure_data_dir",
    "check_cashier_url",
    "check_host_arguments",
    "check_log_level",
    "check_merchant_secrets",
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
#: The longest cashier URL, ledger URL and merchant secret accepted.
MAX_URL: Final = 2048
MAX_SECRET_LENGTH: Final = 1024
_IN_FLIGHT_REPEATS: Final = ("processing", "wait")

# Each settings class checks its own fields in __post_init__ (the one place for each rule): the TOML parser
# below only checks a document's shape (tables, unknown keys) and builds the classes, so a setting given in
# code is refused exactly as the same setting in the file, with a ConfigError naming the same key.


def _seconds(value: object, key: str) -> float:
    reason = seconds_refusal(value)
    if reason is not None:
        raise ConfigError(key, reason)
    return float(value)  # type: ignore[arg-type]  # seconds_refusal accepted an int or a float


def _count(value: object, key: str, low: int, high: int) -> int:
    reason = count_refusal(value, low, high)
    if reason is not None:
        raise ConfigError(key, reason)
    return value  # type: ignore[return-value]  # count_refusal accepted an int


def _choice(value: object, key: str, choices: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(key, f"must be one of {', '.join(repr(c) for c in choices)}, got {shown_value(value)}")
    return value


def _path(value: object, key: str) -> Path:
    if isinstance(value, os.PathLike):
        value = os.fspath(value)
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "must be a non-empty path string")
    if "\x00" in value:
        raise ConfigError(key, "must not contain a NUL character")
    if not _encodable(value):
        raise ConfigError(key, _SURROGATE)
    return Path(value)


_SURROGATE = "must be a path this system can encode (it holds a lone surrogate)"


def _encodable(path: str) -> bool:
    """Whether every file call can take ``path``: a lone surrogate fails there (``UnicodeEncodeError``)."""
    try:
        os.fsencode(path)
    except UnicodeEncodeError:
        return False
    return True


def check_cashier_url(value: object, key: str = "host.cashier_url") -> str:
    """``value`` if it can be the base of cashier URLs: ``http`` or ``https``, a host name, no user name or
    password, no query or fragment, printable and at most 2048 characters; else a :class:`ConfigError`."""
    reason = "must be an http(s) URL without query or fragment"
    if not isinstance(value, str) or len(value) > MAX_URL or not value.isprintable() or " " in value:
        raise ConfigError(key, f"{reason} (at most {MAX_URL} printable characters, no spaces)")
    try:
        parts = urlsplit(value)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ConfigError(key, f"{reason}: {value[:40]!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname or not port_ok or "?" in value or "#" in value:
        raise ConfigError(key, f"{reason}, for example 'https://pay.example.com/cashier'")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(key, "must not hold a user name or password")
    return value


def check_merchant_secrets(secrets: object) -> Mapping[str, str]:
    """``secrets`` (merchant id -> the secret that signs its order strings) frozen: every id a valid merchant
    id, every secret a string of 16 to 1024 characters that UTF-8 can encode; else a :class:`ConfigError`
    naming ``merchants.ID.secret``."""
    if not isinstance(secrets, Mapping):
        raise ConfigError("merchants", f"must be a mapping of merchant id to secret, got {type(secrets).__name__}")
    for merchant, secret in secrets.items():
        at = f"merchants.{merchant}" if isinstance(merchant, str) and len(merchant) <= 64 else "merchants"
        try:
            check_trade_no(merchant, at)
        except InvalidInput as exc:
            raise ConfigError(at, f"is not a merchant id: {exc.reason}") from None
        if not isinstance(secret, str) or not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
            raise ConfigError(
                f"{at}.secret", f"must be a string of {MIN_SECRET_LENGTH} to {MAX_SECRET_LENGTH} characters"
            )
        try:
            secret.encode()
        except UnicodeEncodeError:
            raise ConfigError(f"{at}.secret", "must be text UTF-8 can encode (no lone surrogates)") from None
    return MappingProxyType(dict(secrets))


_LOG_LEVELS: Final = ("debug", "info", "warning", "error", "critical")


def check_log_level(level: object) -> int:
    """The numeric logging level of ``level``: one of ``debug``, ``info``, ``warning``, ``error``,
    ``critical`` (any case) or its number (10, 20, 30, 40, 50); else a :class:`ConfigError` naming ``level``."""
    if isinstance(level, str) and level.lower() in _LOG_LEVELS:
        return int(getattr(logging, level.upper()))
    numbers = [int(getattr(logging, name.upper())) for name in _LOG_LEVELS]
    if isinstance(level, int) and not isinstance(level, bool) and level in numbers:
        return level
    names = ", ".join(repr(name) for name in _LOG_LEVELS)
    raise ConfigError("level", f"must be one of {names} or their numbers 10 to 50, got {shown_value(level)}")


@dataclass(frozen=True, slots=True)
class HostSettings:
    """``[host]``: where state lives and how many threads sync providers may hold.

    Every field is checked on construction as the configuration file's key is; a :class:`ConfigError` names
    ``host.FIELD``. ``data_dir`` may be given as a string and is kept as a :class:`~pathlib.Path`."""

    data_dir: Path = Path(".tradepay")
    provider_threads: int = 32
    cashier_url: str = "https://cashier.tradepay.invalid/pay"

    def __post_init__(self) -> None:
        object.__setattr__(self, "data_dir", _path(self.data_dir, "host.data_dir"))
        _count(self.provider_threads, "host.provider_threads", 1, 1024)
        check_cashier_url(self.cashier_url)


def check_provider_names(names: object) -> tuple[str, ...]:
    """``chain.providers`` as a tuple; refuses anything but a non-empty list (or tuple) of distinct provider
    names."""
    if not isinstance(names, list | tuple) or not names:
        raise ConfigError("chain.providers", 'must be a non-empty array of provider names, e.g. ["wallet", "card"]')
    for i, name in enumerate(names):
        if not isinstance(name, str) or not NAME_RE.fullmatch(name):
            shown = shown_value(name)
            raise ConfigError(f"chain.providers[{i}]", f"{shown} is not a provider name (lowercase, a-z0-9_-)")
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise ConfigError("chain.providers", f"{dup!r} is listed twice")
    return tuple(names)


@dataclass(frozen=True, slots=True)
class ChainSettings:
    """``[chain]``: the providers in order, and the deadlines and inquiry schedule of a payment.

    Every field is checked on construction as the configuration file's key is; a :class:`ConfigError` names
    ``chain.FIELD``. ``providers`` may be given as a list; durations as ints (kept as floats)."""

    providers: tuple[str, ...]
    deadline_s: float = 30.0
    provider_deadline_s: float = 10.0
    inquiry_attempts: int = 3
    inquiry_interval_s: float = 1.0
    breaker_threshold: int = 5
    breaker_cooldown_s: float = 30.0
    in_flight_repeat: str = "processing"

    def __post_init__(self) -> None:
        object.__setattr__(self, "providers", check_provider_names(self.providers))
        for name in ("deadline_s", "provider_deadline_s", "inquiry_interval_s", "breaker_cooldown_s"):
            object.__setattr__(self, name, _seconds(getattr(self, name), f"chain.{name}"))
        _count(self.inquiry_attempts, "chain.inquiry_attempts", 1, 100)
        _count(self.breaker_threshold, "chain.breaker_threshold", 1, 10_000)
        _choice(self.in_flight_repeat, "chain.in_flight_repeat", _IN_FLIGHT_REPEATS)


@dataclass(frozen=True, slots=True)
class LedgerSettings:
    """``[ledger]``: where payments are recorded, and whether unsettled ones are reconciled at start-up.

    ``url`` is ``sqlite:///PATH`` (relative paths are relative to the configuration file),
    ``postgresql://USER@HOST:PORT/DB`` (optionally ``?schema=NAME``; needs ``tradepay[postgres]``) or ``memory``
    (a ledger gone with the process); ``None`` means ``ledger.sqlite3`` in ``host.data_dir``. A
    :class:`ConfigError` names ``ledger.FIELD``."""

    url: str | None = None
    reconcile_on_start: bool = True

    def __post_init__(self) -> None:
        url = self.url
        if isinstance(url, str) and "\x00" in url:
            raise ConfigError("ledger.url", "must not contain a NUL character")
        if isinstance(url, str) and not _encodable(url):
            raise ConfigError("ledger.url", "must be text this system can encode (it holds a lone surrogate)")
        if url is not None and (
            not isinstance(url, str)
            or len(url) > MAX_URL
            or not (url == "memory" or url.startswith(("sqlite:///", "postgresql://")))
        ):
            raise ConfigError("ledger.url", 'must be "sqlite:///PATH", "postgresql://..." or "memory"')
        reconcile: object = self.reconcile_on_start
        if not isinstance(reconcile, bool):
            raise ConfigError("ledger.reconcile_on_start", f"must be true or false, got {type(reconcile).__name__}")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """``[providers.NAME]``: the host's ``deadline_s`` for it (``None``: the chain's) and its own settings.

    ``deadline_s`` is checked as ``chain.deadline_s`` is; ``settings`` must be a mapping with string keys and
    is kept frozen. A :class:`ConfigError` names the field (``deadline_s``), under ``providers.NAME`` when the
    settings belong to a :class:`Config`."""

    deadline_s: float | None = None
    settings: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        if self.deadline_s is not None:
            object.__setattr__(self, "deadline_s", _seconds(self.deadline_s, "deadline_s"))
        settings: object = self.settings
        if not isinstance(settings, Mapping):
            raise ConfigError("settings", f"must be a table, got {type(settings).__name__}")
        for key in settings:
            if not isinstance(key, str):
                raise ConfigError("settings", f"keys must be strings, got {type(key).__name__}")
        if not isinstance(self.settings, MappingProxyType):
            object.__setattr__(self, "settings", MappingProxyType(dict(self.settings)))


@dataclass(frozen=True, slots=True)
class NotificationSettings:
    """``[notifications]``: delivering merchants' notifications, their retry schedule and their timeouts.

    ``enabled``: whether ``tradepay serve`` runs a delivery worker in each server process. The schedule:
    attempt 1 at once, then waits of ``first_retry_s`` doubling up to ``max_retry_s`` (each jittered by up to
    20 %), and the event is dead after ``attempts`` failed deliveries. Each delivery's connect, write, read and
    pool timeouts bound it, and so does their sum as a whole; a worker leases ``concurrency`` events at a time
    for ``lease_s``, which must be at least twice that sum (a lease outlives the slowest batch). Every field is
    checked on construction; a :class:`ConfigError` names ``notifications.FIELD``."""

    enabled: bool = True
    first_retry_s: float = 60.0
    max_retry_s: float = 86_400.0
    attempts: int = 13
    connect_timeout_s: float = 3.0
    write_timeout_s: float = 5.0
    read_timeout_s: float = 5.0
    pool_timeout_s: float = 3.0
    lease_s: float = 60.0
    concurrency: int = 4
    idle_s: float = 1.0
    max_response_bytes: int = 64 * 1024

    def __post_init__(self) -> None:
        enabled: object = self.enabled
        if not isinstance(enabled, bool):
            raise ConfigError("notifications.enabled", f"must be true or false, got {type(enabled).__name__}")
        for name in (
            "first_retry_s",
            "max_retry_s",
            "connect_timeout_s",
            "write_timeout_s",
            "read_timeout_s",
            "pool_timeout_s",
            "lease_s",
            "idle_s",
        ):
            object.__setattr__(self, name, _seconds(getattr(self, name), f"notifications.{name}"))
        _count(self.attempts, "notifications.attempts", 1, 100)
        _count(self.concurrency, "notifications.concurrency", 1, 64)
        _count(self.max_response_bytes, "notifications.max_response_bytes", 1024, 16 * 1024 * 1024)
        if self.max_retry_s < self.first_retry_s:
            raise ConfigError("notifications.max_retry_s", f"must be at least first_retry_s ({self.first_retry_s:g})")
        if self.lease_s < 2 * self.delivery_deadline_s:
            raise ConfigError(
                "notifications.lease_s",
                f"must be at least twice the sum of the four timeouts ({2 * self.delivery_deadline_s:g} s),"
                f" got {self.lease_s:g}: a lease must outlive the slowest delivery",
            )

    @property
    def delivery_deadline_s(self) -> float:
        """The longest one delivery may take, end to end: the sum of its four timeouts."""
        return self.connect_timeout_s + self.write_timeout_s + self.read_timeout_s + self.pool_timeout_s


def _instance(value: object, kind: type, key: str, *, optional: bool = False) -> None:
    if not isinstance(value, kind) and not (optional and value is None):
        raise ConfigError(key, f"must be a {kind.__name__}, got {type(value).__name__}")


@dataclass(frozen=True, slots=True)
class Config:
    """A validated configuration. ``path`` is the file it came from, if any.

    Built by :meth:`from_mapping` from a TOML document, or in code from the settings classes: either way every
    part is checked (each settings class checks itself; the whole checks that ``providers`` and ``rules`` name
    only providers of ``chain.providers`` and that ``merchants`` hold valid ids and secrets) and a
    :class:`ConfigError` names the key."""

    chain: ChainSettings
    host: HostSettings = HostSettings()
    providers: Mapping[str, ProviderSettings] = field(default_factory=lambda: MappingProxyType({}))
    rules: tuple[Rule, ...] = ()
    path: Path | None = None
    ledger: LedgerSettings = LedgerSettings()
    merchants: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    """Merchant id -> the secret that signs its order strings (``[merchants.ID] secret``)."""
    notifications: NotificationSettings = NotificationSettings()

    def __post_init__(self) -> None:
        _instance(self.chain, ChainSettings, "chain")
        _instance(self.host, HostSettings, "host")
        _instance(self.ledger, LedgerSettings, "ledger")
        _instance(self.notifications, NotificationSettings, "notifications")
        if self.path is not None:
            object.__setattr__(self, "path", _path(self.path, "path"))
        providers = self.providers
        if not isinstance(providers, Mapping):
            raise ConfigError(
                "providers", f"must be a mapping of provider name to ProviderSettings, got {type(providers).__name__}"
            )
        for name, settings in providers.items():
            if name not in self.chain.providers:
                shown = shown_value(name)
                raise ConfigError(
                    f"providers.{name}" if isinstance(name, str) and len(name) <= 40 else "providers",
                    f"{shown} is not in chain.providers {list(self.chain.providers)}",
                )
            _instance(settings, ProviderSettings, f"providers.{name}")
        object.__setattr__(self, "providers", MappingProxyType(dict(providers)))
        object.__setattr__(self, "rules", check_rules(self.rules, providers=self.chain.providers))
        object.__setattr__(self, "merchants", check_merchant_secrets(self.merchants))

    def provider_settings(self, name: str) -> ProviderSettings:
        """The settings of provider ``name`` (empty when its table is absent)."""
        return self.providers.get(name, ProviderSettings())

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, base_dir: Path | None = None, path: Path | None = None) -> Config:
        """Validate a parsed TOML document. Relative paths are resolved against ``base_dir`` (default: cwd).

        Raises :class:`ConfigError` naming the key for anything the document may not hold (``raw`` itself must
        be a mapping: a TOML document is a table)."""
        if not isinstance(raw, Mapping):
            raise ConfigError("", f"must be a table (a parsed TOML document), got {type(raw).__name__}")
        base = Path.cwd() if base_dir is None else _path(base_dir, "base_dir")
        _only(raw, {"host", "chain", "providers", "rules", "ledger", "merchants", "notifications"}, "")
        chain = _chain(_table(raw, "chain", required=True))
        host = _host(_table(raw, "host"), base)
        providers = _providers(_table(raw, "providers"), chain)
        rules = parse_rules(raw.get("rules", []), providers=chain.providers)
        ledger = _ledger(_table(raw, "ledger"), base)
        merchants = _merchants(_table(raw, "merchants"))
        notifications = _notifications(_table(raw, "notifications"))
        return cls(chain, host, providers, rules, path, ledger, merchants, notifications)


def _protocol_methods(protocol: type) -> list[str]:
    return [name for name, value in vars(protocol).items() if callable(value) and not name.startswith("_")]


def check_host_arguments(
    providers: object,
    *,
    chain: object,
    host: object,
    ledger: object,
    plugins: object,
    deadlines: object,
    config: object,
) -> tuple[ChainSettings, HostSettings, Mapping[str, float]]:
    """What :class:`~tradepay.Host` is given, checked before anything is built: ``providers`` a mapping of
    provider names (``chain.providers``), ``chain``, ``host`` and ``config`` their settings classes or
    ``None``, ``ledger`` an object with every method of :class:`~tradepay.Ledger` or ``None``, ``plugins`` a
    mapping or ``None``, ``deadlines`` a mapping of provider name to seconds (as
    ``providers.NAME.deadline_s``). Returns the chain and host settings to use and the deadlines."""
    if not isinstance(providers, Mapping):
        kind = type(providers).__name__
        raise ConfigError("chain.providers", f"must be a mapping of provider name to provider, got {kind}")
    names = check_provider_names(list(providers))
    _instance(chain, ChainSettings, "chain", optional=True)
    _instance(host, HostSettings, "host", optional=True)
    _instance(config, Config, "config", optional=True)
    if ledger is not None:
        from ._ledger.memory import Ledger  # the ledgers import this module: imported here, when a host is built

        if not all(callable(getattr(ledger, name, None)) for name in _protocol_methods(Ledger)):
            raise ConfigError("ledger", f"must be a Ledger (see tradepay.Ledger), got {type(ledger).__name__}")
    if plugins is not None and not isinstance(plugins, Mapping):
        raise ConfigError("plugins", f"must be a mapping of plugin name to plugin, got {type(plugins).__name__}")
    given = {} if deadlines is None else deadlines
    if not isinstance(given, Mapping):
        raise ConfigError("deadlines", f"must be a mapping of provider name to seconds, got {type(given).__name__}")
    checked: dict[str, float] = {}
    for name, seconds in given.items():
        if name not in names:
            raise ConfigError("deadlines", f"{shown_value(name)} is not one of the providers {list(names)}")
        checked[name] = _seconds(seconds, f"providers.{name}.deadline_s")
    chain_settings = chain if isinstance(chain, ChainSettings) else ChainSettings(names)
    return chain_settings, host if isinstance(host, HostSettings) else HostSettings(), checked


def _only(table: Mapping[str, Any], known: set[str], at: str) -> None:
    for key in table:
        if key not in known:
            where = f"{at}.{key}" if at else key
            shown = where if isinstance(key, str) and len(key) <= 64 else at or "configuration"
            raise ConfigError(shown, f"unknown key (known: {', '.join(sorted(known))})")


def _table(raw: Mapping[str, Any], key: str, *, required: bool = False) -> Mapping[str, Any]:
    if key not in raw:
        if required:
            raise ConfigError(key, f"is required: add a [{key}] table")
        return {}
    value = raw[key]
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"must be a table, got {type(value).__name__}")
    return value


def _chain(table: Mapping[str, Any]) -> ChainSettings:
    _only(table, {f.name for f in fields(ChainSettings)}, "chain")
    return ChainSettings(**{"providers": None, **table})


def _host(table: Mapping[str, Any], base: Path) -> HostSettings:
    _only(table, {f.name for f in fields(HostSettings)}, "host")
    host = HostSettings(**table)
    return replace(host, data_dir=(base / host.data_dir).resolve())


def _providers(table: Mapping[str, Any], chain: ChainSettings) -> Mapping[str, ProviderSettings]:
    providers: dict[str, ProviderSettings] = {}
    for name, entry in table.items():
        if name not in chain.providers:
            raise ConfigError(f"providers.{name}", f"{name!r} is not in chain.providers {list(chain.providers)}")
        if not isinstance(entry, Mapping):
            raise ConfigError(f"providers.{name}", f"must be a table, got {type(entry).__name__}")
        own = {k: v for k, v in entry.items() if k not in HOST_PROVIDER_KEYS}
        with within(f"providers.{name}"):
            providers[name] = ProviderSettings(entry.get("deadline_s"), own)
    return providers


def _ledger(table: Mapping[str, Any], base: Path) -> LedgerSettings:
    _only(table, {f.name for f in fields(LedgerSettings)}, "ledger")
    ledger = LedgerSettings(**table)
    if ledger.url is not None and ledger.url.startswith("sqlite:///"):
        return replace(ledger, url="sqlite:///" + str((base / ledger.url.removeprefix("sqlite:///")).resolve()))
    return ledger


def _notifications(table: Mapping[str, Any]) -> NotificationSettings:
    _only(table, {f.name for f in fields(NotificationSettings)}, "notifications")
    return NotificationSettings(**table)


def _merchants(table: Mapping[str, Any]) -> dict[str, Any]:
    """``[merchants.ID]`` tables as merchant id -> secret (the ids and secrets are checked by :class:`Config`)."""
    secrets: dict[str, Any] = {}
    for merchant, entry in table.items():
        at = f"merchants.{merchant}"
        if not isinstance(entry, Mapping):
            raise ConfigError(at, f"must be a table, got {type(entry).__name__}")
        _only(entry, {"secret"}, at)
        secrets[merchant] = entry.get("secret")
    return secrets


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
