"""A bounded pool of daemon threads for sync provider calls.

The standard ``ThreadPoolExecutor`` joins its threads when the interpreter exits, so one provider that hangs
forever would keep the whole host from exiting. Here a hang costs one daemon thread and nothing else: the
caller stops waiting at the deadline, and the process can still exit.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

__all__ = ["DaemonPool"]

T = TypeVar("T")
_Work = tuple[Future[Any], Callable[[], Any]]


class DaemonPool:
    """Runs callables on at most ``size`` daemon threads, started on demand; extra work waits in a queue."""

    def __init__(self, size: int, name: str = "tradepay-provider") -> None:
        self._size = size
        self._name = name
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        """Schedule ``fn()``; its future can be cancelled until a thread starts it."""
        future: Future[T] = Future()
        self._queue.put((future, fn))
        if not self._idle.acquire(blocking=False):
            with self._lock:
                if len(self._threads) < self._size:
                    thread = threading.Thread(target=self._work, name=f"{self._name}-{len(self._threads)}", daemon=True)
                    self._threads.append(thread)
                    thread.start()
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn())
                except BaseException as exc:  # the caller decides what a provider's exception means
                    future.set_exception(exc)
            del item, future, fn
            self._idle.release()

    def shutdown(self) -> None:
        """Ask idle threads to exit; threads stuck in a provider call are left to die with the process."""
        for _ in self._threads:
            self._queue.put(None)
