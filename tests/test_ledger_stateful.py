"""The ledger as a Hypothesis state machine: orders (the ledger's own, and those of an order book of the super
app's own), payments, repeats, parallel duplicates, scripted outcomes (late successes included), crashes and
restarts, a service closed mid-call, bank outages and reconciliation (by one host, or by two at once), on a
real SQLite ledger and two durable banks.

Refunds of paid orders join them: partial ones, repeats of a request id (with the same fields or others),
declines, unknown answers, crashes before and after the bank refunded, and their reconciliation.

After every step the files themselves are checked: at most one successful attempt per order; the money the
banks hold equals the ledger's succeeded payments (and while some are unsettled, every charge belongs to one
of them and no order is charged twice); no attempt N+1 while attempt N is unresolved; terminal states never
change; no attempt follows a user cancel; every stored answer names its payment (and the provider whose
attempt decided it), whichever path ended the payment. And for refunds: the ledger's succeeded and in-flight
refunds of a payment never exceed it, each goes to the payment's paid attempt, the banks' refunds of a key
never exceed what it took, every refund a bank made is one the ledger recorded first (no refund moves money
twice: one bank row per refund key), a ledger refund that succeeded or failed agrees with its bank, and a
reconciliation with the banks answering leaves every refund final.

And the notification outbox: the ledger's own orders' merchant is notified, the order book's is not; the
events in the file are exactly one per final state of the notified merchant's payments and refunds, crashes
included, and each order's events are numbered 1, 2, 3, ...
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path
from typing import TYPE_CHECKING

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from tradepay import (
    ChainSettings,
    Host,
    Order,
    PaymentAmount,
    PaymentRequest,
    PaymentResult,
    PaymentService,
    PaymentType,
    RefundService,
    ResultCode,
    ResultStatus,
)
from tradepay._ledger.merchants import merchant_book
from tradepay._ledger.reconcile import Settlement
from tradepay.testing import sample_context

# pytest's importlib mode puts no test folder on sys.path; the helpers are imported by their plain names.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))
if TYPE_CHECKING:  # mypy knows this folder as the package `tests`
    from tests import ledger_bank
    from tests import ledger_checks as checks
    from tests import ledger_refund_bank as refund_bank
else:
    import ledger_bank
    import ledger_checks as checks
    import ledger_refund_bank as refund_bank

BANKS = ("bank_a", "bank_b")
CONTEXT = sample_context()
DUPLICATES = 4
AMOUNTS = st.integers(1, 10_000)
NOTIFY_URL = "https://shop-1.example/notify"
Out = ledger_bank.BankOutcome
PAYING = st.sampled_from(
    [
        Out.SUCCESS,
        Out.DECLINE,
        Out.USER_CANCEL,
        Out.TIMEOUT_ERROR,
        Out.LATE_SUCCESS,
        Out.EXCEPTION,
        Out.CHARGE_THEN_EXCEPTION,
    ]
)
CRASHING = st.one_of(
    PAYING, st.sampled_from([Out.CRASH_BEFORE_CHARGE, Out.CRASH_AFTER_CHARGE, Out.INTERRUPT_AFTER_CHARGE])
)
Refunding = refund_bank.RefundBehaviour
REFUNDING = st.sampled_from([Refunding.SUCCEED, Refunding.DECLINE, Refunding.LATE, Refunding.EXCEPTION])
REFUND_CRASHES = st.sampled_from([Refunding.CRASH_BEFORE, Refunding.CRASH_AFTER])
#: The ledger refund statuses that count against the payment, and the final ones.
COUNTED = frozenset({"processing", "succeeded", "needs_reconciliation"})
#: What a request answer says about the payment it created.
STATUS_OF = {"9000": "succeeded", "4000": "failed", "6001": "cancelled", "6004": "needs_reconciliation"}


def request(trade_no: str) -> PaymentRequest:
    return PaymentRequest(PaymentType.ORDER_ID, trade_no)


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self._tmp = tempfile.TemporaryDirectory(prefix="tradepay-ledger-machine-")
        root = Path(self._tmp.name)
        self.ledger_path = root / "ledger.sqlite3"
        self.bank_paths = [root / f"{name}.sqlite3" for name in BANKS]
        self.amounts: dict[str, int] = {}
        self.modes = dict.fromkeys(BANKS, ledger_bank.BankMode.UP)
        self.terminal: dict[str, tuple[str, str | None]] = {}  # payment -> (status, result) once terminal
        self.settled: dict[str, str] = {}  # attempt key -> paid / not_paid once settled
        self.view = checks.LedgerFile({}, {}, {})
        self.book = ledger_bank.OrderBook()  # outlives every host, as the super app's own orders do
        # (merchant, refund request id) -> (trade_no, amount) first asked: a request id is unique per merchant.
        self.requests: dict[tuple[str, str], tuple[str, int]] = {}
        self.final_refunds: dict[str, str] = {}  # refund id -> succeeded / failed once final
        self._boot()

    # --- the host's life ----------------------------------------------------------------------------------

    def _host(self) -> tuple[Host, ledger_bank.CrashSwitch, ledger_bank.CrashableLedger, dict[str, ledger_bank.Bank]]:
        """A host on the files, with connections of its own, and its switch, ledger and banks."""
        switch = ledger_bank.CrashSwitch()
        ledger = refund_bank.RefundCrashableLedger(self.ledger_path, switch=switch)
        banks: dict[str, ledger_bank.Bank] = {
            name: refund_bank.RefundingBank(path, switch=switch)
            for name, path in zip(BANKS, self.bank_paths, strict=True)
        }
        chain = ChainSettings(
            providers=BANKS, deadline_s=30.0, provider_deadline_s=20.0, inquiry_attempts=2, inquiry_interval_s=0.001
        )
        host = Host.from_providers(dict(banks), chain=chain, ledger=ledger, plugins={"shop-orders": self.book})
        return host, switch, ledger, banks

    def _boot(self) -> None:
        """Start a host on the files, as a process that starts would (no reconciliation: that is a rule)."""
        self.host, self.switch, self.ledger, self.banks = self._host()
        self.service = PaymentService(self.host)
        self.refunds = RefundService(self.host)

    def _shutdown(self) -> None:
        self.service.close()
        self.host.close()

    def teardown(self) -> None:
        self._shutdown()
        self._tmp.cleanup()

    def _script(self, first: ledger_bank.BankOutcome, second: ledger_bank.BankOutcome) -> None:
        self.banks["bank_a"].script([first])
        self.banks["bank_b"].script([second])

    def _unscript(self) -> None:
        for bank in self.banks.values():
            bank.script([])

    def _pay_calls(self) -> int:
        return sum(bank.pay_calls() for bank in self.banks.values())

    def _newest(self, view: checks.LedgerFile, trade_no: str) -> checks.PaymentRow | None:
        payments = view.by_order.get(trade_no, ())
        return payments[-1] if payments else None

    def _orders_where(self, live: bool) -> list[str]:
        return sorted(
            t for t in self.amounts if any(p.status in checks.LIVE for p in self.view.by_order.get(t, ())) is live
        )

    # --- what an answer must agree with ---------------------------------------------------------------------

    def _check_answer(self, trade_no: str, before: checks.PaymentRow | None, calls: int, result: PaymentResult) -> None:
        view = checks.read_ledger(self.ledger_path)
        after = self._newest(view, trade_no)
        assert after is not None
        if before is not None and before.status in checks.LIVE:
            # A repeat: no provider is called, no payment is made.
            assert self._pay_calls() == calls, "a repeat called a provider"
            assert after.payment_id == before.payment_id, "a repeat made a new payment"
            if before.result is not None:  # finished (even if unsettled): its stored answer
                assert result.to_dict() == json.loads(before.result), "a repeat changed the answer"
            else:
                assert result.result_code is ResultCode.PROCESSING
                assert result.extended_info.get("paymentId") == before.payment_id
            return
        assert before is None or after.payment_id != before.payment_id, "no new payment was made"
        assert result.extended_info.get("paymentId") == after.payment_id
        assert result.to_dict() == json.loads(after.result or "null"), "the answer is not the one stored"
        assert after.status == STATUS_OF[result.result_code.value], (after.status, result)

    def _pay_and_check(self, trade_no: str, first: ledger_bank.BankOutcome, second: ledger_bank.BankOutcome) -> None:
        before = self._newest(self.view, trade_no)
        calls = self._pay_calls()
        if trade_no in self.book.orders:
            event("paid an order of the super app's own book")
        self._script(first, second)
        result = self.service.pay_blocking(request(trade_no), CONTEXT)
        self._unscript()
        event(f"answer {result.result_code.value}")
        self._check_answer(trade_no, before, calls, result)

    def _reconcile(self, hosts: int = 1) -> None:
        """Reconcile with this host, or with ``hosts`` hosts on the same files at once (the others built for
        the occasion): together they report every payment that was unsettled, each as it ended."""
        before = checks.read_ledger(self.ledger_path)
        others = [self._host() for _ in range(hosts - 1)]
        barrier = threading.Barrier(hosts)

        def run(host: Host) -> list[Settlement]:
            barrier.wait(timeout=30)
            return host.reconcile(stale_after_s=0)

        with ThreadPoolExecutor(hosts) as pool:
            futures = [pool.submit(run, host) for host in [self.host, *(other[0] for other in others)]]
            reports = [future.result(timeout=300) for future in futures]
            # Then the refunds, by every host at once too: each is settled once, the others find it settled.
            barrier.reset()
            refund_runs = [
                pool.submit(lambda h: (barrier.wait(timeout=30), h.reconcile_refunds(stale_after_s=0))[1], host)
                for host in [self.host, *(other[0] for other in others)]
            ]
            refund_reports = [future.result(timeout=300) for future in refund_runs]
        for other, *_ in others:
            other.close()
        settlements = [settlement for report in reports for settlement in report]
        if hosts > 1:
            event(f"reconciled on {hosts} hosts at once")
        for settlement in settlements:
            event(f"reconciled {settlement.before.value} -> {settlement.after.value}")
        view = checks.read_ledger(self.ledger_path)
        assert {s.payment_id for s in settlements} == {p.payment_id for p in before.unsettled}
        for settlement in settlements:
            assert view.payments[settlement.payment_id].status == settlement.after.value, settlement
        for payment in view.unsettled:
            # Only a provider that can neither be asked nor cancel leaves a payment unsettled.
            open_attempts = [a for a in payment.attempts if a.state in ("sent", "unknown")]
            assert open_attempts, f"{payment.payment_id} left unsettled with every attempt settled"
            assert self.modes[open_attempts[-1].provider] is ledger_bank.BankMode.DOWN, payment
        refunds = refund_bank.read_ledger_refunds(self.ledger_path)
        for report in refund_reports:
            for settled in report:
                event(f"refund reconciled {settled.before.value} -> {settled.after.value}")
        for refund in refunds.values():
            if refund.status in ("processing", "needs_reconciliation"):
                # Only a bank that cannot say (down, or unknown) leaves a refund unsettled.
                provider = next(a.provider for _, a in view.attempts() if a.key == refund.attempt_key)
                assert self.modes[provider] is not ledger_bank.BankMode.UP, refund

    # --- rules ------------------------------------------------------------------------------------------------

    def _create_order(self, amount: int, *, elsewhere: bool = False) -> str:
        """An order of the ledger's own book, or (``elsewhere``) of the super app's order book alone."""
        trade_no = f"{'S' if elsewhere else 'T'}{len(self.amounts) + 1}"
        value = PaymentAmount("USD", str(amount))
        if elsewhere:
            self.book.orders[trade_no] = Order(trade_no, value, "shop-2", "payer-2")
        else:
            self.ledger.create_order(value, merchant_id="shop-1", payer_id="payer-1", trade_no=trade_no)
        self.amounts[trade_no] = amount
        return trade_no

    @initialize(amounts=st.lists(AMOUNTS, min_size=3, max_size=3))
    def create_orders(self, amounts: list[int]) -> None:
        """A few orders from the start, so that every run pays (rules are switched off at random per run); the
        last of them from the super app's own order book."""
        merchant_book(self.ledger).add_merchant("shop-1", "-----BEGIN PUBLIC KEY-----", NOTIFY_URL)
        merchant_book(self.ledger).add_merchant("shop-2", "-----BEGIN PUBLIC KEY-----")  # not notified
        for n, amount in enumerate(amounts):
            self._create_order(amount, elsewhere=n == len(amounts) - 1)

    @rule(amount=AMOUNTS, elsewhere=st.booleans())
    def create_order(self, amount: int, elsewhere: bool) -> None:
        self._create_order(amount, elsewhere=elsewhere)

    @precondition(lambda self: bool(self._orders_where(live=False)))
    @rule(data=st.data())
    def pay(self, data: st.DataObject) -> None:
        """Pay an order that has no live payment (new, or its last payment failed or was cancelled)."""
        trade_no = data.draw(st.sampled_from(self._orders_where(live=False)), label="trade_no")
        self._pay_and_check(trade_no, data.draw(PAYING, label="bank_a"), data.draw(PAYING, label="bank_b"))

    @precondition(lambda self: bool(self._orders_where(live=True)))
    @rule(data=st.data())
    def pay_again(self, data: st.DataObject) -> None:
        """A repeat of an order that has a live payment: scripted to charge, had any provider been called."""
        trade_no = data.draw(st.sampled_from(self._orders_where(live=True)), label="trade_no")
        self._pay_and_check(trade_no, Out.SUCCESS, Out.SUCCESS)

    @precondition(lambda self: any(self.host.chain.circuit(name) != "open" for name in BANKS))
    @rule(data=st.data())
    def pay_in_parallel(self, data: st.DataObject) -> None:
        """DUPLICATES requests for one order released together, through the service's loop or each in a loop
        of its own thread (the ledger then sees truly concurrent calls). The first bank call waits until the
        other requests have found the payment in flight, so the race, and the run, is decided by the ledger
        alone (Hypothesis needs runs it can replay)."""
        trade_no = data.draw(st.sampled_from(sorted(self.amounts)), label="trade_no")
        first, second = data.draw(PAYING, label="bank_a"), data.draw(PAYING, label="bank_b")
        own_loops = data.draw(st.booleans(), label="own_loops")
        before = self._newest(self.view, trade_no)
        known = {p.payment_id for p in self.view.by_order.get(trade_no, ())}
        calls = self._pay_calls()
        self._script(first, second)
        barrier = threading.Barrier(DUPLICATES)
        arrivals = threading.Semaphore(0)
        opened = threading.Event()
        results: list[PaymentResult] = []

        def gate() -> None:
            if not opened.is_set():
                for _ in range(DUPLICATES - 1):
                    assert arrivals.acquire(timeout=30), "the other requests never arrived"
                opened.set()

        def one() -> None:
            barrier.wait(timeout=30)
            if own_loops:
                results.append(asyncio.run(self.service.pay_async(request(trade_no), CONTEXT)))
            else:
                results.append(self.service.pay_blocking(request(trade_no), CONTEXT))

        self.ledger.on_repeat = arrivals.release
        for bank in self.banks.values():
            bank.gate = gate
        threads = [threading.Thread(target=one) for _ in range(DUPLICATES)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.ledger.on_repeat = None
        for bank in self.banks.values():
            bank.gate = None
        self._unscript()
        assert len(results) == DUPLICATES
        view = checks.read_ledger(self.ledger_path)
        if before is not None and before.status in checks.LIVE:
            for result in results:
                self._check_answer(trade_no, before, calls, result)
            return
        [made] = [p for p in view.by_order[trade_no] if p.payment_id not in known]
        # One request made the payment and got its stored answer; the others were told it is in progress.
        stored = json.loads(made.result or "null")
        assert [r.to_dict() for r in results if r.result_code is not ResultCode.PROCESSING] == [stored]
        for result in results:
            assert result.extended_info.get("paymentId") == made.payment_id

    @precondition(lambda self: bool(self._orders_where(live=False)))
    @rule(data=st.data())
    def pay_and_crash(self, data: st.DataObject) -> None:
        """Pay, with the host dying at a chosen point (a bank's crash outcome, or else right after the
        ledger's N-th write of the payment commits); then start a new host on the same files, which reconciles
        at once or not: requests may reach it before any reconciliation (they get the stored answer, or 8000
        while the payment is processing, and call no provider)."""
        trade_no = data.draw(st.sampled_from(self._orders_where(live=False)), label="trade_no")
        first, second = data.draw(CRASHING, label="bank_a"), data.draw(CRASHING, label="bank_b")
        after_writes = data.draw(st.integers(1, 6), label="crash_after_writes")
        reconcile_at_start = data.draw(st.booleans(), label="reconcile_at_start")
        before = self._newest(self.view, trade_no)
        calls = self._pay_calls()
        self.ledger.crash_after(after_writes)
        self._script(first, second)
        try:
            result = self.service.pay_blocking(request(trade_no), CONTEXT)
        except ledger_bank.SimulatedCrash as crash:
            event(f"died: {self.switch.where or crash}")
        else:
            self.ledger.crash_after(None)
            self._unscript()
            self._check_answer(trade_no, before, calls, result)
        self._shutdown()
        self._boot()
        if reconcile_at_start:
            self._reconcile()

    @precondition(lambda self: bool(self._orders_where(live=False)))
    @rule(data=st.data())
    def pay_and_close_service(self, data: st.DataObject) -> None:
        """Close the service while a bank call hangs: the caller is answered 6004 and the payment is left for
        reconciliation; the bank then charges (or not) after the host stopped waiting, before or after the
        reconciliation asks about it. A key asked about first is void: its late charge must be refused."""
        trade_no = data.draw(st.sampled_from(self._orders_where(live=False)), label="trade_no")
        charge = data.draw(st.booleans(), label="charge")
        release_first = data.draw(st.booleans(), label="release_first")
        hang = ledger_bank.Hang()
        outcome = Out.HANG_THEN_CHARGE if charge else Out.HANG_THEN_DECLINE
        for bank in self.banks.values():
            bank.hang = hang
        self._script(outcome, outcome)
        answers: list[PaymentResult] = []

        def answered(result: PaymentResult) -> None:
            answers.append(result)
            hang.entered.set()

        self.service.pay(request(trade_no), CONTEXT, answered)
        assert hang.entered.wait(timeout=30)
        if answers:  # every circuit was open: no bank was called, nothing hangs
            self._unscript()
            return
        self.service.close()
        assert [a.result_code for a in answers] == [ResultCode.UNKNOWN]
        self.service = PaymentService(self.host)
        if not release_first:
            self._reconcile()
        hang.release.set()
        assert hang.done.wait(timeout=30)
        self._unscript()
        if release_first:
            self._reconcile()

    def _paid_orders(self) -> list[str]:
        return sorted(
            t for t in self.amounts if (p := self._newest(self.view, t)) is not None and p.status == "succeeded"
        )

    @staticmethod
    def _merchant(trade_no: str) -> str:
        return "shop-2" if trade_no.startswith("S") else "shop-1"  # see _create_order

    def _refund_request(self, data: st.DataObject) -> tuple[str, int, str]:
        """A paid order, an amount and a request id: new, or one asked before (for the same order and amount,
        or for others)."""
        repeat = bool(self.requests) and data.draw(st.booleans(), label="repeat_request_id")
        if repeat:
            key = data.draw(st.sampled_from(sorted(self.requests)), label="request")
            first = self.requests[key]
            if data.draw(st.booleans(), label="same_fields"):
                return first[0], first[1], key[1]
            trade_no = data.draw(st.sampled_from(self._paid_orders()), label="trade_no")
            return trade_no, data.draw(st.integers(1, self.amounts[trade_no]), label="amount"), key[1]
        trade_no = data.draw(st.sampled_from(self._paid_orders()), label="trade_no")
        amount = data.draw(st.integers(1, self.amounts[trade_no]), label="amount")
        return trade_no, amount, f"R{len(self.requests) + 1}"

    def _script_refunds(self, behaviour: refund_bank.RefundBehaviour) -> None:
        for bank in self.banks.values():
            assert isinstance(bank, refund_bank.RefundingBank)
            bank.script_refunds([behaviour])

    @precondition(lambda self: bool(self._paid_orders()))
    @rule(data=st.data())
    def refund(self, data: st.DataObject) -> None:
        """Refund part of a paid order (or repeat a request id); the answer agrees with what was recorded."""
        trade_no, amount, request_id = self._refund_request(data)
        behaviour = data.draw(REFUNDING, label="refund_behaviour")
        before = refund_bank.read_ledger_refunds(self.ledger_path)
        self._script_refunds(behaviour)
        answer = self.refunds.refund(trade_no, str(amount), request_id)
        self._script_refunds(Refunding.SUCCEED)
        event(f"refund {answer.result_status.value} {answer.result_code}")
        after = refund_bank.read_ledger_refunds(self.ledger_path)
        key = (self._merchant(trade_no), request_id)
        first = self.requests.get(key)
        if first is not None and first != (trade_no, amount):
            assert (answer.result_code, answer.refund) == ("REPEAT_REQ_INCONSISTENT", None), answer
        if answer.refund is None:  # refused: nothing recorded
            assert after == before, answer
            assert answer.result_status is ResultStatus.FAILED
            if answer.result_code == "REFUND_AMOUNT_EXCEED":
                paid = self._newest(self.view, trade_no)
                assert paid is not None
                of_payment = [r for r in before.values() if r.payment_id == paid.payment_id]
                counted = sum(r.amount for r in of_payment if r.status in COUNTED)
                assert counted + amount > self.amounts[trade_no], (counted, amount)
            return
        recorded = after[answer.refund.refund_id]
        assert recorded.status == answer.refund.status.value
        if answer.refund.refund_id in before:  # a repeat: the first refund, nothing new
            assert first == (trade_no, amount), "a repeat with other fields was answered from the first refund"
            assert len(after) == len(before)
            return
        assert first is None, "a request id used before made a second refund"
        self.requests[key] = (trade_no, amount)
        assert len(after) == len(before) + 1
        expected = {ResultStatus.SUCCESS: "succeeded", ResultStatus.FAILED: "failed"}
        assert recorded.status == expected.get(answer.result_status, "needs_reconciliation"), (answer, recorded)

    @precondition(lambda self: bool(self._paid_orders()))
    @rule(data=st.data())
    def refund_and_crash(self, data: st.DataObject) -> None:
        """A refund during which the host dies (before or after the bank refunded); a new host starts on the
        files, and reconciles at once or not."""
        trade_no, amount, request_id = self._refund_request(data)
        behaviour = data.draw(REFUND_CRASHES, label="refund_crash")
        reconcile_at_start = data.draw(st.booleans(), label="reconcile_at_start")
        self._script_refunds(behaviour)
        try:
            answer = self.refunds.refund(trade_no, str(amount), request_id)
        except ledger_bank.SimulatedCrash as crash:
            event(f"died: {self.switch.where or crash}")
            self.requests.setdefault((self._merchant(trade_no), request_id), (trade_no, amount))
        else:  # refused before the bank was asked (or answered from the first refund)
            self._script_refunds(Refunding.SUCCEED)
            if answer.refund is not None:
                self.requests.setdefault((self._merchant(trade_no), request_id), (trade_no, amount))
        self._shutdown()
        self._boot()
        if reconcile_at_start:
            self._reconcile()

    @rule()
    def reconcile(self) -> None:
        self._reconcile()

    @precondition(lambda self: bool(self.view.unsettled))
    @rule()
    def reconcile_on_two_hosts_at_once(self) -> None:
        """Two hosts reconcile the same files at the same moment (two ``tradepay reconcile`` runs, or two hosts
        starting): each payment is settled once, and both report how it ended."""
        self._reconcile(hosts=2)

    @rule(bank=st.sampled_from(BANKS), mode=st.sampled_from(list(ledger_bank.BankMode)))
    def set_bank_mode(self, bank: str, mode: ledger_bank.BankMode) -> None:
        self.banks[bank].set_mode(mode)
        self.modes[bank] = mode

    # --- invariants -----------------------------------------------------------------------------------------

    @invariant()
    def money_is_safe(self) -> None:
        view = checks.read_ledger(self.ledger_path)
        checks.check_ledger(view)
        checks.check_money(view, checks.read_bank_money(self.bank_paths))
        for payment_id, seen in self.terminal.items():
            payment = view.payments.get(payment_id)
            assert payment is not None, f"payment {payment_id} disappeared"
            assert (payment.status, payment.result) == seen, f"terminal payment {payment_id} changed"
        for _, attempt in view.attempts():
            if attempt.state in ("paid", "not_paid"):
                assert self.settled.setdefault(attempt.key, attempt.state) == attempt.state, attempt
        assert self.settled.keys() <= {a.key for _, a in view.attempts()}, "a settled attempt disappeared"
        for payment in view.payments.values():
            if payment.status in checks.TERMINAL:
                self.terminal.setdefault(payment.payment_id, (payment.status, payment.result))
        assert {p.payment_id for p in self.view.payments.values()} <= view.payments.keys()
        self._refunds_are_safe(view)
        self.view = view

    def _refunds_are_safe(self, view: checks.LedgerFile) -> None:
        refund_bank.check_refunds(view, self.ledger_path, self.bank_paths)
        ledger = refund_bank.read_ledger_refunds(self.ledger_path)
        for refund in ledger.values():
            if refund.status in ("succeeded", "failed"):
                seen = self.final_refunds.setdefault(refund.refund_id, refund.status)
                assert seen == refund.status, f"final refund {refund.refund_id} changed"
        assert self.final_refunds.keys() <= ledger.keys(), "a final refund disappeared"

    @invariant()
    def events_are_the_notified_final_states(self) -> None:
        with closing(sqlite3.connect(self.ledger_path, timeout=30)) as db:
            ended = set(
                db.execute(
                    "SELECT 'notifyPayment', payment_id FROM payments"
                    " WHERE merchant_id = 'shop-1' AND status IN ('succeeded', 'failed', 'cancelled')"
                    " UNION ALL SELECT 'notifyRefund', refund_id FROM refunds"
                    " WHERE merchant_id = 'shop-1' AND status IN ('succeeded', 'failed')"
                ).fetchall()
            )
            rows = db.execute("SELECT kind, subject_id, trade_no, sequence FROM notifications").fetchall()
        events = [(kind, subject) for kind, subject, _, _ in rows]
        assert len(events) == len(set(events)), f"a state change has two events: {sorted(events)}"
        assert set(events) == ended, f"events {sorted(events)} are not the final states {sorted(ended)}"
        by_order: dict[str, list[int]] = {}
        for _, _, trade_no, sequence in rows:
            by_order.setdefault(trade_no, []).append(sequence)
        for trade_no, sequences in by_order.items():
            assert sorted(sequences) == list(range(1, len(sequences) + 1)), (trade_no, sequences)


LedgerMachine.TestCase.settings = settings(
    max_examples=50,
    stateful_step_count=20,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestLedgerMachine = LedgerMachine.TestCase
