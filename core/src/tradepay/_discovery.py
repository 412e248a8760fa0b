"""Finding provider plugins: the entry-point group ``tradepay.providers``, loaded with stevedore.

Only the names the configuration lists are imported, in its order; an installed provider that is not
configured is never imported. A missing name, an import failure, or a name offered by two distributions stops
start-up with a message naming the provider and the distribution and saying how to fix it.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ._errors import DiscoveryError

__all__ = ["PROVIDER_GROUP", "InstalledProvider", "installed_providers", "load_provider_factories"]

PROVIDER_GROUP = "tradepay.providers"


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
            raise DiscoveryError(
                name,
                f"no installed distribution offers it in the entry-point group {PROVIDER_GROUP!r}; "
                f"install it (for example `pip install tradepay-{name}`) or remove it from chain.providers "
                "(`tradepay providers` lists what is installed)",
            )
        if len(by_name[name]) > 1 or len(_targets(by_name[name])) > 1:
            offered = ", ".join(_offered_by(name))
            raise DiscoveryError(name, f"is offered by more than one distribution ({offered}); uninstall all but one")
    return {name: by_name[name][0].plugin for name in names}


def _targets(extensions: list[Any]) -> set[str]:
    return {ext.entry_point.value for ext in extensions}
