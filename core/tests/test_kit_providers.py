"""The provider kit's hooks: StoreProvider and its kin answer inquire, cancel and refunds from a ProviderStore."""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from tradepay import (
    ATTEMPTS_TABLE,
    REFUNDS_TABLE,
    AsyncRefundingStoreProvider,
    Attempt,
    AttemptRow,
    AttemptStatus,
    Capabilities,
    Order,
    PaymentAmount,
    PaymentResult,
    ProviderStatus,
    ProviderStore,
    Refund,
    RefundAnswer,
    RefundingStoreProvider,
    RefundOutcome,
    RefundReason,
    RefundStatus,
    ResultCode,
    StoreProvider,
    StoreSettings,
    StoreTransaction,
    get_logger,
    hookimpl,
    refund_refused,
    replay_payment,
)

#: A payment of USD 5.00 by alice, and its first attempt on the points provider.
ORDER, ATTEMPT = Order("T1", PaymentAmount("USD", "500"), "shop-1", "alice"), Attempt("pay-1", 1, "points", "pay-1-1")
_MOVES = (
    "CREATE TABLE moves (id INTEGER PRIMARY KEY, idempotency_key TEXT NOT NULL, kind TEXT NOT NULL, amount INTEGER)"
)


class PointsStore(ProviderStore[StoreTransaction]):
    """A store that keeps the points it gives back in ``moves``, and says which hooks asked it what."""

    not_charged = "this key took no points"

    def __init__(self, location: Path, *, refunds: bool = True) -> None:
        migrations = (ATTEMPTS_TABLE, REFUNDS_TABLE, _MOVES) if refunds else (ATTEMPTS_TABLE, _MOVES)
        super().__init__(location, schema="kit_points", migrations=migrations, where="providers.points.database")
        self.declines = False
        self.calls: list[tuple[str, str]] = []

    def lock_payment(self, tx: StoreTransaction, key: str) -> AttemptRow | None:
        self.calls.append(("lock_payment", key))
        return super().lock_payment(tx, key)

    def give_back(self, tx: StoreTransaction, paid: AttemptRow, held: int) -> None:
        tx.execute(
            "INSERT INTO moves (idempotency_key, kind, amount) VALUES (?, 'reversal', ?)", (paid.idempotency_key, held)
        )

    def moves(self) -> list[tuple[str, str, int]]:
        with self.read() as conn:
            rows = conn.execute("SELECT idempotency_key, kind, amount FROM moves ORDER BY id").fetchall()
        return [(key, kind, int(amount)) for key, kind, amount in rows]


class RefundingPointsStore(PointsStore):
    def refund_money(self, tx: StoreTransaction, paid: AttemptRow, refund: Refund) -> RefundAnswer:
        tx.execute(
            "INSERT INTO moves (idempotency_key, kind, amount) VALUES (?, 'refund', ?)",
            (refund.idempotency_key, refund.amount.minor_units),
        )
        return RefundAnswer(RefundOutcome.SUCCEEDED, None, f"{refund.amount} back as points")

    def refund_check(self, tx: StoreTransaction, paid: AttemptRow) -> RefundAnswer | None:
        return refund_refused(RefundReason.REFUND_DECLINED, "the points bank said no") if self.declines else None


def _pay(store: PointsStore, order: Order, attempt: Attempt) -> PaymentResult:
    def work(tx: StoreTransaction) -> PaymentResult:
        seen = tx.attempts.find(attempt.idempotency_key, lock=True)
        if seen is not None:
            return replay_payment(seen, order)
        result = PaymentResult(ResultCode.SUCCESS, "paid in points")
        tx.attempts.record(attempt, order, AttemptStatus.PAID, result)
        return result

    return store.write(work)


class PointsPay:
    """What the points providers below share: their events, their logger and their ``pay``."""

    events = "points"
    log = get_logger("tests.points")
    store: PointsStore

    @hookimpl
    def pay(self, order: Order, attempt: Attempt) -> PaymentResult:
        return _pay(self.store, order, attempt)


class Points(PointsPay, StoreProvider[PointsStore]):
    pass


class RefundingPoints(PointsPay, RefundingStoreProvider[PointsStore]):
    pass


class AsyncPoints(PointsPay, AsyncRefundingStoreProvider[PointsStore]):
    threads: set[int]

    def decide_refund(self, order: Order, attempt: Attempt, refund: Refund) -> RefundAnswer:
        self.threads.add(threading.get_ident())
        return super().decide_refund(order, attempt, refund)


