"""The ``tradepay`` command line (click). Built-in commands are listed here; configured providers add theirs
through the ``add_cli_commands`` hook, loaded only when such a command is asked for."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .. import __version__
from .._spi.errors import ConfigError, TradePayError
from .guard import describe, interrupted_payment, run_guarded
from .input import AMOUNT_OPTIONS, InputError, typed_as
from .render import echo_json, echo_text, printable

__all__ = ["cli", "main"]

_BUILTIN_HELP = "Built-in commands"


class _State:
    """Per-invocation state: the configuration path and, once loaded, the host."""

    def __init__(self, config: str | None) -> None:
        self.config_path = config
        self._host: Any = None

    @property
    def config_file(self) -> Path | None:
        """The file the host's configuration came from, once the host is built."""
        return self._host.config.path if self._host is not None and self._host.config is not None else None

    def load_config(self) -> Any:
        from .._config import load_config

        return load_config(self.config_path)

    def host(self, *, reconcile: bool | None = False, plugins: dict[str, object] | None = None) -> Any:
        """The host of the configuration, built once. Commands that only read pass ``reconcile=False``
        (the default); commands that pay pass ``None`` so ``ledger.reconcile_on_start`` decides. ``plugins``
        (observers) are registered when the host is built here."""
        if self._host is None:
            from .._host import Host

            self._host = Host.from_config(self.load_config(), reconcile=reconcile, plugins=plugins)
        return self._host

    def close(self) -> None:
        if self._host is not None:
            self._host.close()
            self._host = None


