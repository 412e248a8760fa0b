"""Finding provider plugins: the entry-point group ``tradepay.providers``, loaded with stevedore.

Only the names the configuration lists are imported, in its order; an installed provider that is not
configured is never imported. A missing name, an import failure, or a name offered by two distributions stops
start-up with a message naming the provider and the distribution and saying how to fix it.
"""

from __future__ import annotations

import difflib
import importlib.metadata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from ._spi.errors import DiscoveryError

__all__ = [
    "COMMAND_GROUP",
    "INSTALL_FROM_SOURCE",
    "PROVIDER_GROUP",
    "InstalledCommand",
    "InstalledProvider",
    "closest_name",
    "installed_commands",
    "installed_providers",
    "load_provider_factories",
    "not_installed",
]

PROVIDER_GROUP = "tradepay.providers"
#: Entry points naming the command groups a distribution's provider adds (``wallet = "tradepay_wallet:..."``:
#: the provider whose ``add_cli_commands`` adds ``tradepay wallet``), read without importing anything.
COMMAND_GROUP = "tradepay.commands"
#: How a provider distribution is installed: tradepay's providers are not published on a package index, so
#: ``pip install tradepay-NAME`` would fetch nothing (or somebody else's project).
INSTALL_FROM_SOURCE = (
    "install the distribution that offers it from its source folder or from a wheel built from it "
    "(tradepay's own: `pip install ./plugins/tradepay-wallet` in a tradepay checkout; they are not published "
    "on a package index)"
)


@dataclass(frozen=True, slots=True)
class InstalledProvider:
    """An installed provider as its distribution's metadata describes it (nothing imported)."""

    name: str
    target: str
    distribution: str | None
    version: str | None


def installed_providers() -> list[InstalledProvider]:
    """Every entry point in ``tradepay.providers``, read from metadata only, sorted by name."""
    found = []
    for ep in importlib.metadata.entry_points(group=PROVIDER_GROUP):
        dist = ep.dist
        found.append(
            InstalledProvider(
                ep.name, ep.value, dist.metadata["Name"] if dist else None, dist.version if dist else None
            )
        )
    return sorted(found, key=lambda p: (p.name, p.distribution or ""))


@dataclass(frozen=True, slots=True)
class InstalledCommand:
    """A command group that an installed distribution declares in ``tradepay.commands`` (nothing imported):
    ``name`` as typed (``wallet``), the ``provider`` that adds it, and the distribution's summary."""

    name: str
    provider: str
    distribution: str | None
    version: str | None
    summary: str


def installed_commands() -> list[InstalledCommand]:
    """Every command group the installed distributions declare, read from metadata only, sorted by name.

    The provider that adds a group is the distribution's provider entry point with the same target (the
    group's own name, when the distribution's metadata does not say)."""
    providers = {(p.distribution, p.target): p.name for p in installed_providers()}
    found = []
    for ep in importlib.metadata.entry_points(group=COMMAND_GROUP):
        dist = ep.dist
        distribution = dist.metadata["Name"] if dist else None
        found.append(
            InstalledCommand(
                ep.name,
                providers.get((distribution, ep.value), ep.name),
                distribution,
                dist.version if dist else None,
                (dist.metadata["Summary"] or "") if dist else "",
            )
        )
    return sorted(found, key=lambda c: (c.name, c.distribution or ""))


def closest_name(name: str, choices: Iterable[str]) -> str | None:
    """The one of ``choices`` closest to ``name`` (a misspelling of it: ``walet`` gives ``wallet``), or
    ``None`` when none is close."""
    matches = difflib.get_close_matches(name, sorted(set(choices)), n=1, cutoff=0.6)
    return matches[0] if matches else None


def not_installed(name: str, where: str = "chain.providers") -> str:
    """What to do about provider ``name``, which is not installed: use the installed name it probably
    misspells (``did you mean 'wallet'?``), or install a provider distribution, or remove it from ``where``.
    The installed names are listed either way."""
    installed = sorted({p.name for p in installed_providers()})
    listed = f"installed: {', '.join(installed)}" if installed else "no provider is installed"
    suggestion = closest_name(name, installed)
    if suggestion is not None:
        return f"did you mean {suggestion!r}? ({listed})"
    return f"{INSTALL_FROM_SOURCE}, or remove it from {where} ({listed})"


def _offered_by(name: str) -> list[str]:
    """The distributions that offer provider ``name`` (``dist==version``); used for error messages."""
    return [
        f"{p.distribution}=={p.version}" if p.distribution else p.target
        for p in installed_providers()
        if p.name == name
    ]


def load_provider_factories(names: Sequence[str]) -> dict[str, Callable[..., Any]]:
    """Import the providers ``names`` (and only those) and return their entry-point targets, in that order."""
    from stevedore import NamedExtensionManager  # imported here: `tradepay providers` must not pay for it

    failures: dict[str, BaseException] = {}
    missing: set[str] = set()

    def on_failure(_manager: object, ep: importlib.metadata.EntryPoint, exc: BaseException) -> None:
        failures.setdefault(ep.name, exc)

    manager: NamedExtensionManager[Any] = NamedExtensionManager(
        PROVIDER_GROUP,
        names=list(names),
        on_load_failure_callback=on_failure,
        on_missing_entrypoints_callback=missing.update,
    )
    by_name: dict[str, list[Any]] = {}
    for ext in manager.extensions:
        by_name.setdefault(ext.name, []).append(ext)
    for name in names:
        if name in failures:
            offered = ", ".join(_offered_by(name)) or "an unknown distribution"
            exc = failures[name]
            raise DiscoveryError(
                name,
                f"failed to import from {offered}: {type(exc).__name__}: {exc}; "
                "reinstall that distribution or remove the name from chain.providers",
            )
        if name in missing or name not in by_name:
            where = f"no installed distribution offers it in the entry-point group {PROVIDER_GROUP!r}"
            raise DiscoveryError(name, f"{where}: {not_installed(name)}")
        if len(by_name[name]) > 1 or len(_targets(by_name[name])) > 1:
            offered = ", ".join(_offered_by(name))
            raise DiscoveryError(name, f"is offered by more than one distribution ({offered}); uninstall all but one")
    return {name: by_name[name][0].plugin for name in names}


def _targets(extensions: list[Any]) -> set[str]:
    return {ext.entry_point.value for ext in extensions}
