"""``tradepay doctor``: check the configuration, the data directory, the providers and the ledger, and say
what is wrong and how to fix it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ._errors import ConfigError, TradePayError

__all__ = ["Check", "diagnose"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis: ``ok``, ``warn`` or ``fail``, what was checked, and what was found."""

    status: str
    what: str
    detail: str


def diagnose(config_path: str | None) -> list[Check]:
    """Every check, in order; later checks are skipped when what they need failed."""
    from ._config import find_config, load_config
    from ._discovery import installed_providers, not_installed
    from ._host import Host
    from ._migrations import SCHEMA_VERSION
    from ._reconcile import too_young_note, too_young_to_settle

    checks: list[Check] = []
    found = find_config(config_path)
    try:
        config = load_config(config_path)
    except ConfigError as exc:  # its message starts "configuration": the check's name says it already
        return [Check("fail", "configuration", f"{exc.key}: {exc.reason}" if exc.key else exc.reason)]
    except TradePayError as exc:
        return [Check("fail", "configuration", str(exc))]
    checks.append(Check("ok", "configuration", str(found)))

    data_dir = Path(config.host.data_dir)
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
        writable = os.access(data_dir, os.W_OK)
    except OSError as exc:
        writable, reason = False, str(exc)
    else:
        reason = "not writable"
    checks.append(
        Check("ok", "data directory", str(data_dir))
        if writable
        else Check("fail", "data directory", f"{data_dir}: {reason}")
    )

    installed = {p.name: p for p in installed_providers()}
    for name in config.chain.providers:
        p = installed.get(name)
        checks.append(
            Check("ok", f"provider {name}", f"{p.distribution}=={p.version}")
            if p
            else Check("fail", f"provider {name}", f"not installed: {not_installed(name)}")
        )
    if any(c.status == "fail" for c in checks):
        return checks

    try:
        host = Host.from_config(config, reconcile=False)
    except TradePayError as exc:
        return [*checks, Check("fail", "start-up", str(exc))]
    try:
        checks.append(Check("ok", "providers start", ", ".join(config.chain.providers)))
        database = getattr(host.ledger, "database", None)
        if database is not None:
            with database.read() as conn:
                version = database.schema_version(conn)
            where = getattr(host.ledger, "path", None) or f"{database.kind} schema {getattr(database, 'schema', '')}"
            checks.append(
                Check("ok", "ledger", f"{where}, schema version {version}")
                if version == SCHEMA_VERSION
                else Check("fail", "ledger", f"schema version {version}, expected {SCHEMA_VERSION}")
            )
        else:
            checks.append(Check("warn", "ledger", "in memory: payments are lost when the process ends"))
        stale = time.time() - 2 * config.chain.deadline_s
        unsettled = host.ledger.unsettled(updated_before=stale)
        young = too_young_to_settle(host)
        also = f"; {too_young_note(len(young), 2 * config.chain.deadline_s)}" if young else ""
        checks.append(
            Check("ok", "unsettled payments", f"none{also}")
            if not unsettled
            else Check("warn", "unsettled payments", f"{len(unsettled)}: run `tradepay reconcile`{also}")
        )
    finally:
        host.close()
    return checks


def render(checks: list[Check], echo: Callable[[str], object]) -> bool:
    """Print the checks; True when none failed."""
    for check in checks:
        echo(f"{check.status:<4}  {check.what}: {check.detail}")
    return all(c.status != "fail" for c in checks)
