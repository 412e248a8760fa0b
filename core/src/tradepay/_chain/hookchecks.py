"""The start-up checks of every registered plugin's hooks: what pluggy accepts but the host would never call.

pluggy checks an implementation's arguments when it is registered, and (``check_pending``) that every marked
implementation names a declared hook. The host adds what only it knows: the hooks it calls itself (a provider's
own ``pay``, ``inquire``, ``cancel`` and ``capabilities``; each observer on its own) run no wrappers, provider
hooks are called only on providers, and a method named as a hook but left unmarked is never called. Each of
these would be dropped silently; here each stops start-up, naming the plugin and the hook.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Collection

import pluggy

from .._spi.errors import ConfigError, DiscoveryError, TradePayError
from . import hookspecs as _hookspecs

__all__ = ["OBSERVER_HOOKS", "PROVIDER_HOOKS", "check_hooks", "declared_hooks"]

#: The hooks the chain calls on one provider at a time, through the provider's own implementation.
PROVIDER_HOOKS = ("pay", "inquire", "cancel", "capabilities")
#: The broadcast hooks the chain calls implementation by implementation, so that one observer's error reaches
#: neither the payment nor the other observers.
OBSERVER_HOOKS = ("attempt_started", "attempt_finished", "payment_finished")


def declared_hooks() -> tuple[str, ...]:
    """The names of tradepay's hooks, as declared in :mod:`tradepay._chain.hookspecs`."""
    marker = f"{_hookspecs.PROJECT}_spec"
    return tuple(sorted(name for name, value in vars(_hookspecs).items() if hasattr(value, marker)))


def check_hooks(pm: pluggy.PluginManager, providers: Collection[str], order_book: str | None = None) -> None:
    """Refuse any registered plugin's hook that would never be called as its author meant.

    ``providers`` are the names registered as providers; ``order_book`` the host's own order book. Raises
    :class:`DiscoveryError` for a provider, :class:`ConfigError` (key ``plugins.NAME``, or ``ledger`` for the
    order book) for any other plugin: for a marked implementation of no tradepay hook (``pm.check_pending``), a
    provider hook on a plugin that is not a provider, a wrapper on a hook the host calls itself, and a method
    named as a hook the plugin does not implement but left without tradepay's mark.
    """

    def refuse(plugin: str, reason: str) -> TradePayError:
        if plugin in providers:
            return DiscoveryError(plugin, reason)
        return ConfigError("ledger" if plugin == order_book else f"plugins.{plugin}", reason)

    hooks = declared_hooks()
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        culprit, hook = _unknown_hook(pm, exc.plugin)
        close = difflib.get_close_matches(hook, hooks, n=1)
        hint = f"did you mean `{close[0]}`?" if close else f"the hooks: {', '.join(hooks)}"
        raise refuse(culprit, f"`{hook}` is marked @tradepay.hookimpl but is not a tradepay hook ({hint})") from None
    for hook in PROVIDER_HOOKS:
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.plugin_name not in providers:
                raise refuse(
                    impl.plugin_name,
                    f"implements the provider hook `{hook}`, which the chain calls only on the providers of "
                    "chain.providers: name it there to make it a provider",
                )
    for hook in (*PROVIDER_HOOKS, *OBSERVER_HOOKS):
        for impl in getattr(pm.hook, hook).get_hookimpls():
            if impl.wrapper or impl.hookwrapper:
                option = "wrapper" if impl.wrapper else "hookwrapper"
                runs = (
                    f"the chain calls a provider's own `{hook}` directly and runs no wrappers"
                    if hook in PROVIDER_HOOKS
                    else "the host calls each observer on its own and runs no wrappers around them"
                )
                raise refuse(impl.plugin_name, f"`{hook}` is marked {option}=True, but {runs}: drop {option}=True")
    for name, plugin in pm.list_name_plugin():
        # A provider without a marked `pay` is refused when it is bound, with its own message.
        expected = (
            [h for h in hooks if h != "pay"] if name in providers else [h for h in hooks if h not in PROVIDER_HOOKS]
        )
        for hook in expected:
            if _unmarked(pm, plugin, hook):
                raise refuse(
                    name,
                    f"has a method `{hook}` that is not marked @tradepay.hookimpl, so the host would never call it: "
                    "mark it (or rename it)",
                )


def _unknown_hook(pm: pluggy.PluginManager, plugin: object) -> tuple[str, str]:
    """The registered name of ``plugin`` and the first hook it implements that has no specification."""
    for hook, caller in vars(pm.hook).items():
        if hook.startswith("_") or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if impl.plugin is plugin and not impl.optionalhook:
                return impl.plugin_name, hook
    raise AssertionError("pluggy named a plugin without an unknown hook")  # check_pending found one


def _unmarked(pm: pluggy.PluginManager, plugin: object, hook: str) -> bool:
    """True when ``plugin`` has a routine named ``hook`` without tradepay's mark, and no implementation of the
    hook under another name (``specname``)."""
    if not inspect.isroutine(getattr(plugin, hook, None)) or pm.parse_hookimpl_opts(plugin, hook) is not None:
        return False
    return not any(impl.plugin is plugin for impl in getattr(pm.hook, hook).get_hookimpls())