def settings(store: PointsStore, **limits: Any) -> StoreSettings:
    return StoreSettings(Path(str(store.location)), **limits)


@pytest.fixture
def provider(tmp_path: Path) -> Iterator[RefundingPoints]:
    store = RefundingPointsStore(tmp_path / "points.sqlite3")
    made = RefundingPoints(settings(store), store)
    yield made
    made.close()


def refund_of(key: str, amount: str = "100") -> Refund:
    return Refund(key, ORDER.trade_no, ATTEMPT.payment_id, ATTEMPT, PaymentAmount("USD", amount), "req-1", "shop-1",
                  None, RefundStatus.PROCESSING)  # fmt: skip


def events(logs: Sequence[Mapping[str, Any]]) -> list[str]:
    return [entry["event"] for entry in logs]


def test_the_capabilities_are_the_settings(tmp_path: Path) -> None:
    store = PointsStore(tmp_path / "points.sqlite3")
    provider = Points(settings(store, currencies=frozenset({"USD"}), max_amount=900), store)
    assert provider.capabilities() == Capabilities(currencies=frozenset({"USD"}), max_amount=900)
    provider.close()
    provider.close()  # closing twice is harmless


def test_an_inquiry_of_a_key_never_seen_voids_it_and_says_so(provider: RefundingPoints) -> None:
    with capture_logs() as logs:
        assert provider.inquire(ORDER, ATTEMPT) is ProviderStatus.NOT_PAID
        assert provider.inquire(ORDER, ATTEMPT) is ProviderStatus.NOT_PAID

    assert events(logs) == ["points.attempt_voided", "points.inquired", "points.inquired"]
    assert [entry["seen"] for entry in logs if entry["event"] == "points.inquired"] == [False, True]
    assert provider.pay(ORDER, ATTEMPT).reason == "ATTEMPT_VOIDED"
    assert provider.store.moves() == []


def test_a_paid_key_is_inquired_paid_and_a_cancel_gives_it_back_once(provider: RefundingPoints) -> None:
    provider.pay(ORDER, ATTEMPT)
    assert provider.inquire(ORDER, ATTEMPT) is ProviderStatus.PAID

    with capture_logs() as logs:
        assert provider.cancel(ORDER, ATTEMPT) is True
        assert provider.cancel(ORDER, ATTEMPT) is True

    assert events(logs) == ["points.payment_reversed", "points.cancelled", "points.cancelled"]
    assert [entry["was"] for entry in logs if entry["event"] == "points.cancelled"] == ["paid", "reversed"]
    assert provider.store.moves() == [("pay-1-1", "reversal", 500)]
    assert provider.inquire(ORDER, ATTEMPT) is ProviderStatus.NOT_PAID
    assert provider.pay(ORDER, ATTEMPT).reason == "ATTEMPT_REVERSED"


def test_a_cancel_of_a_key_never_seen_voids_it(provider: RefundingPoints) -> None:
    with capture_logs() as logs:
        assert provider.cancel(ORDER, ATTEMPT) is True

    assert events(logs) == ["points.attempt_voided", "points.cancelled"]
    assert logs[-1]["was"] == "unseen"
    assert provider.pay(ORDER, ATTEMPT).reason == "ATTEMPT_VOIDED"


def test_a_key_that_cannot_be_recorded_is_not_paid_and_nothing_is_recorded(provider: RefundingPoints) -> None:
    # The host's Attempt refuses such a key itself; the kit must refuse it too, from any caller.
    bad = object.__new__(Attempt)
    for name, value in {"payment_id": "pay-1", "number": 1, "provider": "points", "idempotency_key": "k" * 257}.items():
        object.__setattr__(bad, name, value)
    assert provider.inquire(ORDER, bad) is ProviderStatus.NOT_PAID
    assert provider.cancel(ORDER, bad) is True
    assert provider.store.calls == []
    assert provider.pay(ORDER, ATTEMPT).result_code is ResultCode.SUCCESS  # no tombstone was left for anyone


