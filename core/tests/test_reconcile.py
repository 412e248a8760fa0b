"""Reconciliation settles what a crash left behind, through the provider's inquiry, and never pays twice."""

from __future__ import annotations

import asyncio
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tradepay import (
    Attempt,
    AttemptRecord,
    ChainSettings,
    Decision,
    Host,
    Order,
    OrderStatus,
    OutcomeKind,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentStatus,
    PaymentType,
    ProviderStatus,
    ResultCode,
    hookimpl,
)
from tradepay._cli.main import cli
from tradepay._ledger.sql import SQLiteLedger
from tradepay.testing import ReferenceProvider, sample_context


def make_host(tmp_path: Path, provider: Any, *, clock: Any = time.time) -> Host:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3", clock=clock)
    chain = ChainSettings(("bank",), inquiry_interval_s=0.001, deadline_s=5.0)
    return Host.from_providers({"bank": provider}, ledger=ledger, chain=chain)


def crash_after_send(host: Host, provider: ReferenceProvider, *, charged: bool) -> tuple[Any, Any]:
    """What a SIGKILL leaves: the payment processing, its attempt sent, the provider paid or never reached."""
    order = host.ledger.create_order(PaymentAmount("USD", "700"), merchant_id="m1", payer_id="alice")
    payment, _ = host.ledger.begin_payment(order, None)
    attempt = host.ledger.start_attempt(payment.payment_id, "bank")
    if charged:
        provider.pay(order=order, attempt=attempt)
    return order, payment


def pay(host: Host, trade_no: str) -> Any:
    return PaymentService(host).pay_blocking(PaymentRequest(PaymentType.ORDER_ID, trade_no), sample_context("alice"))


