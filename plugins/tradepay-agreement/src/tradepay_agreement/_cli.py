"""``tradepay agreement ...``: sign, activate, revoke and list agreements from the command line."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

import click

from tradepay import (
    echo_records,
    echo_text,
    json_amount,
    json_option,
    json_time,
    printable,
    table_amount,
    table_time,
    usage_errors,
)

from ._settings import AgreementSettings
from ._store import Agreement, AgreementError, AgreementNotFound, AgreementStore

__all__ = ["agreement_group"]

# The store's fields that no parameter is named after (the others name theirs: usage_errors).
_PARAM_HINTS: Final = {"payer_id": "PAYER", "merchant_id": "MERCHANT"}
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
    "EXPIRES (UTC)",
)


class _Refused(click.ClickException):
    """A request the agreement's state does not allow: refused, nothing done, the exit status of a refusal
    (2), as the core's commands refuse closing a paid order."""

    exit_code = 2


@contextmanager
def _user_errors() -> Iterator[None]:
    """Turn the store's refusals into one-line click errors (no traceback), all with exit status 2: bad input
    names the argument as typed (:func:`tradepay.usage_errors`)."""
    try:
        with usage_errors(_PARAM_HINTS):
            yield
    except AgreementNotFound as exc:
        raise click.BadParameter(f"no agreement {exc.agreement_id!r}", param_hint="'AGREEMENT_ID'") from None
    except AgreementError as exc:
        raise _Refused(printable(str(exc))) from None


def _limit(agreement: Agreement, minor_units: int | None) -> dict[str, str] | None:
    return None if minor_units is None else json_amount(agreement.currency, minor_units)


def _as_json(agreement: Agreement) -> dict[str, object]:
    return {
        "agreementId": agreement.agreement_id,
        "payerId": agreement.payer_id,
        "merchantId": agreement.merchant_id,
        "scope": agreement.scope,
        "currency": agreement.currency,
        "status": agreement.status.value,
        "perPaymentLimit": _limit(agreement, agreement.per_payment_limit),
        "cumulativeLimit": _limit(agreement, agreement.cumulative_limit),
        "countLimit": agreement.count_limit,
        "usedAmount": json_amount(agreement.currency, agreement.used_amount),
        "usedCount": agreement.used_count,
        "tokenLast4": agreement.token_last4,
        "signedAt": json_time(agreement.signed_at),
        "expiresAt": json_time(agreement.expires_at),
    }


def _as_row(agreement: Agreement) -> tuple[str, ...]:
    currency = agreement.currency
    return (
        agreement.agreement_id,
        agreement.payer_id,
        agreement.merchant_id,
        agreement.status.value,
        currency,
        table_amount(currency, agreement.per_payment_limit),
        table_amount(currency, agreement.cumulative_limit),
        "-" if agreement.count_limit is None else str(agreement.count_limit),
        table_amount(currency, agreement.used_amount),
        str(agreement.used_count),
        "****" + agreement.token_last4,
        table_time(agreement.expires_at),
    )


def agreement_group(store: AgreementStore, settings: AgreementSettings) -> click.Group:
    """The ``agreement`` command group, working on ``store`` within ``settings``."""

    @click.group("agreement")
    def group() -> None:
        """Agreement (auto-debit) payments: sign, activate, revoke and list agreements.

        Limits are typed as whole numbers in the currency's minor unit (USD 10.00 is 1000) and listed in
        major units (USD 10.00).
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
        echo_text(agreement.agreement_id)

    @group.command("activate")
    @click.argument("agreement_id")
    def activate(agreement_id: str) -> None:
        """Activate a pending agreement: payments may debit it from now on."""
        with _user_errors():
            agreement = store.activate(agreement_id)
        echo_text(f"{agreement.agreement_id} {agreement.status}")

    @group.command("revoke")
    @click.argument("agreement_id")
    def revoke(agreement_id: str) -> None:
        """Revoke a pending or active agreement: no payment may debit it any more."""
        with _user_errors():
            agreement = store.revoke(agreement_id)
        echo_text(f"{agreement.agreement_id} {agreement.status}")

    @group.command("list")
    @click.argument("payer", required=False)
    @json_option("Print a JSON array instead of a table.")
    def list_(payer: str | None, as_json: bool) -> None:
        """List agreements and their usage (only PAYER's, if given); tokens show only their last 4."""
        empty = "no agreements" + (f" for payer {payer}" if payer is not None else "")
        echo_records(
            store.agreements(payer), as_json=as_json, to_json=_as_json, empty=empty, header=_HEADER, row=_as_row
        )

    return group
