"""Random ids from the pooled random source (``_ledger/ids.py``): their shape, that none is handed out twice
(threads, blocks, a forked child), and that the source is read a block at a time."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable

import pytest

from tradepay._ledger import ids
from tradepay._ledger.ids import random_hex
from tradepay._ledger.memory import new_payment_id
from tradepay._ledger.notifications import new_event_id
from tradepay._ledger.refunds import new_refund_id


@pytest.mark.parametrize("nbytes", [1, 7, 8, 9, 10, 12, 16, 33])
def test_an_id_has_the_shape_of_token_hex(nbytes: int) -> None:
    for _ in range(600):  # past a block's 512 chunks
        assert re.fullmatch(f"[0-9a-f]{{{2 * nbytes}}}", random_hex(nbytes))


@pytest.mark.parametrize("nbytes", [0, -1])
def test_a_size_that_is_not_positive_is_refused(nbytes: int) -> None:
    with pytest.raises(ValueError, match="nbytes must be positive"):
        random_hex(nbytes)


@pytest.mark.parametrize(
    ("make", "pattern"),
    [
        (new_payment_id, r"pay_[0-9a-f]{16}"),
        (new_refund_id, r"rfd_[0-9a-f]{16}"),
        (new_event_id, r"evt_[0-9a-f]{24}"),
    ],
)
def test_the_ledgers_ids_keep_their_shape(make: Callable[[], str], pattern: str) -> None:
    made = [make() for _ in range(1200)]
    assert all(re.fullmatch(pattern, m) for m in made)
    assert len(set(made)) == len(made)


def test_every_digit_occurs_and_no_id_repeats_across_blocks() -> None:
    made = [random_hex(8) for _ in range(5000)]  # about ten blocks
    assert len(set(made)) == len(made)
    assert set("".join(made)) == set("0123456789abcdef")


def test_the_source_is_read_a_block_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[int] = []
    real = os.urandom

    def counted(n: int) -> bytes:
        reads.append(n)
        return real(n)

    monkeypatch.setattr(os, "urandom", counted)
    ids._POOL.empty()
    for _ in range(1024):
        random_hex(8)
    assert reads == [4096, 4096]  # 512 ids per read


@pytest.mark.parametrize("locked", [False, True], ids=["under-the-gil", "locked-as-without-the-gil"])
def test_threads_never_get_the_same_id(locked: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ids, "_POOL", ids._Pool(locked=locked))
    per_thread: list[list[str]] = [[] for _ in range(8)]
    start = threading.Barrier(len(per_thread))

    def take(out: list[str]) -> None:
        start.wait()
        for _ in range(5000):
            out.append(random_hex(8))

    threads = [threading.Thread(target=take, args=(out,)) for out in per_thread]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [i for out in per_thread for i in out]
    assert len(every) == 40_000
    assert len(set(every)) == len(every)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_hand_out_its_parents_ids() -> None:
    ids._POOL.empty()
    random_hex(8)  # the parent's pool now holds 511 chunks the child must not reuse
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, written to the pipe
        try:
            os.write(write, "".join(random_hex(8) for _ in range(100)).encode())
        finally:
            os._exit(0)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    with os.fdopen(read, "rb") as pipe:
        text = pipe.read().decode()
    assert os.waitstatus_to_exitcode(status) == 0
    child = {text[i : i + 16] for i in range(0, len(text), 16)}
    parent = {random_hex(8) for _ in range(100)}
    assert len(child) == 100
    assert not child & parent