class TradepayGroup(click.Group):
    """A group whose extra commands come from the configured providers, loaded on demand."""

    _plugins_loaded = False

    def _load_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        # click resolves the sub-command before the group callback runs: ctx.obj is not set yet, but the
        # group's own options are parsed (ctx.params). The callback reuses this state and its host.
        if not isinstance(ctx.obj, _State):
            ctx.obj = _State(ctx.params.get("config"))
        host = ctx.obj.host()
        host.pm.hook.add_cli_commands(cli=self)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            return command
        failure: str | None = None
        if not self._plugins_loaded:
            try:
                self._load_plugin_commands(ctx)
            except TradePayError as exc:
                failure = describe(exc).message
            command = super().get_command(ctx, cmd_name)
            if command is not None:
                return command
        text = printable(self._no_such_command(ctx, cmd_name, failure))
        from .._discovery import installed_commands

        if failure is not None and cmd_name in {c.name for c in installed_commands()}:
            # An installed provider's group whose host cannot start: the environment failed (status 1).
            raise click.ClickException(text)
        raise click.UsageError(text)

    def _no_such_command(self, ctx: click.Context, name: str, failure: str | None) -> str:
        """Why ``name`` is no command here, and what to do: a provider's group that needs configuring, or the
        closest command (a misspelling)."""
        from .._discovery import closest_name, installed_commands

        declared = {c.name: c for c in installed_commands()}
        if name in declared:
            group = declared[name]
            source = (
                f"`tradepay {name}` comes from the provider {group.provider!r} ({group.distribution} {group.version})"
            )
            if failure is not None:
                return f"{source}, which needs a configuration that lists it in chain.providers: {failure}"
            where = f" of {ctx.obj.config_file}" if isinstance(ctx.obj, _State) and ctx.obj.config_file else ""
            return f"{source}, which is not configured: add {group.provider!r} to chain.providers{where}"
        text = f"no such command {name!r}"
        suggestion = closest_name(name, [*self.commands, *declared])
        if suggestion is not None:
            text += f"; did you mean {suggestion!r}?"
        if failure is not None:
            text += f" (plugin commands unavailable: {failure})"
        return text

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The built-in commands, then the command groups the installed providers declare in their metadata
        (nothing is imported: each works once its provider is in ``chain.providers``)."""
        super().format_commands(ctx, formatter)
        from .._discovery import installed_commands

        declared = [c for c in installed_commands() if c.name not in self.commands]
        if not declared:
            return
        rows = [(c.name, f"{c.summary} [{c.distribution} {c.version}]") for c in declared]
        with formatter.section("Provider commands (each needs its provider in chain.providers)"):
            formatter.write_dl(rows)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line. Standalone (the console script, click's test runner), every failure ends as
        one ``Error:`` line with the exit status of :mod:`tradepay._cli.guard`, never a traceback."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        run = click.Group.main  # the standard main, returning (or raising) instead of exiting
        sys.exit(run_guarded(lambda: run(self, argv, prog_name, complete_var, standalone_mode=False, **extra), argv))


@click.group(cls=TradepayGroup)
@click.version_option(__version__, prog_name="tradepay")
@click.option(
    "--config", "config", metavar="PATH", help="Configuration file (default: $TRADEPAY_CONFIG, ./tradepay.toml)."
)
@click.option(
    "--log-level",
    default="warning",
    show_default=True,
    type=click.Choice(["debug", "info", "warning", "error"]),
    help="Log events at this level and above.",
)
@click.option(
    "--log-format",
    default="console",
    show_default=True,
    type=click.Choice(["console", "json"]),
    help="Render log events as console text or JSON lines (to standard error).",
)
@click.pass_context
def cli(ctx: click.Context, config: str | None, log_level: str, log_format: str) -> None:
    """tradepay: pay mini program orders through a chain of provider plugins."""
    from .._logging import configure_logging

    configure_logging(fmt=log_format, level=log_level)  # type: ignore[arg-type]
    ctx.call_on_close(lambda: ctx.obj.close() if isinstance(ctx.obj, _State) else None)
    if not isinstance(ctx.obj, _State):  # set already when plugin commands were looked up
        ctx.obj = _State(config)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def providers(state: _State, as_json: bool) -> None:
    """List installed providers from their metadata (nothing is imported) and whether they are configured."""
    from .._config import find_config
    from .._discovery import INSTALL_FROM_SOURCE, installed_providers

    configured: tuple[str, ...] | None = None
    if find_config(state.config_path) is not None:
        # A configuration that exists (or is named) but cannot be used is an error, not "no configuration".
        configured = state.load_config().chain.providers
    rows = [
        {
            "name": p.name,
            "distribution": p.distribution,
            "version": p.version,
            "target": p.target,
            "configured": None if configured is None else p.name in configured,
            "position": configured.index(p.name) + 1 if configured and p.name in configured else None,
        }
        for p in installed_providers()
    ]
    if as_json:
        echo_json(rows)
        return
    if not rows:
        echo_text(f"no providers installed: {INSTALL_FROM_SOURCE.replace('the distribution that offers it', 'one')}")
        return
    for row in rows:
        mark = (
            "-"
            if row["configured"] is None
            else (f"chain #{row['position']}" if row["configured"] else "not configured")
        )
        release = f"{row['distribution']}=={row['version']}"
        echo_text(f"{row['name']!s:<12} {release:<32} {mark}")
    if configured is None:
        echo_text("(no configuration found: `tradepay init` writes one)")


def _init_chain(names: str | None) -> list[str]:
    """The chain ``init`` writes: the names given (each a valid, installed provider name), else every
    installed provider but ``reference`` (``reference`` alone when there is no other)."""
    from .._config import check_provider_names
    from .._discovery import installed_providers, not_installed

    installed = sorted({p.name for p in installed_providers()})
    if names is None:
        return [n for n in installed if n != "reference"] or ["reference"]
    chain = [n.strip() for n in names.split(",") if n.strip()]
    if not chain:
        raise click.BadParameter("name at least one provider, for example wallet,card", param_hint="'--providers'")
    try:
        check_provider_names(chain)
    except ConfigError as exc:
        raise click.BadParameter(printable(exc.reason), param_hint="'--providers'") from None
    for name in chain:
        if name not in installed:
            hint = not_installed(name, where="--providers")
            raise click.BadParameter(printable(f"{name!r} is not installed: {hint}"), param_hint="'--providers'")
    return chain


@cli.command()
@click.option("--path", "path", default="tradepay.toml", show_default=True, type=click.Path(dir_okay=False))
@click.option(
    "--providers",
    "names",
    help="Comma-separated chain of installed providers (default: every installed provider but reference).",
)
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, names: str | None, force: bool) -> None:
    """Write a starter configuration file with every setting and its default."""
    from .starter_config import starter_config, write_config_file

    target = Path(path)
    if os.path.lexists(target) and not force:  # a dangling symbolic link is something to overwrite too
        raise click.ClickException(f"{target} exists: use --force to overwrite it")
    chain = _init_chain(names)
    try:
        write_config_file(target, starter_config(chain))
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot be written: {exc.strerror or exc}") from None
    echo_text(f"wrote {target} with chain {chain}")


@cli.command()
@click.option("--amount", required=True, help="Amount in the currency's minor unit, e.g. 100 for USD 1.00.")
@click.option("--currency", required=True, help="ISO 4217 code, e.g. USD.")
@click.option(
    "--type",
    "payment_type",
    default="ORDER_ID",
    show_default=True,
    type=click.Choice(["ORDER_ID", "PAYMENT_ID", "CASHIER_URL", "ORDER_STRING"]),
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def explain(state: _State, amount: str, currency: str, payment_type: str, as_json: bool) -> None:
    """Show, without paying, which providers would be tried or skipped and which rule meets each answer."""
    from .._spi.models import PaymentAmount
    from .explain import explain_chain

    with typed_as(AMOUNT_OPTIONS):
        PaymentAmount(currency, amount)  # the options are checked before the providers are started
    report = explain_chain(state.host(), amount, currency, payment_type)
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_text(report.render())


class _Refused(click.ClickException):
    """A refused request: nothing was done (exit status 2)."""

    exit_code = 2


def existing_order_error(order: Any) -> click.ClickException:
    """The refusal of a new order whose ``--trade-no`` is taken: what that order is and what to do."""
    from .timeline import order_state

    status = order_state(order)
    if status == "open":
        then = f"pay it with `tradepay pay --trade-no {order.trade_no}`, or give another --trade-no"
    elif status == "paid":
        then = f"`tradepay payments show {order.trade_no}` shows how; give another --trade-no for a new order"
    else:
        then = "it can no longer be paid; give another --trade-no for a new order"
    return _Refused(
        printable(
            f"order {order.trade_no} exists already ({order.amount} from {order.payer_id} to {order.merchant_id}, "
            f"{status}): {then}"
        )
    )


def _check_pay_options(trade_no: str | None, amount: str | None, currency: str | None, payer: str | None) -> None:
    """Refuse what ``pay`` can tell is wrong before any provider is started: a missing option, an empty or
    malformed trade number or payer, a bad amount or currency (each named as typed)."""
    from .._ledger.orders import check_trade_no
    from .._spi.models import PaymentAmount

    if amount is None and trade_no is None:
        raise click.UsageError("give --trade-no of an existing order, or --amount, --currency and --payer")
    if amount is not None and (currency is None or payer is None):
        raise click.UsageError("a new order needs --amount, --currency and --payer")
    with typed_as(AMOUNT_OPTIONS):
        if trade_no is not None:
            check_trade_no(trade_no, "trade_no")
        if payer is not None:
            check_trade_no(payer, "payer_id")
        if amount is not None and currency is not None:
            PaymentAmount(currency, amount)


def _order_to_pay(
    host: Any, trade_no: str | None, amount: str | None, currency: str | None, payer: str | None, merchant: str
) -> Any:
    """The order ``pay`` pays: the existing one ``--trade-no`` names (``payer``, if given, must be its
    payer), or a new one made from the options (``--trade-no``, if given, must be free)."""
    from .._spi.models import PaymentAmount

    if amount is None or currency is None or payer is None:
        assert trade_no is not None  # _check_pay_options
        order = host.ledger.get_order(trade_no)
        if order is None:
            raise click.BadParameter(f"no order {trade_no!r}", param_hint="'--trade-no'")
        if payer is not None and payer != order.payer_id:
            raise InputError("--payer", f"{payer!r} is not the payer of order {trade_no} ({order.payer_id} is)")
        return order
    existing = host.ledger.get_order(trade_no) if trade_no is not None else None
    if existing is not None:
        raise existing_order_error(existing)
    with typed_as(AMOUNT_OPTIONS):
        return host.ledger.create_order(
            PaymentAmount(currency, amount), merchant_id=merchant, payer_id=payer, trade_no=trade_no
        )


@cli.command()
@click.option("--trade-no", help="Pay this existing order; or, with --amount, the trade number of the new order.")
@click.option("--amount", help="Create an order of this amount in the minor unit (100 for USD 1.00) and pay it.")
@click.option("--currency", help="ISO 4217 code of a new order, e.g. USD.")
@click.option("--payer", help="The paying user's id (of a new order; checked against an existing one).")
@click.option("--merchant", default="merchant-1", show_default=True, help="The merchant of a new order.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def pay(
    state: _State,
    trade_no: str | None,
    amount: str | None,
    currency: str | None,
    payer: str | None,
    merchant: str,
    as_json: bool,
) -> None:
    """Pay an order through the configured chain (an existing one, or a new one made from --amount,
    --currency and --payer); print the payment id, the attempts and the result. Exits 1 unless the result is
    9000. On a terminal, a line on standard error shows which provider a slow payment waits on."""
    from .._service import PaymentService
    from .._spi.models import APIContext, PaymentRequest, PaymentType
    from .timeline import payment_to_dict, render_payment
    from .waiting import stderr_is_terminal, waiting_line

    _check_pay_options(trade_no, amount, currency, payer)
    with waiting_line(enabled=not as_json and stderr_is_terminal()) as observers:
        host = state.host(reconcile=None, plugins=observers)
        order = _order_to_pay(host, trade_no, amount, currency, payer, merchant)
        # The order's current payment, if any: a repeat is answered from it, and no provider is called.
        before = host.ledger.payments(trade_no=order.trade_no, limit=1)
        service = PaymentService(host)
        try:
            context = APIContext("cli", extended_info={"userId": payer or order.payer_id})
            result = service.pay_blocking(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), context)
            payment = host.ledger.get_payment(result.extended_info.get("paymentId", ""))
        except KeyboardInterrupt:
            service.close()  # records the cut-off payment as needing reconciliation before it is looked up
            raise click.ClickException(interrupted_payment(host.ledger, order.trade_no)) from None
        finally:
            service.close()
    stored = payment is not None and any(p.payment_id == payment.payment_id for p in before)
    if as_json:
        echo_json(
            {
                "result": result.to_dict(),
                "payment": payment_to_dict(payment) if payment else None,
                "stored": stored,
            }
        )
    else:
        echo_text(render_payment(order, result, payment, stored=stored))
    if result.result_code.value != "9000":
        sys.exit(1)


@cli.command()
@click.option(
    "--workspace",
    type=click.Path(file_okay=False),
    help="Where the demo keeps its files (default: a new temporary folder, removed afterwards).",
)
def demo(workspace: str | None) -> None:
    """Run the demo stories through a real chain on an embedded SQLite workspace."""
    from .demo import run_demo

    run_demo(Path(workspace) if workspace else None, echo_text)


@cli.command("new-provider")
@click.argument("name")
@click.option("--path", "path", type=click.Path(), help="Where to write it (default: ./tradepay-NAME).")
def new_provider(name: str, path: str | None) -> None:
    """Write a new provider distribution NAME: pyproject with its entry point, package, README and tests."""
    from .new_provider import new_provider as write

    write(name, path, echo_text)


from . import ledger_commands as _cli_ledger  # noqa: E402  (registers orders, payments and reconcile on `cli`)

_cli_ledger.register(cli)

from . import refund_commands as _cli_refunds  # noqa: E402  (registers refund and refunds on `cli`)

_cli_refunds.register(cli)

from . import merchants as _cli_merchants  # noqa: E402  (the server's merchants)
from . import notify_commands as _cli_notify  # noqa: E402  (merchants' notifications)
from . import serve as _cli_serve  # noqa: E402  (the HTTP server)
from . import tokens as _cli_tokens  # noqa: E402  (the server's bearer tokens)

_cli_merchants.register(cli)
_cli_notify.register(cli)
_cli_serve.register(cli)
_cli_tokens.register(cli)


def main() -> None:
    """The console script ``tradepay``."""
    cli(prog_name="tradepay")
