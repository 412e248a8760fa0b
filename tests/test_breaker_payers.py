"""The real providers in one host: one payer's failing card or short wallet never opens a provider's circuit for
the other payers; a provider's own outage does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tradepay import (
    CardNumber,
    CardSecret,
    ChainSettings,
    FailureScope,
    MemoryLedger,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
    ProviderConfig,
    ResultCode,
)
from tradepay.testing import ReferenceProvider, build_service, sample_context
from tradepay_agreement import AgreementProvider
from tradepay_card import CardProvider
from tradepay_wallet import WalletProvider

#: The shipped default: five consecutive failures open a circuit.
THRESHOLD = ChainSettings(providers=("x",)).breaker_threshold


class Host:
    """A service over card, wallet and agreement, in that order, with a scripted backup last."""

    def __init__(self, tmp_path: Path) -> None:
        self.card = CardProvider(ProviderConfig("card", {}, tmp_path))
        self.wallet = WalletProvider(ProviderConfig("wallet", {}, tmp_path))
        self.agreement = AgreementProvider(ProviderConfig("agreement", {}, tmp_path))
        self.backup = ReferenceProvider()
        providers = {"card": self.card, "wallet": self.wallet, "agreement": self.agreement, "backup": self.backup}
        chain = ChainSettings(tuple(providers), inquiry_interval_s=0.001)
        self.service: PaymentService = build_service(providers, chain=chain)

    @property
    def ledger(self) -> MemoryLedger:
        ledger = self.service.host.ledger
        assert isinstance(ledger, MemoryLedger)
        return ledger

    def pay(self, payer: str, value: str = "1000") -> PaymentResult:
        order = self.ledger.create_order(PaymentAmount("USD", value), merchant_id="shop", payer_id=payer)
        request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
        return self.service.pay_blocking(request, sample_context(payer))

    def circuits(self) -> dict[str, str]:
        return {name: self.service.host.chain.circuit(name) for name in ("card", "wallet", "agreement")}

    def close(self) -> None:
        self.service.close()


@pytest.fixture
def host(tmp_path: Path) -> Iterator[Host]:
    made = Host(tmp_path)
    yield made
    made.close()


def test_one_payers_processing_error_card_leaves_the_card_open_to_the_others(host: Host) -> None:
    # mallory's card answers 4000/1005 (the network's processing error on that card), bob's card is good.
    host.card.add_card("mallory", CardNumber("4000 0000 0000 0119"), "12/99", CardSecret("123"))
    host.card.add_card("bob", CardNumber("4242 4242 4242 4242"), "12/99", CardSecret("123"))
    for _ in range(2 * THRESHOLD):
        result = host.pay("mallory")
        assert result.extended_info["provider"] == "backup"  # card, wallet and agreement all declined her
        attempts = host.ledger.get_payment(result.extended_info["paymentId"])
        assert attempts is not None
        card_answer = attempts.attempts[0].result
        assert card_answer is not None
        assert (card_answer.reason, FailureScope.of(card_answer)) == ("PROCESSING_ERROR", FailureScope.PAYMENT)
    assert host.circuits() == {"card": "closed", "wallet": "closed", "agreement": "closed"}
    paid = host.pay("bob")
    assert (paid.result_code, paid.extended_info["provider"]) == (ResultCode.SUCCESS, "card")


def test_one_payers_declines_on_every_provider_leave_every_circuit_closed(host: Host) -> None:
    host.card.add_card("mallory", CardNumber("4000 0000 0000 0002"), "12/99", CardSecret("123"))  # declined
    host.wallet.topup("mallory", "USD", 1)  # too little
    host.agreement.store.sign("mallory", "shop", "USD")  # signed, never activated: 2001
    host.wallet.topup("bob", "USD", 10_000)
    for _ in range(2 * THRESHOLD):
        assert host.pay("mallory").extended_info["provider"] == "backup"
    assert host.circuits() == {"card": "closed", "wallet": "closed", "agreement": "closed"}
    paid = host.pay("bob")  # bob has no card: the card declines him, the wallet pays
    assert (paid.result_code, paid.extended_info["provider"]) == (ResultCode.SUCCESS, "wallet")


@pytest.mark.parametrize(("kind", "result_code", "error_code"), [("error", "4000", 1005), ("exception", None, None)])
def test_the_wallets_own_outage_opens_its_circuit(
    host: Host, kind: str, result_code: str | None, error_code: int | None
) -> None:
    host.wallet.topup("bob", "USD", 100_000)
    host.wallet.set_fault("*", kind, result_code=result_code, error_code=error_code)
    for _ in range(THRESHOLD):
        assert host.pay("bob").extended_info["provider"] == "backup"
    assert host.circuits()["wallet"] == "open"
    host.wallet.clear_faults()
    skipped = host.pay("bob")
    assert skipped.extended_info["provider"] == "backup"  # the wallet is skipped while its circuit is open
    payment = host.ledger.get_payment(skipped.extended_info["paymentId"])
    assert payment is not None
    assert [r.attempt.provider for r in payment.attempts] == ["card", "agreement", "backup"]
