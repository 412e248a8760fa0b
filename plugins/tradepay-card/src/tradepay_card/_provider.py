"""The card provider: charges the payer's default card on file through the mock card network, and refunds to
the card a payment charged."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Final

import click

import tradepay
from tradepay import (
    Attempt,
    AttemptRow,
    CardNumber,
    CardSecret,
    InvalidInput,
    Order,
    PaymentResult,
    ProviderConfig,
    Refund,
    RefundAnswer,
    RefundingStoreProvider,
    beyond_capabilities,
    hookimpl,
    payment_key_problem,
    refund_fields,
    replay_payment,
)

from ._answers import charged, declined
from ._enrolment import Expiry, check_card, check_payer_id, parse_expiry
from ._network import Scenario
from ._settings import parse_settings
from ._store import Card, CardStore, CardTransaction

__all__ = ["HANG_SECONDS", "CardProvider"]

_log = tradepay.get_logger("tradepay_card")

#: How long a refund on a ``refund_hangs`` card sleeps: far past any deadline a host would set.
HANG_SECONDS: Final = 24 * 3600.0


def _utc_today() -> date:
    return datetime.now(UTC).date()


class CardProvider(RefundingStoreProvider[CardStore]):
    """A tradepay provider that charges the payer's default card: the most recently added active one.

    The host builds it with ``CardProvider(config)``; ``today`` is the clock that decides whether a card has
    expired, and ``sleep`` is how a refund on a ``refund_hangs`` card waits (both injectable for tests). Its
    state is a SQLite file or a PostgreSQL schema (the ``database`` setting), opened at once: an unusable one
    is a :class:`tradepay.ConfigError` naming the setting. Its ``inquire``, ``cancel`` and refund hooks are the
    kit's (:class:`tradepay.RefundingStoreProvider`); a refund moves the money back to the card the key charged.
    """

    events = "card"
    log = _log

    def __init__(
        self,
        config: ProviderConfig,
        *,
        today: Callable[[], date] = _utc_today,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = config.name
        table = f"providers.{config.name}"
        settings = parse_settings(config.settings, config.data_dir, table=table)
        super().__init__(settings, CardStore(settings.database, where=f"{table}.database"))
        self._today = today
        self._sleep = sleep

    # --- cards on file ----------------------------------------------------------------------------------------

    def add_card(self, payer_id: str, number: CardNumber, expiry: str | Expiry, cvc: CardSecret) -> Card:
        """Check a card and put it on file for ``payer_id``, where it becomes the default card.

        Only a random token, the brand, the last four digits, the expiry and the network's scenario are kept;
        the CVC is checked and forgotten. Raises :class:`tradepay.InvalidInput` naming ``payer``,
        ``card number``, ``expiry`` or ``cvc`` (never echoing the number or CVC); nothing is stored then.
        """
        check_payer_id(payer_id)
        details = check_card(
            number, expiry if isinstance(expiry, Expiry) else parse_expiry(expiry), cvc, today=self._today()
        )
        card = self.store.add_card(payer_id, details)
        _log.info("card.added", payer=payer_id, token=card.token, brand=card.brand.value, last4=card.last4)
        return card

    def cards(self, payer_id: str) -> list[Card]:
        """The payer's active cards, the default card first."""
        return self.store.cards(check_payer_id(payer_id))

    def remove_card(self, payer_id: str, token: str) -> None:
        """Remove the payer's card ``token``; the next most recently added card becomes the default.

        Raises :class:`tradepay.InvalidInput` naming ``token`` if the payer has no such active card.
        """
        check_payer_id(payer_id)
        if not isinstance(token, str) or not self.store.remove_card(payer_id, token):
            raise InvalidInput("token", f"payer {payer_id!r} has no active card with this token")
        _log.info("card.removed", payer=payer_id, token=token)

    # --- provider hooks ---------------------------------------------------------------------------------------

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        """Charge ``order`` on the payer's default card, at most once per ``attempt.idempotency_key``.

        The key check, the card lookup, the network's answer and the charge happen in one write transaction
        (see :meth:`tradepay.ProviderStore.write` for two processes inserting one key at once). A repeat of the
        key answers the first answer; see the README for every answer.
        """
        key = attempt.idempotency_key
        if problem := payment_key_problem(key):
            _log.warning("card.refused", trade_no=order.trade_no, reason="INVALID_REQUEST")
            return declined("INVALID_REQUEST", problem)

        def decide(tx: CardTransaction) -> tuple[AttemptRow | None, PaymentResult]:
            previous = tx.attempt(key)
            return previous, (self._charge(tx, order, attempt) if previous is None else replay_payment(previous, order))

        previous, result = self.store.write(decide)
        _log.info(
            "card.answered",
            payer=order.payer_id,
            trade_no=order.trade_no,
            idempotency_key=key,
            amount=order.amount.minor_units,
            currency=order.amount.currency,
            result_code=result.result_code.value,
            reason=result.reason,
            repeat=previous is not None,
        )
        return result

    @hookimpl
    def add_cli_commands(self, cli: click.Group) -> None:
        """Add ``tradepay card add|list|remove``."""
        from ._cli import card_group  # the CLI is only built when a command line asks for it

        cli.add_command(card_group(self))

    # --- the refund -------------------------------------------------------------------------------------------

    def decide_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        """The refund of a key that can be recorded; a charge on a ``refund_hangs`` card never answers: it
        sleeps :data:`HANG_SECONDS`, then raises, having recorded and moved nothing."""
        card = self.store.charged_card(attempt.idempotency_key)
        if card is not None and card.scenario is Scenario.REFUND_HANGS:
            _log.info("card.refund_hangs", token=card.token, **refund_fields(order, attempt, refund))
            self._sleep(HANG_SECONDS)
            raise RuntimeError("card network: the refund was never answered; nothing was refunded")
        return self.store.refund(attempt, refund)

    # --- the charge -------------------------------------------------------------------------------------------

    def _charge(self, tx: CardTransaction, order: Order, attempt: Attempt) -> PaymentResult:
        """Decide the first answer for a new key and record it (and the charge, if money moved)."""
        card = tx.default_card(order.payer_id)
        result = self._authorise(order, card)
        tx.record(attempt, order, result, card)
        return result

    def _authorise(self, order: Order, card: Card | None) -> PaymentResult:
        """The answer to a new charge: the provider's own limits first, then the network's verdict on the card."""
        refusal = beyond_capabilities(order, self.capabilities())
        if refusal is not None:
            return declined(refusal.reason or "", refusal.result_message)
        if card is None:
            return declined("NO_CARD_ON_FILE", "the payer has no card on file")
        # A card that was valid at enrolment may have expired since: the network declines it as expired.
        scenario = Scenario.EXPIRED_CARD if card.expiry.is_past(self._today()) else card.scenario
        if scenario.moves_money:
            return charged(card.brand, card.last4)
        return declined(
            scenario.reason,
            scenario.description,
            scenario.error_code,
            decline_code=scenario.decline_code,
            card_brand=card.brand.value,
            card_last4=card.last4,
        )
