"""The wallet provider: the hooks the host calls, and the Python API its command line and tests use."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Final, cast

import tradepay
from tradepay import (
    AsyncRefundingStoreProvider,
    Attempt,
    ErrorCode,
    InvalidInput,
    Order,
    PaymentResult,
    ProviderConfig,
    RefundRow,
    ResultCode,
    beyond_capabilities,
    hookimpl,
    payment_key_problem,
)

from ._answers import DECLINED, Reason, declined, late_success
from ._checks import check_amount, check_currency, check_payer
from ._faults import ALL_PAYERS, FaultKind, FaultProfile, coerce
from ._settings import parse_settings
from ._store import LedgerEntry, WalletStore

if TYPE_CHECKING:
    import click

__all__ = ["HANG_SECONDS", "MALFORMED_ANSWER", "WalletProvider"]

_log = tradepay.get_logger("tradepay_wallet")

#: How long the ``hang`` fault sleeps: far past any deadline a host would set.
HANG_SECONDS: Final = 24 * 3600.0
#: What the ``malformed`` fault returns: the SDK's JSON spelling of a success, which is not a PaymentResult.
MALFORMED_ANSWER: Final = {"resultCode": "9000", "resultMessage": "not a PaymentResult"}


class WalletProvider(AsyncRefundingStoreProvider[WalletStore]):
    """A mock e-wallet: balances per payer and currency in SQLite or PostgreSQL, and scriptable faults.

    ``pay``, ``inquire``, ``cancel``, ``refund`` and ``inquire_refund`` are coroutines whose database work runs
    in a worker thread, so the host's event loop is never blocked; all but ``pay`` are the kit's
    (:class:`tradepay.AsyncRefundingStoreProvider`), and fault profiles never touch them. The other public methods are
    blocking and meant for the command line, tests and scripts; they raise :class:`tradepay.InvalidInput`
    naming the bad argument and then store nothing.
    """

    events = "wallet"
    log = _log

    def __init__(self, config: ProviderConfig) -> None:
        """Raises :class:`tradepay.ConfigError` for a bad setting or a state file it cannot use."""
        self.name = config.name
        table = f"providers.{config.name}"
        settings = parse_settings(config.settings, config.data_dir, table=table)
        super().__init__(settings, WalletStore(settings.database, where=f"{table}.database"))

    # --- hooks ---------------------------------------------------------------------------------------------

    @hookimpl
    async def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        """Debit the order's amount from the payer's account in its currency, at most once per key.

        Answers ``9000`` when this key's money moved, ``4000``/``1002`` with a ``reason`` when nothing did
        (see :class:`tradepay_wallet.Reason`), and the first answer again to a repeat of the key. A fault
        profile for the payer changes this as :class:`tradepay_wallet.FaultKind` describes.
        """
        log = _log.bind(
            payer=order.payer_id,
            trade_no=order.trade_no,
            idempotency_key=attempt.idempotency_key,
            amount=order.amount.minor_units,
            currency=order.amount.currency,
        )
        if problem := payment_key_problem(attempt.idempotency_key):
            log.warning("wallet.refused", reason=Reason.INVALID_REQUEST.value)
            return declined(Reason.INVALID_REQUEST, problem)
        fault = await asyncio.to_thread(self.store.take_fault, order.payer_id)
        if fault is not None:
            log.info("wallet.fault", fault=fault.kind.value, fault_payer=fault.payer)
            if fault.kind is FaultKind.LATENCY:
                assert fault.seconds is not None  # a latency profile always has its seconds
                await asyncio.sleep(fault.seconds)
            elif fault.kind is FaultKind.HANG:
                await asyncio.sleep(HANG_SECONDS)
                raise RuntimeError("wallet fault: hang outlived its sleep; nothing was debited")
            elif fault.kind is FaultKind.EXCEPTION:
                raise RuntimeError("wallet fault: exception; nothing was debited")
            elif fault.kind is FaultKind.MALFORMED:
                # The fault exists to hand the host a wrong type: the cast is the lie it tells.
                return cast(PaymentResult, dict(MALFORMED_ANSWER))
        refusal = (fault.answer() if fault else None) or self._refusal(order)
        result, debited = await asyncio.to_thread(self.store.pay, order, attempt, refusal)
        if debited:
            log.info("wallet.debited")
            if fault is not None and fault.kind is FaultKind.LATE_SUCCESS:
                return late_success()
        else:
            log.info("wallet.answered", result_code=result.result_code.value, reason=result.reason)
        return result

    @hookimpl
    def add_cli_commands(self, cli: click.Group) -> None:
        """Add the ``wallet`` group (top-ups, balances, history, fault profiles) to the command line."""
        from ._cli import wallet_group

        cli.add_command(wallet_group(self))

    # --- accounts ------------------------------------------------------------------------------------------

    def topup(self, payer: str, currency: str, amount: int) -> int:
        """Credit ``amount`` minor units to ``payer``'s account in ``currency``; return the new balance."""
        check_payer(payer)
        self._check_accepted(check_currency(currency))
        balance = self.store.topup(payer, currency, check_amount(amount))
        _log.info("wallet.topped_up", payer=payer, currency=currency, amount=amount, balance=balance)
        return balance

    def balances(self, payer: str) -> dict[str, int]:
        """``payer``'s balances in minor units by currency; empty when the payer has no account."""
        return self.store.balances(check_payer(payer))

    def balance(self, payer: str, currency: str) -> int:
        """``payer``'s balance in ``currency`` in minor units; 0 when there is no such account."""
        return self.balances(payer).get(check_currency(currency), 0)

    def history(self, payer: str) -> list[LedgerEntry]:
        """``payer``'s credits, debits, reversals and refunds, oldest first."""
        return self.store.history(check_payer(payer))

    def refunds(self, payment_key: str | None = None) -> list[RefundRow]:
        """The refund keys of ``payment_key`` (every one when ``None``), oldest first, with their status."""
        return self.store.refunds(payment_key)

    # --- fault profiles ------------------------------------------------------------------------------------

    def set_fault(
        self,
        payer: str,
        kind: FaultKind | str,
        *,
        seconds: float | None = None,
        result_code: ResultCode | str | None = None,
        error_code: ErrorCode | int | None = None,
        reason: str | None = None,
        times: int | None = None,
    ) -> FaultProfile:
        """Give ``payer`` (or every payer: ``"*"``) a fault profile, replacing its previous one.

        ``times=None`` keeps it for every ``pay`` (sticky); ``times=N`` for the next N calls only.
        """
        profile = FaultProfile(
            payer,
            coerce(FaultKind, kind, "kind"),
            seconds,
            None if result_code is None else coerce(ResultCode, result_code, "result_code"),
            None if error_code is None else coerce(ErrorCode, error_code, "error_code"),
            reason,
            times,
        )
        self.store.set_fault(profile)
        _log.info("wallet.fault_set", payer=payer, fault=profile.kind.value, times=times)
        return profile

    def clear_fault(self, payer: str) -> bool:
        """Remove the profile of ``payer`` (``"*"``: the all-payers one); ``True`` if there was one."""
        if payer != ALL_PAYERS:
            check_payer(payer)
        removed = self.store.clear_fault(payer) > 0
        _log.info("wallet.fault_cleared", payer=payer, removed=removed)
        return removed

    def clear_faults(self) -> int:
        """Remove every fault profile; return how many there were."""
        removed = self.store.clear_fault(None)
        _log.info("wallet.faults_cleared", removed=removed)
        return removed

    def faults(self) -> list[FaultProfile]:
        """Every fault profile, the all-payers one first."""
        return self.store.faults()

    # --- internals -----------------------------------------------------------------------------------------

    def _check_accepted(self, currency: str) -> None:
        accepted = self.settings.currencies
        if accepted is not None and currency not in accepted:
            raise InvalidInput("currency", f"{currency} is not accepted by this wallet ({', '.join(sorted(accepted))})")

    def _refusal(self, order: Order) -> PaymentResult | None:
        """The decline the settings impose on ``order``, if any (the host normally filters these out first)."""
        return beyond_capabilities(order, self.capabilities(), message=DECLINED)