def test_a_charge_cut_off_by_a_crash_is_found_and_never_repeated(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    order, payment = crash_after_send(host, bank, charged=True)
    (settled,) = host.reconcile(stale_after_s=0)
    assert (settled.before, settled.after) == (PaymentStatus.PROCESSING, PaymentStatus.SUCCEEDED)
    stored = host.ledger.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.pending is None
    assert "reconciliation: inquiry: paid" in stored.attempts[0].detail
    assert host.ledger.get_order(order.trade_no).status is OrderStatus.PAID  # type: ignore[union-attr]
    again = pay(host, order.trade_no)
    assert again.result_code is ResultCode.SUCCESS
    assert bank.charged == 700
    assert sum(1 for hook, _ in bank.calls if hook == "pay") == 1


def test_a_request_that_never_reached_the_provider_is_voided_and_the_order_paid_anew(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    order, payment = crash_after_send(host, bank, charged=False)
    (settled,) = host.reconcile(stale_after_s=0)
    assert settled.after is PaymentStatus.FAILED
    old_key = f"{payment.payment_id}-1"
    assert old_key in bank.book.voided  # a late delivery of the lost request can no longer charge
    again = pay(host, order.trade_no)
    assert again.result_code is ResultCode.SUCCESS
    assert again.extended_info["paymentId"] != payment.payment_id
    assert bank.charged == 700


def test_what_inquiry_cannot_settle_stays_listed(tmp_path: Path) -> None:
    bank = ReferenceProvider(inquiry="unknown", cancel="refuse")
    host = make_host(tmp_path, bank)
    order, payment = crash_after_send(host, bank, charged=True)
    (settled,) = host.reconcile(stale_after_s=0)
    assert settled.after is PaymentStatus.NEEDS_RECONCILIATION
    assert [p.payment_id for p in host.ledger.unsettled(updated_before=0)] == [payment.payment_id]
    assert pay(host, order.trade_no).result_code is ResultCode.UNKNOWN  # blocked: the stored 6004, no charge
    assert bank.charged == 700
    # Once the provider can answer, the next reconciliation settles it.
    bank.inquiry_mode = "truth"
    (later,) = host.reconcile()
    assert later.after is PaymentStatus.SUCCEEDED


def test_a_young_processing_payment_may_be_in_flight_elsewhere_and_is_left_alone(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    crash_after_send(host, bank, charged=True)
    assert host.reconcile() == []  # younger than twice the chain deadline
    assert [s.after for s in host.reconcile(stale_after_s=0)] == [PaymentStatus.SUCCEEDED]


def test_a_provider_no_longer_configured_leaves_the_payment_listed(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    crash_after_send(host, bank, charged=True)
    other = Host.from_providers(
        {"card": ReferenceProvider()},
        ledger=SQLiteLedger(tmp_path / "ledger.sqlite3"),
        chain=ChainSettings(("card",)),
    )
    (settled,) = other.reconcile(stale_after_s=0)
    assert settled.after is PaymentStatus.NEEDS_RECONCILIATION
    assert "'bank' is not configured" in settled.detail


def test_an_interrupted_payment_is_left_for_reconciliation(tmp_path: Path) -> None:
    bank = ReferenceProvider(script=["late_success_hang"], hang_s=30)
    host = make_host(tmp_path, bank)
    order = host.ledger.create_order(PaymentAmount("USD", "700"), merchant_id="m1", payer_id="alice")
    service = PaymentService(host)

    async def cut_off() -> None:
        task = asyncio.ensure_future(
            service.pay_async(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
        )
        while not bank.calls:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cut_off())
    bank.release_hangs()
    (payment,) = host.ledger.payments()
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION
    assert payment.pending is not None
    (settled,) = host.reconcile()
    assert settled.after is PaymentStatus.SUCCEEDED
    assert bank.charged == 700


def test_start_up_reconciles_stale_payments(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "state" / "ledger.sqlite3", clock=lambda: 1_000.0)
    order = ledger.create_order(PaymentAmount("USD", "5"), merchant_id="m1", payer_id="alice")
    payment, _ = ledger.begin_payment(order, None)
    ledger.start_attempt(payment.payment_id, "reference")
    ledger.close()
    config = tmp_path / "tradepay.toml"
    config.write_text('[chain]\nproviders = ["reference"]\n[host]\ndata_dir = "state"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(config), "payments", "show", payment.payment_id])
    assert "sent, no answer recorded" in result.output  # read-only commands do not reconcile
    result = CliRunner().invoke(cli, ["--config", str(config), "reconcile", "--json"])
    assert result.exit_code == 0, result.output
    assert '"after": "failed"' in result.output  # the reference provider never saw the key: nothing moved


def test_the_reconcile_command_shows_progress_and_fails_while_payments_stay_unsettled(tmp_path: Path) -> None:
    bank = ReferenceProvider(inquiry="unknown", cancel="refuse")
    host = make_host(tmp_path, bank)
    for _ in range(21):
        crash_after_send(host, bank, charged=False)
    host.close()
    config = tmp_path / "tradepay.toml"
    config.write_text(
        '[chain]\nproviders = ["reference"]\n[providers.reference]\ninquiry = "unknown"\ncancel = "refuse"\n'
        f'[ledger]\nurl = "sqlite:///{tmp_path / "ledger.sqlite3"}"\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "reconcile", "--all"])
    assert result.exit_code == 1
    assert "reconciling" in result.stderr
    assert "21 payment(s) reconciled, 21 still need reconciliation" in result.stdout
    assert "provider 'bank' is not configured" in result.stdout


# --- an order from another order book ---------------------------------------------------------------------------


class ShopOrders:
    """An order book of the super app's own, in front of the ledger's: the ledger never holds its orders."""

    def __init__(self, *orders: Order) -> None:
        self.orders = {o.trade_no: o for o in orders}

    @hookimpl
    def resolve_order(self, payment_request: PaymentRequest) -> Order | None:
        return self.orders.get(payment_request.payment_string)


class OrderMindingBank:
    """The reference provider, noting the order each inquiry was asked about."""

    def __init__(self) -> None:
        self.reference = ReferenceProvider()
        self.inquired: list[Order] = []

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> Any:
        return self.reference.pay(order=order, attempt=attempt)

    @hookimpl
    def inquire(self, order: Order, attempt: Attempt) -> ProviderStatus:
        self.inquired.append(order)
        return self.reference.inquire(attempt)

    @hookimpl
    def cancel(self, attempt: Attempt) -> bool:
        return self.reference.cancel(attempt)


@pytest.mark.parametrize("charged", [True, False])
def test_an_order_of_another_book_is_paid_and_reconciled_from_the_payments_snapshot(
    tmp_path: Path, charged: bool
) -> None:
    shop = Order("SHOP-1", PaymentAmount("EUR", "990"), "shop", "alice")
    bank = OrderMindingBank()
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    chain = ChainSettings(("bank",), inquiry_interval_s=0.001, deadline_s=5.0)
    host = Host.from_providers({"bank": bank}, ledger=ledger, chain=chain, plugins={"shop": ShopOrders(shop)})
    killed, _ = host.ledger.begin_payment(shop, None)  # a host was killed paying it
    attempt = host.ledger.start_attempt(killed.payment_id, "bank")
    if charged:
        bank.pay(order=shop, attempt=attempt)
    (settled,) = host.reconcile(stale_after_s=0)
    assert settled.after is (PaymentStatus.SUCCEEDED if charged else PaymentStatus.FAILED)
    assert bank.inquired == [shop]
    answer = pay(host, "SHOP-1")
    assert answer.result_code is ResultCode.SUCCESS
    assert bank.reference.charged == 990
    if not charged:  # paid anew: a second payment, recorded with the same order
        (again, _) = host.ledger.payments(trade_no="SHOP-1")
        assert (again.status, again.order) == (PaymentStatus.SUCCEEDED, shop)


# --- reconciliations at once ------------------------------------------------------------------------------------


class HeldInquiry(ReferenceProvider):
    """The reference provider, whose inquiries wait for ``release``."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    @hookimpl
    def inquire(self, attempt: Attempt) -> ProviderStatus:
        self.entered.set()
        assert self.release.wait(30), "the test never released the inquiry"
        return super().inquire(attempt)


class RefusalSignallingLedger(SQLiteLedger):
    """The SQLite ledger, saying when it refused a claim (another reconciliation holds the payment)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.refused = threading.Event()

    def claim_settlement(self, payment_id: str, lease_s: float) -> float | None:
        claim = super().claim_settlement(payment_id, lease_s)
        if claim is None:
            self.refused.set()
        return claim


def test_a_second_reconciliation_waits_for_the_first_and_finds_the_payment_settled(tmp_path: Path) -> None:
    bank = HeldInquiry()
    first = make_host(tmp_path, bank)
    _, payment = crash_after_send(first, bank, charged=True)
    second_ledger = RefusalSignallingLedger(tmp_path / "ledger.sqlite3")
    second = Host.from_providers(
        {"bank": bank}, ledger=second_ledger, chain=ChainSettings(("bank",), inquiry_interval_s=0.001, deadline_s=5.0)
    )
    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(first.reconcile, stale_after_s=0)
        assert bank.entered.wait(30)
        other = pool.submit(second.reconcile, stale_after_s=0)
        assert second_ledger.refused.wait(30)  # it found the payment held, while the first asks the provider
        bank.release.set()
        (by_first,), (by_second,) = one.result(), other.result()
    assert (by_first.after, by_first.detail) == (PaymentStatus.SUCCEEDED, "inquiry: paid")
    assert (by_second.before, by_second.after, by_second.detail) == (
        PaymentStatus.PROCESSING,
        PaymentStatus.SUCCEEDED,
        "settled elsewhere",
    )
    assert [hook for hook, _ in bank.calls].count("inquire") == 1
    stored = first.ledger.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.attempts[0].detail == "reconciliation: inquiry: paid"


def test_a_claim_left_by_a_killed_reconciliation_runs_out(tmp_path: Path) -> None:
    now = [1_000.0]
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank, clock=lambda: now[0])
    _, payment = crash_after_send(host, bank, charged=True)
    assert host.ledger.claim_settlement(payment.payment_id, 10.0) is not None  # and then that process died
    now[0] += 10.0
    (settled,) = host.reconcile(stale_after_s=0)
    assert settled.after is PaymentStatus.SUCCEEDED


# --- the answers of payments settled by reconciliation ----------------------------------------------------------


def test_a_payment_paid_before_the_crash_is_answered_as_the_chain_would(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    paid_by_chain = host.ledger.create_order(PaymentAmount("USD", "1"), merchant_id="m1", payer_id="alice")
    by_chain = pay(host, paid_by_chain.trade_no)
    assert by_chain.result_code is ResultCode.SUCCESS
    order, payment = crash_after_send(host, bank, charged=False)
    attempt = payment_attempt(host, payment.payment_id)
    answered = bank.pay(order=order, attempt=attempt)  # the host recorded the answer, then died
    host.ledger.finish_attempt(
        AttemptRecord(
            attempt, OutcomeKind.ANSWER, answered, "default", Decision.STOP, Decision.STOP, "", 1.0, ProviderStatus.PAID
        )
    )
    (settled,) = host.reconcile(stale_after_s=0)
    assert (settled.after, settled.detail) == (PaymentStatus.SUCCEEDED, "already paid")
    again = pay(host, order.trade_no)
    assert again.extended_info == {"provider": "bank", "paymentId": payment.payment_id}
    assert again.extended_info.keys() == by_chain.extended_info.keys()


def payment_attempt(host: Host, payment_id: str) -> Attempt:
    stored = host.ledger.get_payment(payment_id)
    assert stored is not None
    assert stored.pending is not None
    return stored.pending


@pytest.mark.parametrize(
    ("bank", "charged", "status", "info"),
    [
        pytest.param({}, True, PaymentStatus.SUCCEEDED, {"provider", "paymentId"}, id="paid"),
        pytest.param({}, False, PaymentStatus.FAILED, {"paymentId"}, id="not-paid"),
        pytest.param(
            {"inquiry": "unknown", "cancel": "refuse"},
            True,
            PaymentStatus.NEEDS_RECONCILIATION,
            {"provider", "paymentId"},
            id="still-unknown",
        ),
    ],
)
def test_every_stored_answer_of_a_reconciled_payment_names_its_payment(
    tmp_path: Path, bank: dict[str, str], charged: bool, status: PaymentStatus, info: set[str]
) -> None:
    # The fields a payment finished by the chain carries: "provider" when one provider's attempt decided it
    # (paid, or left unknown), "paymentId" always.
    provider = ReferenceProvider(None, **bank)
    host = make_host(tmp_path, provider)
    order, payment = crash_after_send(host, provider, charged=charged)
    (settled,) = host.reconcile(stale_after_s=0)
    assert settled.after is status
    stored = host.ledger.get_payment(payment.payment_id)
    assert stored is not None
    assert stored.result is not None
    assert set(stored.result.extended_info) == info
    assert stored.result.extended_info["paymentId"] == payment.payment_id
    assert stored.result.extended_info.get("provider", "bank") == "bank"
    if status is not PaymentStatus.FAILED:
        assert pay(host, order.trade_no) == stored.result  # a repeat gets it as stored


def test_an_interrupted_payment_stores_an_answer_naming_its_payment_and_provider(tmp_path: Path) -> None:
    bank = ReferenceProvider(script=["late_success_hang"], hang_s=30)
    host = make_host(tmp_path, bank)
    order = host.ledger.create_order(PaymentAmount("USD", "700"), merchant_id="m1", payer_id="alice")
    service = PaymentService(host)

    async def cut_off() -> None:
        task = asyncio.ensure_future(
            service.pay_async(PaymentRequest(PaymentType.ORDER_ID, order.trade_no), sample_context("alice"))
        )
        while not bank.calls:
            await asyncio.sleep(0.001)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(cut_off())
    bank.release_hangs()
    (payment,) = host.ledger.payments()
    assert payment.result is not None
    assert payment.result.result_code is ResultCode.UNKNOWN
    assert payment.result.extended_info == {"provider": "bank", "paymentId": payment.payment_id}
    assert pay(host, order.trade_no) == payment.result


@pytest.mark.parametrize("form", ["callback", "blocking"])
def test_closing_the_service_mid_payment_answers_with_the_stored_answer(tmp_path: Path, form: str) -> None:
    bank = ReferenceProvider(script=["late_success_hang"], hang_s=30)
    host = make_host(tmp_path, bank)
    order = host.ledger.create_order(PaymentAmount("USD", "700"), merchant_id="m1", payer_id="alice")
    service = PaymentService(host)
    request = PaymentRequest(PaymentType.ORDER_ID, order.trade_no)
    answers: list[PaymentResult] = []
    with ThreadPoolExecutor(1) as pool:
        if form == "callback":
            service.pay(request, sample_context("alice"), answers.append)
        else:
            blocked = pool.submit(service.pay_blocking, request, sample_context("alice"))
        while not bank.calls:
            time.sleep(0.001)
        service.close()
        if form == "blocking":
            answers.append(blocked.result(timeout=30))
    bank.release_hangs()
    (payment,) = host.ledger.payments()
    assert payment.status is PaymentStatus.NEEDS_RECONCILIATION
    assert answers == [payment.result]
    assert answers[0].extended_info == {"provider": "bank", "paymentId": payment.payment_id}


def test_the_reconcile_command_fails_while_another_reconciliation_holds_a_payment(tmp_path: Path) -> None:
    bank = ReferenceProvider()
    host = make_host(tmp_path, bank)
    _, payment = crash_after_send(host, bank, charged=True)
    assert host.ledger.claim_settlement(payment.payment_id, 3_600.0) is not None  # held, and not let go
    host.close()
    config = tmp_path / "tradepay.toml"
    config.write_text(
        '[chain]\nproviders = ["reference"]\ndeadline_s = 0.2\n'  # a claim lasts twice that: the wait is short
        f'[ledger]\nurl = "sqlite:///{tmp_path / "ledger.sqlite3"}"\nreconcile_on_start = false\n',
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "reconcile", "--all"])
    assert result.exit_code == 1, result.output
    assert "processing -> processing  (held by another reconciliation)" in result.stdout
    assert "1 payment(s) reconciled, 1 still need reconciliation" in result.stdout


def test_a_payment_of_another_books_order_shows_the_order_it_recorded(tmp_path: Path) -> None:
    ledger = SQLiteLedger(tmp_path / "ledger.sqlite3")
    payment, _ = ledger.begin_payment(Order("SHOP-7", PaymentAmount("EUR", "990"), "shop", "alice"), None)
    ledger.close()
    config = tmp_path / "tradepay.toml"
    config.write_text(
        f'[chain]\nproviders = ["reference"]\n[ledger]\nurl = "sqlite:///{tmp_path / "ledger.sqlite3"}"\n'
        "reconcile_on_start = false\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(cli, ["--config", str(config), "payments", "show", payment.payment_id])
    assert result.exit_code == 0, result.output
    assert "  order: EUR 9.90 from alice to shop, open" in result.output
