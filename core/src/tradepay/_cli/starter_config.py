"""Files the command line writes: the starter configuration."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
from dataclasses import fields
from pathlib import Path

from .._config import ChainSettings, HostSettings, LedgerSettings, NotificationSettings

__all__ = ["starter_config", "write_config_file"]

#: What each written setting means, in a few words (``docs/configuration.md`` says it in full).
_MEANING = {
    "providers": "tried in this order",
    "deadline_s": "the whole payment",
    "provider_deadline_s": "each provider call, unless [providers.NAME] deadline_s says otherwise",
    "inquiry_attempts": "inquiries (and cancels) of an ambiguous attempt",
    "inquiry_interval_s": "pause between inquiries",
    "breaker_threshold": "technical failures in a row that open a provider's circuit",
    "breaker_cooldown_s": "how long an open circuit skips its provider",
    "in_flight_repeat": 'a repeat while the payment is in flight: 8000 at once, or "wait" for its answer',
    "data_dir": "where providers keep their files (relative to this file)",
    "provider_threads": "threads for sync providers; a hung call holds one until it returns",
    "cashier_url": "the base of this host's cashier URLs",
    "reconcile_on_start": "settle unsettled payments when a paying command starts",
    "enabled": "a delivery worker in each `tradepay serve` process",
    "first_retry_s": "the wait after a failed delivery, doubled after each further one",
    "max_retry_s": "the longest wait between deliveries",
    "attempts": "failed deliveries after which an event is dead",
    "connect_timeout_s": "each delivery's connect timeout",
    "write_timeout_s": "each delivery's write timeout",
    "read_timeout_s": "each delivery's read timeout",
    "pool_timeout_s": "each delivery's wait for a connection",
    "lease_s": "how long a worker holds its events: at least twice the timeouts' sum",
    "concurrency": "events a worker posts at once",
    "idle_s": "a worker's sleep when nothing is due",
    "max_response_bytes": "the most of a merchant's answer read",
}


def _value(value: object) -> str:
    """A default as TOML writes it (strings quoted, booleans lower-case, paths as strings)."""
    if isinstance(value, Path):
        value = str(value)
    if isinstance(value, tuple):
        value = list(value)
    return json.dumps(value)


def _setting(name: str, value: object) -> str:
    return f"{f'{name} = {_value(value)}':<32} # {_MEANING[name]}"


def starter_config(chain: list[str]) -> str:
    """A configuration naming ``chain``, with every host setting at its default (taken from the code, so the
    file and the defaults cannot drift), the settings without a default commented out, one
    ``[providers.NAME]`` table per provider, and commented examples of ``[merchants.ID]`` and ``[[rules]]``."""
    chain_defaults = ChainSettings(providers=tuple(chain))
    host, ledger, notifications = HostSettings(), LedgerSettings(), NotificationSettings()
    chain_lines = [_setting("providers", chain)] + [
        _setting(name, getattr(chain_defaults, name))
        for name in (
            "deadline_s",
            "provider_deadline_s",
            "inquiry_attempts",
            "inquiry_interval_s",
            "breaker_threshold",
            "breaker_cooldown_s",
            "in_flight_repeat",
        )
    ]
    host_lines = [_setting(name, getattr(host, name)) for name in ("data_dir", "provider_threads", "cashier_url")]
    notification_lines = [_setting(f.name, getattr(notifications, f.name)) for f in fields(NotificationSettings)]
    tables = "\n".join(
        f"[providers.{name}]\n# deadline_s = 10.0             # this provider's deadline; its own settings follow\n"
        for name in chain
    )
    newline = "\n"
    return f"""# tradepay configuration. Every key is documented in docs/configuration.md.

[chain]
{newline.join(chain_lines)}

[host]
{newline.join(host_lines)}

[ledger]
# url = "sqlite:///.tradepay/ledger.sqlite3"  # default: ledger.sqlite3 in host.data_dir; "postgresql://..."; "memory"
{_setting("reconcile_on_start", ledger.reconcile_on_start)}

# Merchants' notifications (docs/notifications.md): the retry schedule and each delivery's limits.
[notifications]
{newline.join(notification_lines)}

{tables}
# A merchant whose order strings (orderStr) are signed, with its HMAC-SHA256 secret (16 characters or more):
# [merchants.m-coffee]
# secret = "change-me-to-a-long-random-string"

# Rule overrides come before the shipped defaults (see `tradepay explain`); only decision is required:
# [[rules]]
# name = "{chain[-1]}-do-not-honor"
# provider = "{chain[-1]}"
# kind = "answer"
# result_code = "4000"
# error_code = 1002
# detail = "DO_NOT_HONOR"
# decision = "stop"
# answer_code = "6001"           # only with decision = "stop": answer as a user cancel
"""


def write_config_file(target: Path, text: str) -> None:
    """Put ``text`` at ``target`` whole or not at all: written to a new file beside it, then renamed over it.

    Whatever was at ``target`` is replaced, not written through: a symbolic link is replaced by the new file
    and its target is left as it was. The file gets the mode a new file gets (``0o666`` less the umask). On a
    failure (a full disk, a folder that cannot be written) ``target`` is unchanged and ``OSError`` is raised,
    naming ``target`` when the system named no file.
    """
    staged = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(staged, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            staged.unlink()
        if isinstance(exc, OSError) and exc.filename is None:
            exc.filename = os.fspath(target)  # a failed write() names no file: say which one
        raise
