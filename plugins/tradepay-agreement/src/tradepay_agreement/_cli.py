"""``tradepay agreement ...``: sign, activate, revoke and list agreements from the command line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import click

from tradepay import InvalidInput

from ._settings import AgreementSettings
from ._store import Agreement, AgreementError, AgreementNotFound, AgreementStore

__all__ = ["agreement_group"]

# The store names its arguments; the user knows them by their command-line spelling.
_PARAM_HINTS = {
    "payer_id": "'PAYER'",
    "merchant_id": "'MERCHANT'",
    "currency": "'--currency'",
    "per_payment_limit": "'--per-payment-limit'",
    "cumulative_limit": "'--cumulative-limit'",
    "count_limit": "'--count-limit'",
    "expires_in": "'--expires-in'",
}
_HEADER = (
    "AGREEMENT",
    "PAYER",
    "MERCHANT",
    "STATUS",
    "CURRENCY",
    "PER-PAYMENT",
    "CUMULATIVE",
    "COUNT",
    "USED-AMOUNT",
    "USED-COUNT",
    "TOKEN",
    "EXPIRES",
)


class _Refused(click.ClickException):
    """A request the agreement's state does not allow: refused, nothing done, the exit status of a refusal
    (2), as the core's commands refuse closing a paid order."""

    exit_code = 2


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the store's refusals into one-line click errors (no traceback), all with exit status 2."""
    try:
        yield
    except InvalidInput as exc:
        raise click.BadParameter(exc.reason, param_hint=_PARAM_HINTS.get(exc.field, exc.field)) from None
    except AgreementNotFound as exc:
        raise click.BadParameter(f"no agreement {exc.agreement_id!r}", param_hint="'AGREEMENT_ID'") from None
    except AgreementError as exc:
        raise _Refused(str(exc)) from None


def _when(timestamp: float | None) -> str | None:
    if timestamp is None:
        return None
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _as_json(agreement: Agreement) -> dict[str, object]:
    return {
        "agreement_id": agreement.agreement_id,
        "payer_id": agreement.payer_id,
        "merchant_id": agreement.merchant_id,
        "scope": agreement.scope,
        "currency": agreement.currency,
        "status": agreement.status.value,
        "per_payment_limit": agreement.per_payment_limit,
        "cumulative_limit": agreement.cumulative_limit,
        "count_limit": agreement.count_limit,
        "used_amount": agreement.used_amount,
        "used_count": agreement.used_count,
        "token_last4": agreement.token_last4,
        "signed_at": _when(agreement.signed_at),
        "expires_at": _when(agreement.expires_at),
    }


def _as_row(agreement: Agreement) -> tuple[str, ...]:
    def shown(value: object) -> str:
        return "-" if value is None else str(value)

    return (
        agreement.agreement_id,
        agreement.payer_id,
        agreement.merchant_id,
        agreement.status.value,
        agreement.currency,
        shown(agreement.per_payment_limit),
        shown(agreement.cumulative_limit),
        shown(agreement.count_limit),
        str(agreement.used_amount),
        str(agreement.used_count),
        "****" + agreement.token_last4,
        shown(_when(agreement.expires_at)),
    )


def _table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(row[i]) for row in (_HEADER, *rows)) for i in range(len(_HEADER))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in (_HEADER, *rows)
    )


def agreement_group(store: AgreementStore, settings: AgreementSettings) -> click.Group:
    """The ``agreement`` command group, working on ``store`` within ``settings``."""

    @click.group("agreement")
    def group() -> None:
        """Agreement (auto-debit) payments: sign, activate, revoke and list agreements.

        Amounts and limits are whole numbers in the currency's minor unit (USD 10.00 is 1000).
        """

    @group.command("sign")
    @click.argument("payer")
    @click.argument("merchant")
    @click.option("--currency", required=True, help="ISO 4217 code the agreement pays in, such as USD.")
    @click.option("--per-payment-limit", type=int, metavar="N", help="Largest single payment, in minor units.")
    @click.option("--cumulative-limit", type=int, metavar="N", help="Largest total of all payments, in minor units.")
    @click.option("--count-limit", type=int, metavar="N", help="Most payments the agreement allows.")
    @click.option("--expires-in", type=int, metavar="SECONDS", help="Seconds until the agreement expires.")
    def sign(
        payer: str,
        merchant: str,
        currency: str,
        per_payment_limit: int | None,
        cumulative_limit: int | None,
        count_limit: int | None,
        expires_in: int | None,
    ) -> None:
        """Sign a pending agreement of PAYER with MERCHANT and print its id."""
        if settings.currencies is not None and currency not in settings.currencies:
            supported = ", ".join(sorted(settings.currencies))
            raise click.BadParameter(f"this provider pays only in {supported}", param_hint="'--currency'")
        with _user_errors():
            agreement = store.sign(
                payer,
                merchant,
                currency,
                per_payment_limit=per_payment_limit,
                cumulative_limit=cumulative_limit,
                count_limit=count_limit,
                expires_in=expires_in,
            )
        click.echo(agreement.agreement_id)

    @group.command("activate")
    @click.argument("agreement_id")
    def activate(agreement_id: str) -> None:
        """Activate a pending agreement: payments may debit it from now on."""
        with _user_errors():
            agreement = store.activate(agreement_id)
        click.echo(f"{agreement.agreement_id} {agreement.status}")

    @group.command("revoke")
    @click.argument("agreement_id")
    def revoke(agreement_id: str) -> None:
        """Revoke a pending or active agreement: no payment may debit it any more."""
        with _user_errors():
            agreement = store.revoke(agreement_id)
        click.echo(f"{agreement.agreement_id} {agreement.status}")

    @group.command("list")
    @click.argument("payer", required=False)
    @click.option("--json", "as_json", is_flag=True, help="Print a JSON array instead of a table.")
    def list_(payer: str | None, as_json: bool) -> None:
        """List agreements and their usage (only PAYER's, if given); tokens show only their last 4."""
        agreements = store.agreements(payer)
        if as_json:
            click.echo(json.dumps([_as_json(a) for a in agreements], indent=2))
        elif not agreements:
            click.echo("no agreements" + (f" for payer {payer}" if payer is not None else ""))
        else:
            click.echo(_table([_as_row(a) for a in agreements]))

    return group
