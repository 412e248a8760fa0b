"""The ``tradepay`` command line (click). Built-in commands are listed here; configured providers add theirs
through the ``add_cli_commands`` hook, loaded only when such a command is asked for."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from . import __version__
from ._cli_errors import describe, interrupted_payment, run_guarded
from ._errors import TradePayError

__all__ = ["cli", "main"]

_BUILTIN_HELP = "Built-in commands"


class _State:
    """Per-invocation state: the configuration path and, once loaded, the host."""

    def __init__(self, config: str | None) -> None:
        self.config_path = config
        self._host: Any = None

    def load_config(self) -> Any:
        from ._config import load_config

        return load_config(self.config_path)

    def host(self, *, reconcile: bool | None = False) -> Any:
        """The host of the configuration, built once. Commands that only read pass ``reconcile=False``
        (the default); commands that pay pass ``None`` so ``ledger.reconcile_on_start`` decides."""
        if self._host is None:
            from ._host import Host

            self._host = Host.from_config(self.load_config(), reconcile=reconcile)
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
        if command is not None or self._plugins_loaded:
            return command
        try:
            self._load_plugin_commands(ctx)
        except Exception as exc:
            from ._discovery import installed_providers

            if cmd_name in {p.name for p in installed_providers()}:
                raise  # an installed provider's commands that cannot start: a failure of the environment
            raise click.UsageError(
                f"no such command {cmd_name!r} (plugin commands unavailable: {describe(exc).message})"
            ) from None
        return super().get_command(ctx, cmd_name)

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        """Run the command line. Standalone (the console script, click's test runner), every failure ends as
        one ``Error:`` line with the exit status of :mod:`tradepay._cli_errors`, never a traceback."""
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
    from ._logging import configure_logging

    configure_logging(fmt=log_format, level=log_level)  # type: ignore[arg-type]
    ctx.call_on_close(lambda: ctx.obj.close() if isinstance(ctx.obj, _State) else None)
    if not isinstance(ctx.obj, _State):  # set already when plugin commands were looked up
        ctx.obj = _State(config)


def _echo_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True, default=str))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_obj
def providers(state: _State, as_json: bool) -> None:
    """List installed providers from their metadata (nothing is imported) and whether they are configured."""
    from ._config import find_config
    from ._discovery import installed_providers

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
        _echo_json(rows)
        return
    if not rows:
        click.echo("no providers installed (pip install tradepay-wallet, for example)")
        return
    for row in rows:
        mark = (
            "-"
            if row["configured"] is None
            else (f"chain #{row['position']}" if row["configured"] else "not configured")
        )
        release = f"{row['distribution']}=={row['version']}"
        click.echo(f"{row['name']!s:<12} {release:<32} {mark}")
    if configured is None:
        click.echo("(no configuration found: `tradepay init` writes one)")


@cli.command()
@click.option("--path", "path", default="tradepay.toml", show_default=True, type=click.Path(dir_okay=False))
@click.option("--providers", "names", help="Comma-separated chain (default: every installed provider but reference).")
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def init(path: str, names: str | None, force: bool) -> None:
    """Write a starter configuration file with every setting and its default."""
    from ._config import check_provider_names
    from ._discovery import installed_providers
    from ._scaffold import starter_config, write_config_file

    target = Path(path)
    if os.path.lexists(target) and not force:  # a dangling symbolic link is something to overwrite too
        raise click.ClickException(f"{target} exists: use --force to overwrite it")
    if names:
        chain = [n.strip() for n in names.split(",") if n.strip()]
        try:
            check_provider_names(chain)
        except TradePayError as exc:
            raise click.BadParameter(str(exc), param_hint="'--providers'") from None
    else:
        installed = sorted({p.name for p in installed_providers()})
        chain = [n for n in installed if n != "reference"] or ["reference"]
    try:
        write_config_file(target, starter_config(chain))
    except OSError as exc:
        raise click.ClickException(f"{target}: cannot be written: {exc.strerror or exc}") from None
    click.echo(f"wrote {target} with chain {chain}")


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
    from ._explain import explain_chain

    report = explain_chain(state.host(), amount, currency, payment_type)
    if as_json:
        _echo_json(report.to_dict())
    else:
        click.echo(report.render())


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
    --currency and --payer); print the result and the attempts. Exits 1 unless the result is 9000."""
    from ._models import APIContext, PaymentAmount, PaymentRequest, PaymentType
    from ._service import PaymentService
    from ._timeline import payment_to_dict, render_payment

    host = state.host(reconcile=None)
    if amount is None:
        if trade_no is None:
            raise click.UsageError("give --trade-no of an existing order, or --amount, --currency and --payer")
        order = host.ledger.get_order(trade_no)
        if order is None:
            raise click.BadParameter(f"no order {trade_no!r}", param_hint="'--trade-no'")
    else:
        if currency is None or payer is None:
            raise click.UsageError("a new order needs --amount, --currency and --payer")
        order = host.ledger.create_order(
            PaymentAmount(currency, amount), merchant_id=merchant, payer_id=payer, trade_no=trade_no
        )
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
    if as_json:
        _echo_json({"result": result.to_dict(), "payment": payment_to_dict(payment) if payment else None})
    else:
        click.echo(render_payment(order, result, payment))
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
    from ._demo import run_demo

    run_demo(Path(workspace) if workspace else None, click.echo)


@cli.command("new-provider")
@click.argument("name")
@click.option("--path", "path", type=click.Path(), help="Where to write it (default: ./tradepay-NAME).")
def new_provider(name: str, path: str | None) -> None:
    """Write a new provider distribution NAME: pyproject with its entry point, package, README and tests."""
    from ._newprovider import new_provider as write

    write(name, path, click.echo)


from . import _cli_ledger  # noqa: E402  (registers orders, payments and reconcile on `cli`)

_cli_ledger.register(cli)


def main() -> None:
    """The console script ``tradepay``."""
    cli(prog_name="tradepay")
