"""``tradepay wallet ...``: top up accounts, read balances and history, script fault profiles.

Amounts are typed in minor units of the named currency (``topup alice USD 1000`` credits USD 10.00) and
shown in major units with the code once (``USD 10.00``). Bad input is a one-line usage error naming the
argument, and stores nothing. Output goes through the core's helpers (``tradepay.echo_text``, ``echo_json``),
so it follows the command line's one convention.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import click

from tradepay import (
    InvalidInput,
    PaymentAmount,
    echo_records,
    echo_text,
    format_amount,
    json_amount,
    json_option,
    json_time,
    table_time,
    usage_errors,
)

from ._checks import check_currency
from ._faults import FaultKind, FaultProfile
from ._store import EntryKind, LedgerEntry

if TYPE_CHECKING:
    from ._provider import WalletProvider

__all__ = ["wallet_group"]

# The fields of the Python API that no parameter is named after (the others name theirs: usage_errors).
_PARAM_HINTS: Final = {
    "result_error.error_code": "--error-code",
    "error": ("--result-code", "--error-code"),
}


def _minor_units(currency: str, text: str) -> int:
    """The CLI's AMOUNT (a string of minor units), parsed by the host's own rules for amounts."""
    check_currency(currency)
    try:
        return PaymentAmount(currency, text).minor_units
    except InvalidInput as exc:
        raise InvalidInput("amount", exc.reason) from None


def _describe(profile: FaultProfile) -> str:
    details = [f"{profile.payer}: {profile.kind.value}"]
    if profile.seconds is not None:
        details.append(f"{profile.seconds:g} s")
    if profile.result_code is not None and profile.error_code is not None:
        details.append(f"result {profile.result_code.value} error {int(profile.error_code)}")
    if profile.reason is not None:
        details.append(f"reason {profile.reason}")
    details.append("sticky" if profile.times is None else f"next {profile.times} call(s)")
    return ", ".join(details)


def _fault_json(profile: FaultProfile) -> dict[str, object]:
    return {
        "payer": profile.payer,
        "kind": profile.kind.value,
        "seconds": profile.seconds,
        "resultCode": None if profile.result_code is None else profile.result_code.value,
        "errorCode": None if profile.error_code is None else int(profile.error_code),
        "reason": profile.reason,
        "times": profile.times,
    }


def _entry_json(entry: LedgerEntry) -> dict[str, object]:
    return {
        "id": entry.id,
        "recordedAt": json_time(entry.at),
        "kind": entry.kind.value,
        "amount": json_amount(entry.currency, entry.amount),
        "balanceAfter": json_amount(entry.currency, entry.balance_after),
        "idempotencyKey": entry.idempotency_key,
        "tradeNo": entry.trade_no,
    }


def _entry_row(entry: LedgerEntry) -> tuple[str, ...]:
    sign = "-" if entry.kind is EntryKind.DEBIT else "+"
    return (
        str(entry.id),
        table_time(entry.at),
        entry.kind.value,
        sign + format_amount(entry.currency, entry.amount),
        format_amount(entry.currency, entry.balance_after),
        entry.idempotency_key or "-",
        entry.trade_no or "-",
    )


def wallet_group(provider: WalletProvider) -> click.Group:
    """The ``wallet`` command group, working on ``provider``'s state file."""

    @click.group(name="wallet")
    def wallet() -> None:
        """The mock e-wallet: top-ups, balances, history and fault profiles."""

    @wallet.command()
    @click.argument("payer")
    @click.argument("currency")
    @click.argument("amount")
    def topup(payer: str, currency: str, amount: str) -> None:
        """Credit AMOUNT minor units of CURRENCY to PAYER.

        AMOUNT is in the currency's minor unit: USD 1000 is USD 10.00, JPY 1000 is JPY 1000.
        """
        with usage_errors(_PARAM_HINTS):
            value = _minor_units(currency, amount)
            balance = provider.topup(payer, currency, value)
        echo_text(f"Credited {format_amount(currency, value)} to {payer}; balance {format_amount(currency, balance)}.")

    @wallet.command()
    @click.argument("payer")
    @json_option("Print JSON: one amount per currency, in minor units.")
    def balance(payer: str, as_json: bool) -> None:
        """Show PAYER's balance in every currency."""
        with usage_errors(_PARAM_HINTS):
            balances = list(provider.balances(payer).items())
        echo_records(
            balances,
            as_json=as_json,
            to_json=lambda held: json_amount(*held),
            line=lambda held: format_amount(*held),
            empty=f"{payer} has no wallet account.",
            envelope=lambda amounts: {"payer": payer, "balances": amounts},
        )

    @wallet.command()
    @click.argument("payer")
    @json_option("Print JSON: every entry with its idempotency key.")
    def history(payer: str, as_json: bool) -> None:
        """Show PAYER's credits, debits, reversals and refunds (times in UTC).

        Oldest first, each with its idempotency key and trade number (top-ups have neither).
        """
        with usage_errors(_PARAM_HINTS):
            entries = provider.history(payer)
        echo_records(
            entries,
            as_json=as_json,
            to_json=_entry_json,
            empty=f"{payer} has no wallet history.",
            header=("ID", "TIME (UTC)", "KIND", "AMOUNT", "BALANCE", "KEY", "TRADE NO"),
            row=_entry_row,
            envelope=lambda rows: {"payer": payer, "entries": rows},
        )

    @wallet.group()
    def fault() -> None:
        """Script how pay misbehaves, per payer or for all.

        A profile is for one PAYER or for every payer ('*', quoted in a shell); a payer's own profile wins.
        It applies to every pay call, or to the next N with --times. Inquiry and cancel are never faulty.
        """

    @fault.command("set")
    @click.argument("payer")
    @click.argument("kind", type=click.Choice([k.value for k in FaultKind]), metavar="KIND")
    @click.option("--seconds", type=float, help="latency: how long to sleep before paying.")
    @click.option("--result-code", help="error: the result code to answer (4000, 8000, 6001, 6002, 6004).")
    @click.option("--error-code", type=int, help="error: the error code to answer (1000-1005, 2001).")
    @click.option("--reason", help="error: extended_info reason to answer (for example RISK_REJECT).")
    @click.option("--times", type=int, help="Apply to the next N pay calls only (default: every call).")
    def fault_set(
        payer: str,
        kind: str,
        seconds: float | None,
        result_code: str | None,
        error_code: int | None,
        reason: str | None,
        times: int | None,
    ) -> None:
        """Give PAYER ('*' for every payer) the fault KIND.

        KIND is one of: latency (--seconds, then pay normally), hang, exception, malformed, error
        (--result-code, --error-code, optional --reason), user_cancel, late_success. Only late_success and
        latency move money. The profile replaces the payer's previous one.
        """
        with usage_errors(_PARAM_HINTS):
            profile = provider.set_fault(
                payer,
                kind,
                seconds=seconds,
                result_code=result_code,
                error_code=error_code,
                reason=reason,
                times=times,
            )
        echo_text(f"Fault set: {_describe(profile)}.")

    @fault.command("clear")
    @click.argument("payer", required=False)
    @click.option("--all", "clear_all", is_flag=True, help="Remove every profile.")
    def fault_clear(payer: str | None, clear_all: bool) -> None:
        """Remove PAYER's profile ('*' for the all-payers one), or every profile with --all."""
        if (payer is None) == (not clear_all):
            raise click.UsageError("give either PAYER or --all")
        if payer is None:
            echo_text(f"Removed {provider.clear_faults()} fault profile(s).")
            return
        with usage_errors(_PARAM_HINTS):
            removed = provider.clear_fault(payer)
        echo_text(f"Removed the fault profile of {payer}." if removed else f"{payer} had no fault profile.")

    @fault.command("list")
    @json_option("Print JSON.")
    def fault_list(as_json: bool) -> None:
        """List the fault profiles, the all-payers one first."""
        empty = "No fault profiles: every payer is served normally."
        echo_records(provider.faults(), as_json=as_json, to_json=_fault_json, line=_describe, empty=empty)

    return wallet
