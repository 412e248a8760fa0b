"""``tradepay doctor``: check the configuration, the data directory, the providers and the ledger, and say
what is wrong and how to fix it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .._spi.errors import ConfigError, TradePayError
from .guard import describe

if TYPE_CHECKING:
    from .._host import Host

__all__ = ["Check", "diagnose"]


@dataclass(frozen=True, slots=True)
class Check:
    """One line of the diagnosis: ``ok``, ``warn`` or ``fail``, what was checked, and what was found."""

    status: str
    what: str
    detail: str


def diagnose(config_path: str | None) -> list[Check]:
    """Every check, in order; later checks are skipped when what they need failed. A broken environment (a
    file that is not a database, a full disk, a data directory that cannot be written) is a failed check
    naming the key or path, never an exception."""
    from .._config import ensure_data_dir, find_config, load_config
    from .._discovery import installed_providers, not_installed
    from .._host import Host

    checks: list[Check] = []
    try:
        found = find_config(config_path)
        config = load_config(config_path)
    except ConfigError as exc:  # its message starts "configuration": the check's name says it already
        return [Check("fail", "configuration", f"{exc.key}: {exc.reason}" if exc.key else exc.reason)]
    except TradePayError as exc:
        return [Check("fail", "configuration", str(exc))]
    checks.append(Check("ok", "configuration", str(found)))

    try:
        data_dir = ensure_data_dir(config)
    except ConfigError as exc:
        checks.append(Check("fail", "data directory", exc.reason))
    else:
        checks.append(Check("ok", "data directory", str(data_dir)))

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
    except Exception as exc:  # what stops the host from starting is the finding, whatever raised it
        return [*checks, Check("fail", "start-up", describe(exc).message)]
    try:
        checks.append(Check("ok", "providers start", ", ".join(config.chain.providers)))
        checks.append(_checked("ledger", lambda: _ledger(host)))
        checks.append(_checked("unsettled payments", lambda: _unsettled(host, config.chain.deadline_s)))
        refunds = _checked("unsettled refunds", lambda: _unsettled_refunds(host, config.chain.deadline_s))
        if refunds.status != "ok":  # said only when some refund awaits reconciliation
            checks.append(refunds)
    finally:
        host.close()
    return checks


def _checked(what: str, check: Callable[[], Check]) -> Check:
    try:
        return check()
    except Exception as exc:  # a database that fails mid-check (a full disk) is a finding too
        return Check("fail", what, describe(exc).message)


def _ledger(host: Host) -> Check:
    from .._ledger.migrations import SCHEMA_VERSION

    database = getattr(host.ledger, "database", None)
    if database is None:
        return Check("warn", "ledger", "in memory: payments are lost when the process ends")
    with database.read() as conn:
        version = database.schema_version(conn)
    where = getattr(host.ledger, "path", None) or f"{database.kind} schema {getattr(database, 'schema', '')}"
    if version != SCHEMA_VERSION:
        return Check("fail", "ledger", f"schema version {version}, expected {SCHEMA_VERSION}")
    return Check("ok", "ledger", f"{where}, schema version {version}")


def _unsettled(host: Host, deadline_s: float) -> Check:
    from .._ledger.reconcile import too_young_note, too_young_to_settle

    unsettled = host.ledger.unsettled(updated_before=time.time() - 2 * deadline_s)
    young = too_young_to_settle(host)
    also = f"; {too_young_note(len(young), 2 * deadline_s)}" if young else ""
    if not unsettled:
        return Check("ok", "unsettled payments", f"none{also}")
    return Check("warn", "unsettled payments", f"{len(unsettled)}: run `tradepay reconcile`{also}")


def _unsettled_refunds(host: Host, deadline_s: float) -> Check:
    unsettled = host.ledger.unsettled_refunds(updated_before=time.time() - 2 * deadline_s)
    if not unsettled:
        return Check("ok", "unsettled refunds", "none")
    return Check("warn", "unsettled refunds", f"{len(unsettled)}: run `tradepay reconcile`")


def render(checks: list[Check], echo: Callable[[str], object]) -> bool:
    """Print the checks; True when none failed."""
    for check in checks:
        echo(f"{check.status:<4}  {check.what}: {check.detail}")
    return all(c.status != "fail" for c in checks)
