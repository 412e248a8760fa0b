"""The host checks every plugin's hooks when it is built, as pluggy can: a hook that would never be called (a
misspelt name, a wrapper the host does not run, a provider hook on a plugin that is not a provider, a method
left unmarked) stops start-up with an error naming the plugin and the hook."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pluggy
import pytest

from tradepay import (
    Attempt,
    AttemptRecord,
    ConfigError,
    DiscoveryError,
    Host,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentType,
    ProviderStatus,
    ResultCode,
    hookimpl,
)
from tradepay.testing import ProviderConformance, ReferenceProvider, sample_context

#: A hook implementation marker of another project: tradepay's plugin manager does not see what it marks.
other_hookimpl = pluggy.HookimplMarker("another-project")


class Paying:
    @hookimpl
    def pay(self) -> PaymentResult:
        return PaymentResult(ResultCode.SUCCESS, "paid")


class MisspeltInquiry(Paying):
    @hookimpl
    def inquiry(self, attempt: Attempt) -> ProviderStatus:
        return ProviderStatus.NOT_PAID


class MisspeltObserver:
    @hookimpl
    def attempt_finshed(self, record: AttemptRecord) -> None:
        pass


def build(providers: dict[str, object], plugins: dict[str, object] | None = None) -> Host:
    return Host.from_providers(providers, plugins=plugins)


@pytest.fixture
def hosts() -> Iterator[list[Host]]:
    made: list[Host] = []
    yield made
    for host in made:
        host.close()


def test_a_misspelt_provider_hook_is_refused_naming_the_provider_and_the_hook() -> None:
    with pytest.raises(DiscoveryError) as info:
        build({"acme": MisspeltInquiry()})
    assert info.value.provider == "acme"
    assert str(info.value) == (
        "provider 'acme': `inquiry` is marked @tradepay.hookimpl but is not a tradepay hook (did you mean `inquire`?)"
    )


def test_a_misspelt_observer_hook_is_refused_naming_the_plugin_and_the_hook() -> None:
    with pytest.raises(ConfigError) as info:
        build({"acme": Paying()}, {"audit": MisspeltObserver()})
    assert info.value.key == "plugins.audit"
    assert info.value.reason == (
        "`attempt_finshed` is marked @tradepay.hookimpl but is not a tradepay hook (did you mean `attempt_finished`?)"
    )


def test_an_unknown_hook_without_a_close_name_lists_the_hooks() -> None:
    class Odd(Paying):
        @hookimpl
        def settle_everything(self) -> None:
            pass

    with pytest.raises(DiscoveryError, match=r"`settle_everything` is .* not a tradepay hook \(the hooks: "):
        build({"acme": Odd()})


def test_an_optional_hook_of_another_spec_is_allowed(hosts: list[Host]) -> None:
    # pluggy's own rule: optionalhook=True says "no specification may exist for this", on purpose.
    class Optional(Paying):
        @hookimpl(optionalhook=True)
        def loyalty_points_awarded(self) -> None:
            pass

    hosts.append(build({"acme": Optional()}))


@pytest.mark.parametrize("hook", ["attempt_started", "attempt_finished", "payment_finished"])
@pytest.mark.parametrize("option", ["wrapper", "hookwrapper"])
def test_an_observer_marked_as_a_wrapper_is_refused(hook: str, option: str) -> None:
    def wrap(**kwargs: Any) -> Iterator[None]:
        yield

    marked = hookimpl(wrapper=option == "wrapper", hookwrapper=option == "hookwrapper")(wrap)
    observer = type("Observer", (), {hook: marked})()
    with pytest.raises(ConfigError) as info:
        build({"acme": Paying()}, {"audit": observer})
    assert info.value.key == "plugins.audit"
    assert info.value.reason == (
        f"`{hook}` is marked {option}=True, but the host calls each observer on its own and runs no wrappers "
        f"around them: drop {option}=True"
    )


@pytest.mark.parametrize("option", ["wrapper", "hookwrapper"])
def test_a_provider_hook_marked_as_a_wrapper_is_refused(option: str) -> None:
    class Wrapped(Paying):
        @hookimpl(wrapper=option == "wrapper", hookwrapper=option == "hookwrapper")
        def inquire(self) -> Iterator[None]:
            yield

    with pytest.raises(DiscoveryError) as info:
        build({"acme": Wrapped()})
    assert info.value.reason == (
        f"`inquire` is marked {option}=True, but the chain calls a provider's own `inquire` directly and runs no "
        f"wrappers: drop {option}=True"
    )


def test_a_wrapper_of_a_hook_pluggy_calls_is_allowed(hosts: list[Host]) -> None:
    seen: list[str] = []

    class Tracing:
        @hookimpl(wrapper=True)
        def resolve_order(self) -> Iterator[None]:
            order = yield
            seen.append("resolved")
            return order

    host = build({"acme": Paying()}, {"tracing": Tracing()})
    hosts.append(host)
    order = host.ledger.create_order(PaymentAmount("USD", "100"), merchant_id="m1", payer_id="alice")
    assert host.chain.resolve(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice")) == order
    assert seen == ["resolved"]


@pytest.mark.parametrize("hook", ["pay", "inquire", "cancel", "capabilities"])
def test_a_provider_hook_on_a_plugin_that_is_not_a_provider_is_refused(hook: str) -> None:
    def implementation(**kwargs: Any) -> None:
        return None

    plugin = type("Audit", (), {hook: hookimpl(implementation)})()
    with pytest.raises(ConfigError) as info:
        build({"acme": Paying()}, {"audit": plugin})
    assert info.value.key == "plugins.audit"
    assert info.value.reason == (
        f"implements the provider hook `{hook}`, which the chain calls only on the providers of chain.providers: "
        "name it there to make it a provider"
    )


@pytest.mark.parametrize("hook", ["inquire", "cancel", "capabilities", "add_cli_commands"])
def test_a_provider_method_named_as_a_hook_but_not_marked_is_refused(hook: str) -> None:
    def unmarked(self: object) -> None:
        return None

    provider = type("Acme", (Paying,), {hook: unmarked})()
    with pytest.raises(DiscoveryError) as info:
        build({"acme": provider})
    assert info.value.reason == (
        f"has a method `{hook}` that is not marked @tradepay.hookimpl, so the host would never call it: mark it "
        "(or rename it)"
    )


def test_a_hook_marked_for_another_project_is_refused() -> None:
    class Foreign(Paying):
        @other_hookimpl
        def cancel(self, attempt: Attempt) -> bool:
            return True

    with pytest.raises(DiscoveryError, match=r"has a method `cancel` that is not marked @tradepay\.hookimpl"):
        build({"acme": Foreign()})


def test_an_observer_method_named_as_a_hook_but_not_marked_is_refused() -> None:
    class Forgetful:
        def payment_finished(self, payment: object) -> None:
            pass

    with pytest.raises(ConfigError) as info:
        build({"acme": Paying()}, {"receipts": Forgetful()})
    assert info.value.key == "plugins.receipts"
    assert "`payment_finished` that is not marked @tradepay.hookimpl" in info.value.reason


def test_a_subclass_overriding_a_hook_without_the_mark_is_refused() -> None:
    class Quiet(ReferenceProvider):
        def inquire(self, attempt: Attempt) -> ProviderStatus:  # the base's mark does not carry over
            return ProviderStatus.UNKNOWN

    with pytest.raises(DiscoveryError, match="has a method `inquire` that is not marked"):
        build({"acme": Quiet()})


def test_a_hook_implemented_under_another_name_with_specname_is_accepted(hosts: list[Host]) -> None:
    class Renamed(Paying):
        @hookimpl(specname="inquire")
        def ask_the_backend(self) -> ProviderStatus:
            return ProviderStatus.NOT_PAID

        def inquire(self) -> str:  # not a hook: the hook is ask_the_backend, and it is marked
            return "a helper of the same name"

    host = build({"acme": Renamed()})
    hosts.append(host)
    assert host.chain.handles[0].inquire is not None


def test_the_shipped_providers_pass_every_check(hosts: list[Host]) -> None:
    hosts.append(build({"a": ReferenceProvider(), "b": ReferenceProvider()}))


def test_the_conformance_suite_names_the_misspelt_hook() -> None:
    suite = ProviderConformance()
    with pytest.raises(DiscoveryError, match=r"`inquiry` is marked @tradepay.hookimpl but is not a tradepay hook"):
        suite.test_hooks_match_the_specification(MisspeltInquiry())


def test_an_order_book_plugin_is_checked_too() -> None:
    class Books:
        @hookimpl
        def resolve_orders(self) -> Order | None:
            return None

    with pytest.raises(ConfigError, match=r"plugins\.books: `resolve_orders` .* \(did you mean `resolve_order`\?\)"):
        build({"acme": Paying()}, {"books": Books()})


def test_a_plugin_pluggy_refuses_is_a_configuration_error_naming_it() -> None:
    class Nosy:
        @hookimpl
        def payment_finished(self, payment: object, secret: str) -> None:  # `secret` is no argument of the hook
            pass

    with pytest.raises(ConfigError) as info:
        build({"acme": Paying()}, {"nosy": Nosy()})
    assert info.value.key == "plugins.nosy"
    assert info.value.reason.startswith("cannot be registered: Plugin 'nosy' for hook 'payment_finished'")


# --- plugins added after the host was built ---------------------------------------------------------------------


class Finishes:
    def __init__(self) -> None:
        self.heard: list[str] = []

    @hookimpl
    def payment_finished(self, payment: Any) -> None:
        self.heard.append(payment.trade_no)


def test_a_plugin_added_after_the_host_was_built_hears_the_next_payments(hosts: list[Host]) -> None:
    from tradepay import PaymentService

    host = Host.from_providers({"reference": ReferenceProvider()})
    hosts.append(host)
    finishes = Finishes()
    host.add_plugin("finishes", finishes)
    order = host.ledger.create_order(PaymentAmount("USD", "100"), merchant_id="shop-1", payer_id="alice")
    with PaymentService(host) as service:
        paid = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
    assert paid.result_code is ResultCode.SUCCESS
    assert finishes.heard == [order.trade_no]
    assert host.pm.get_plugin("finishes") is finishes


@pytest.mark.parametrize(
    ("plugin", "says"),
    [
        (MisspeltObserver(), "`attempt_finshed` is marked @tradepay.hookimpl but is not a tradepay hook"),
        (Paying(), "implements the provider hook `pay`, which the chain calls only on the providers"),
    ],
)
def test_a_plugin_added_later_is_checked_and_left_out_when_refused(
    hosts: list[Host], plugin: object, says: str
) -> None:
    host = Host.from_providers({"reference": ReferenceProvider()})
    hosts.append(host)
    with pytest.raises(ConfigError) as info:
        host.add_plugin("late", plugin)
    assert info.value.key == "plugins.late"
    assert says in info.value.reason
    assert host.pm.get_plugin("late") is None
    host.add_plugin("late", Finishes())  # the name is free again


def test_a_name_taken_is_refused_when_added_later(hosts: list[Host]) -> None:
    host = Host.from_providers({"reference": ReferenceProvider()})
    hosts.append(host)
    host.add_plugin("finishes", Finishes())
    with pytest.raises(ConfigError) as info:
        host.add_plugin("finishes", Finishes())
    assert info.value.key == "plugins.finishes"
    assert info.value.reason.startswith("cannot be registered")