def test_a_refund_locks_the_payment_and_moves_the_money_back_through_the_store(provider: RefundingPoints) -> None:
    provider.pay(ORDER, ATTEMPT)

    answer = provider.refund(ORDER, ATTEMPT, refund_of("ref-1", "200"))

    assert (answer.outcome, answer.message) == (RefundOutcome.SUCCEEDED, "USD 2.00 back as points")
    assert provider.refund(ORDER, ATTEMPT, refund_of("ref-1", "200")) == answer  # a repeat: its first answer
    assert provider.store.calls == [("lock_payment", "pay-1-1"), ("lock_payment", "pay-1-1")]
    assert provider.inquire_refund(ORDER, ATTEMPT, refund_of("ref-1", "200")) is RefundOutcome.SUCCEEDED
    assert provider.refund(ORDER, ATTEMPT, refund_of("ref-2", "400")).reason == "REFUND_AMOUNT_EXCEED"
    # A cancel gives back only what the refund left, and its event says what went back.
    with capture_logs() as logs:
        provider.cancel(ORDER, ATTEMPT)
    assert provider.store.moves() == [("ref-1", "refund", 200), ("pay-1-1", "reversal", 300)]
    assert [entry["amount"] for entry in logs if entry["event"] == "points.payment_reversed"] == [300]


def test_the_stores_own_check_refuses_last_and_a_key_never_charged_gets_its_message(
    provider: RefundingPoints,
) -> None:
    assert provider.refund(ORDER, ATTEMPT, refund_of("ref-1")).message == "this key took no points"
    provider.pay(ORDER, Attempt("pay-1", 2, "points", "pay-1-2"))
    provider.store.declines = True
    other = Attempt("pay-1", 2, "points", "pay-1-2")
    refund = Refund("ref-2", ORDER.trade_no, "pay-1", other, PaymentAmount("USD", "100"), "req-2", "shop-1", None,
                    RefundStatus.PROCESSING)  # fmt: skip

    answer = provider.refund(ORDER, other, refund)

    assert (answer.outcome, answer.reason) == (RefundOutcome.FAILED, "REFUND_DECLINED")
    assert provider.store.moves() == []


def test_a_provider_without_the_refund_hooks_cancels_without_a_refunds_table(tmp_path: Path) -> None:
    store = PointsStore(tmp_path / "points.sqlite3", refunds=False)
    provider = Points(settings(store), store)
    assert not hasattr(provider, "refund")
    assert not hasattr(provider, "inquire_refund")
    provider.pay(ORDER, ATTEMPT)

    assert provider.cancel(ORDER, ATTEMPT) is True

    assert provider.store.moves() == [("pay-1-1", "reversal", 500)]
    provider.close()


def test_a_store_that_does_not_refund_says_so(tmp_path: Path) -> None:
    store = PointsStore(tmp_path / "points.sqlite3")
    provider = RefundingPoints(settings(store), store)
    provider.pay(ORDER, ATTEMPT)
    with pytest.raises(NotImplementedError, match="PointsStore does not refund"):
        provider.refund(ORDER, ATTEMPT, refund_of("ref-1"))
    provider.close()


def test_the_async_hooks_are_coroutines_that_work_off_the_event_loop(tmp_path: Path) -> None:
    store = RefundingPointsStore(tmp_path / "points.sqlite3")
    provider = AsyncPoints(settings(store), store)
    provider.threads = set()
    for name in ("inquire", "cancel", "refund", "inquire_refund"):
        assert inspect.iscoroutinefunction(getattr(provider, name)), name
    _pay(provider.store, ORDER, ATTEMPT)

    async def hooks() -> tuple[int, list[object]]:
        answers: list[object] = [
            await provider.inquire(ORDER, ATTEMPT),
            (await provider.refund(ORDER, ATTEMPT, refund_of("ref-1"))).outcome,
            await provider.inquire_refund(ORDER, ATTEMPT, refund_of("ref-1")),
            await provider.cancel(ORDER, ATTEMPT),
        ]
        return threading.get_ident(), answers

    loop_thread, answers = asyncio.run(hooks())

    assert answers == [ProviderStatus.PAID, RefundOutcome.SUCCEEDED, RefundOutcome.SUCCEEDED, True]
    assert provider.threads
    assert loop_thread not in provider.threads
    assert provider.store.moves() == [("ref-1", "refund", 100), ("pay-1-1", "reversal", 400)]
    provider.close()


def test_a_key_is_recorded_paid_only_when_its_answer_moved_money() -> None:
    assert AttemptStatus.answered(PaymentResult(ResultCode.SUCCESS, "paid")) is AttemptStatus.PAID
    for code in (ResultCode.FAILED, ResultCode.USER_CANCEL, ResultCode.PROCESSING):
        assert AttemptStatus.answered(PaymentResult(code, "no")) is AttemptStatus.DECLINED
