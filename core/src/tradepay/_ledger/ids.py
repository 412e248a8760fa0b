"""Random ids: payment, refund and event ids and trade numbers.

Every id is hex text from the operating system's random source (``os.urandom``, as ``secrets.token_hex``
reads it), so ids stay unguessable; but the source is read 4 KiB at a time rather than once per id. Each read
is a system call, which on the virtual machines hosts run on costs far more than its instructions show (no
instruction count sees it). Measured (``timeit``): ``secrets.token_hex(8)`` 570 to 635 ns, ``random_hex(8)``
230 to 265 ns; a 3-attempt payment at ``warning`` 2.8 % less CPU time (docs/performance.md, the fifth pass).

The pool hands each 8-byte chunk out once, to one caller:

* **Threads.** Under the GIL, ``next()`` of a list's iterator is one step of the interpreter, so two threads
  never take the same chunk; two threads that find it empty at once each read a block of their own, and the
  block that loses is dropped unused. An interpreter built without the GIL (free-threaded CPython 3.13 and
  later) gives no such promise, so there each chunk is taken under a lock (measured here: 247 ns a take with
  the lock, 45 without, which is why the lock is not taken where the GIL serves).
* **Processes.** A forked child starts with an empty pool (``os.register_at_fork``): it would otherwise hand
  out the ids its parent hands out too.

``core/tests/test_ids.py`` checks the shape, uniqueness under threads, and the fork.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator

__all__ = ["random_hex"]

_CHUNK = 8  # bytes per chunk: a payment id's randomness, and a whole number of chunks for every other id
_BLOCK = 4096  # bytes per read of the random source: 512 chunks


def _block() -> Iterator[str]:
    text = os.urandom(_BLOCK).hex()
    step = 2 * _CHUNK
    return iter([text[i : i + step] for i in range(0, len(text), step)])


class _Pool:
    __slots__ = ("_lock", "chunk", "chunks")

    def __init__(self, *, locked: bool) -> None:
        self.chunks: Iterator[str] = iter(())
        self._lock = threading.Lock()
        self.chunk = self._locked_chunk if locked else self._unlocked_chunk

    def _unlocked_chunk(self) -> str:
        try:
            return next(self.chunks)
        except StopIteration:
            chunks = self.chunks = _block()
            return next(chunks)

    def _locked_chunk(self) -> str:
        with self._lock:
            return self._unlocked_chunk()

    def empty(self) -> None:
        self.chunks = iter(())


_GIL = getattr(sys, "_is_gil_enabled", lambda: True)()  # the function exists from CPython 3.13
_POOL = _Pool(locked=not _GIL)
os.register_at_fork(after_in_child=_POOL.empty)


def random_hex(nbytes: int) -> str:
    """``2 * nbytes`` random hex digits (``secrets.token_hex(nbytes)``'s shape), never handed out twice."""
    if nbytes <= 0:
        raise ValueError(f"nbytes must be positive, got {nbytes}")
    chunk = _POOL.chunk
    text = chunk()
    if nbytes == _CHUNK:  # a payment's id: one chunk as it is
        return text
    digits = 2 * nbytes
    while len(text) < digits:
        text += chunk()
    return text[:digits]
