"""Several processes (and threads) at once: a key charges once, an inquiry or a cancel racing pays stays
truthful, and a card is never charged after its removal; on SQLite and on PostgreSQL.

Each process walks the same keys in the same order, so that many keys are contended at the same moment: a
check-then-charge that is not atomic (on SQLite one immediate transaction; on PostgreSQL locked rows and the
primary key of the idempotency key) fails here within a few keys.
"""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path
from typing import Any

from card_support import Backend, make_attempt, make_order, open_provider, race

from tradepay import CardNumber, CardSecret, PaymentResult, ProviderStatus, RefundOutcome, ResultCode
from tradepay_card import CardProvider, Movement, RefundKeyStatus, RefundRow

PROCESSES = 4
KEYS = [f"pay-{n}-1" for n in range(30)]


def _race(tmp_path: Path, backend: Backend, actions: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Run one process per action over KEYS, all released together by a barrier; return their answers."""
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(actions))
    results = ctx.Queue()
    settings = dict(backend.settings)
    processes = [
        ctx.Process(target=race, args=(str(tmp_path), settings, action, KEYS, barrier, results)) for action in actions
    ]
    for process in processes:
        process.start()
    answers = [results.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=30)
        assert process.exitcode == 0
    errors = [answer for action, answer in answers if action == "error"]
    assert not errors, errors[0]
    return answers


def _enrol_alice(tmp_path: Path, backend: Backend) -> str:
    # The parent creates the database (schema included) before the children race on it.
    provider = open_provider(tmp_path, **backend.settings)
    token = provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123")).token
    provider.close()
    return token


def _movements(tmp_path: Path, backend: Backend) -> list[Movement]:
    provider = open_provider(tmp_path, **backend.settings)
    moved = provider.store.movements()
    provider.close()
    return moved


def test_each_key_charges_once_however_many_processes_send_it(tmp_path: Path, backend: Backend) -> None:
    token = _enrol_alice(tmp_path, backend)
    answers = _race(tmp_path, backend, ["pay"] * PROCESSES)
    success = {"resultCode": ResultCode.SUCCESS.value, "resultMessage": "charged Visa ending 4242", "hasError": False}
    for _, by_key in answers:
        assert [(key, {k: v for k, v in answer.items() if k != "extendedInfo"}) for key, answer in by_key.items()] == [
            (key, success) for key in KEYS
        ]
    assert sorted(_movements(tmp_path, backend), key=lambda m: m.idempotency_key) == sorted(
        (Movement(key, "charge", token, "USD", 1000) for key in KEYS), key=lambda m: m.idempotency_key
    )


def test_an_inquiry_racing_pays_never_contradicts_the_money(tmp_path: Path, backend: Backend) -> None:
    _enrol_alice(tmp_path, backend)
    answers = _race(tmp_path, backend, ["inquire"] + ["pay"] * (PROCESSES - 1))
    inquiries = next(by_key for action, by_key in answers if action == "inquire")
    pays = [by_key for action, by_key in answers if action == "pay"]
    charged = {m.idempotency_key for m in _movements(tmp_path, backend)}
    for key in KEYS:
        if inquiries[key] == ProviderStatus.PAID.value:  # a pay went first: the inquiry saw its charge
            assert key in charged
            assert all(by_key[key]["resultCode"] == ResultCode.SUCCESS.value for by_key in pays)
        else:  # the inquiry went first: its tombstone refused every pay of the key
            assert inquiries[key] == ProviderStatus.NOT_PAID.value
            assert key not in charged
            assert all(by_key[key]["extendedInfo"]["reason"] == "ATTEMPT_VOIDED" for by_key in pays)


def test_cancels_racing_pays_refund_each_charge_exactly_once(tmp_path: Path, backend: Backend) -> None:
    token = _enrol_alice(tmp_path, backend)
    answers = _race(tmp_path, backend, ["cancel", "cancel"] + ["pay"] * (PROCESSES - 2))
    assert all(by_key == dict.fromkeys(KEYS, True) for action, by_key in answers if action == "cancel")
    pays = [by_key for action, by_key in answers if action == "pay"]
    moved = _movements(tmp_path, backend)
    for key in KEYS:
        kinds = sorted(m.kind for m in moved if m.idempotency_key == key)
        reasons = {by_key[key]["extendedInfo"].get("reason") for by_key in pays}
        if kinds:  # a pay went first: charged once, and refunded once by whichever cancel came first
            assert kinds == ["charge", "refund"], key
            # A pay answered before the refund replays the charge; one after it is told it was reversed.
            assert reasons <= {None, "ATTEMPT_REVERSED"}, (key, reasons)
        else:  # a cancel went first: its tombstone refused every pay of the key
            assert reasons == {"ATTEMPT_VOIDED"}, (key, reasons)
    assert {m.card_token for m in moved} <= {token}


def test_a_card_is_never_charged_after_it_was_removed(provider: CardProvider) -> None:
    # Threads pay while another removes the payer's cards one by one, newest first: every charge must be on
    # the card that was the default when it committed, never on a card whose removal had already committed.
    cards = [provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123")) for _ in range(4)]
    removed_before: dict[str, int] = {}  # token -> number of charges committed before its removal returned
    barrier = threading.Barrier(5)
    keys = [[f"pay-{t}{n}-1" for n in range(15)] for t in range(4)]

    def pay(mine: list[str]) -> None:
        barrier.wait(timeout=30)
        for key in mine:
            provider.pay(order=make_order(), attempt=make_attempt(key))

    def remove() -> None:
        barrier.wait(timeout=30)
        for card in reversed(cards[1:]):  # the first card stays, so that every pay finds a card
            provider.remove_card("alice", card.token)
            removed_before[card.token] = len(provider.store.movements())

    threads = [threading.Thread(target=pay, args=(mine,)) for mine in keys] + [threading.Thread(target=remove)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    moved = provider.store.movements()
    assert len(moved) == 60
    for token, count in removed_before.items():
        # No charge on a removed card among those committed after the removal returned.
        assert all(m.card_token != token for m in moved[count:]), token
    # And the movements are in commit order of the charges: once a card has been left, it is never back.
    order = [m.card_token for m in moved]
    firsts = [order.index(c.token) for c in reversed(cards) if c.token in order]
    assert firsts == sorted(firsts)


def test_threads_sharing_one_provider_charge_once(provider: CardProvider) -> None:
    provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    barrier = threading.Barrier(8)
    results: list[PaymentResult] = []

    def pay() -> None:
        barrier.wait(timeout=30)
        results.extend(provider.pay(order=make_order(), attempt=make_attempt(key)) for key in KEYS)

    threads = [threading.Thread(target=pay) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(results) == 8 * len(KEYS)
    assert all(result.result_code is ResultCode.SUCCESS for result in results)
    assert sorted(m.idempotency_key for m in provider.store.movements()) == sorted(KEYS)


def _pay_in_child(provider: CardProvider, key: str, results: Any) -> None:
    """Fork target: pay with the parent's provider object, and report which database object it used."""
    result = provider.pay(order=make_order(), attempt=make_attempt(key))
    results.put((result.result_code.value, id(provider.store.database)))


def test_a_forked_child_opens_its_own_connection(provider: CardProvider) -> None:
    provider.add_card("alice", CardNumber("4242424242424242"), "12/30", CardSecret("123"))
    provider.pay(order=make_order(), attempt=make_attempt("pay-1-1"))
    parents = id(provider.store.database)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    child = ctx.Process(target=_pay_in_child, args=(provider, "pay-2-1", results))
    child.start()
    code, childs = results.get(timeout=30)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert code == ResultCode.SUCCESS.value
    # The child paid through the database object it inherited, which reconnected itself in the child (a
    # tradepay.Database never carries a connection across fork).
    assert childs == parents
    # The parent's connection is untouched and still works, and the child's write was kept.
    assert id(provider.store.database) == parents
    assert provider.pay(order=make_order(), attempt=make_attempt("pay-3-1")).result_code is ResultCode.SUCCESS
    assert [m.idempotency_key for m in provider.store.movements()] == ["pay-1-1", "pay-2-1", "pay-3-1"]


def _pay_every_key(tmp_path: Path, backend: Backend) -> None:
    provider = open_provider(tmp_path, **backend.settings)
    for key in KEYS:
        assert provider.pay(order=make_order(), attempt=make_attempt(key)).result_code is ResultCode.SUCCESS
    provider.close()


def _refunds(tmp_path: Path, backend: Backend) -> list[RefundRow]:
    provider = open_provider(tmp_path, **backend.settings)
    rows = provider.store.refunds()
    provider.close()
    return rows


def test_refunds_racing_on_one_payment_never_give_back_more_than_it_took(tmp_path: Path, backend: Backend) -> None:
    _enrol_alice(tmp_path, backend)
    _pay_every_key(tmp_path, backend)

    # Every process refunds 30% of each USD 10.00 payment under a refund key of its own: three fit, one does not.
    answers = _race(tmp_path, backend, [f"refund:{n}" for n in range(PROCESSES)])

    rows = _refunds(tmp_path, backend)
    for key in KEYS:
        outcomes = sorted(tuple(by_key[key]) for _, by_key in answers)
        assert outcomes == [("failed", "REFUND_AMOUNT_EXCEED")] + [("succeeded", None)] * 3, key
        assert sum(r.amount for r in rows if r.payment_key == key and r.status is RefundKeyStatus.SUCCEEDED) == 900


def test_repeats_of_one_refund_key_racing_refund_once_and_answer_alike(tmp_path: Path, backend: Backend) -> None:
    _enrol_alice(tmp_path, backend)
    _pay_every_key(tmp_path, backend)

    answers = _race(tmp_path, backend, ["refund:same"] * PROCESSES)

    assert all(by_key == {key: ["succeeded", None] for key in KEYS} for _, by_key in answers)
    assert sorted(r.refund_key for r in _refunds(tmp_path, backend)) == sorted(f"{key}.same" for key in KEYS)


def test_an_inquiry_racing_refunds_of_its_key_never_contradicts_the_money(tmp_path: Path, backend: Backend) -> None:
    _enrol_alice(tmp_path, backend)
    _pay_every_key(tmp_path, backend)

    answers = _race(tmp_path, backend, ["inquire_refund:same"] + ["refund:same"] * (PROCESSES - 1))

    inquiries = next(by_key for action, by_key in answers if action.startswith("inquire_refund"))
    refunds = [by_key for action, by_key in answers if action.startswith("refund")]
    states = {r.payment_key: r.status for r in _refunds(tmp_path, backend)}
    for key in KEYS:
        if inquiries[key] == RefundOutcome.SUCCEEDED.value:  # a refund went first: the inquiry saw it
            assert states[key] is RefundKeyStatus.SUCCEEDED
            assert all(by_key[key] == ["succeeded", None] for by_key in refunds)
        else:  # the inquiry went first: its tombstone refused every refund of the key
            assert states[key] is RefundKeyStatus.VOIDED
            assert all(by_key[key] == ["failed", "REFUND_VOIDED"] for by_key in refunds)


def test_refunds_and_cancels_racing_give_back_what_each_payment_took_once(tmp_path: Path, backend: Backend) -> None:
    token = _enrol_alice(tmp_path, backend)
    _pay_every_key(tmp_path, backend)

    _race(tmp_path, backend, ["cancel", "refund:a", "refund:b", "refund:c"])

    rows, moved = _refunds(tmp_path, backend), _movements(tmp_path, backend)
    for key in KEYS:
        refunded = sum(r.amount for r in rows if r.payment_key == key and r.status is RefundKeyStatus.SUCCEEDED)
        reversed_ = sum(m.amount for m in moved if m.idempotency_key == key and m.kind == "refund")
        assert refunded + reversed_ == 1000, key
    assert {m.card_token for m in moved} == {token}
