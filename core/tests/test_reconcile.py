"""Reconciliation settles what a crash left behind, through the provider's inquiry, and never pays twice."""

from __future__ import annotations

import asyncio
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
)
from tradepay._cli import cli
from tradepay._sql_ledger import SQLiteLedger
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
