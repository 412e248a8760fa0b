"""``tradepay pay`` on a terminal: a status line on standard error while the payment waits on a provider.

A provider that hangs holds the payment until its deadline (ten seconds by default): silence that long reads
as a frozen command. :class:`WaitingLine` is an observer plugin of the host (``attempt_started`` and
``attempt_finished``); once an attempt has waited :data:`SHOW_AFTER_S`, it keeps one line on standard error
up to date, ``waiting on provider wallet (attempt #1) for 3 s``, and erases it when the attempt ends. It is
only registered when standard error is a terminal and the output is not JSON, so that pipes, logs and
programs never see it.
"""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import TextIO

from .._chain.capabilities import Attempt
from .._chain.hookspecs import hookimpl

__all__ = ["SHOW_AFTER_S", "WaitingLine", "stderr_is_terminal", "waiting_line"]

#: How long an attempt may take before the status line appears: most answers come well within it.
SHOW_AFTER_S = 1.0
#: How often the line is brought up to date.
_REFRESH_S = 0.25
_ERASE = "\r\x1b[K"  # back to the start of the line, and clear it


def stderr_is_terminal() -> bool:
    """True when standard error is a terminal (not a pipe, a file or a test runner's buffer)."""
    isatty = getattr(sys.stderr, "isatty", None)
    return bool(isatty and isatty())


class WaitingLine:
    """The status line, kept on ``stream`` while an attempt is in flight for at least ``show_after_s``."""

    def __init__(
        self, stream: TextIO, *, show_after_s: float = SHOW_AFTER_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._stream = stream
        self._show_after_s = show_after_s
        self._clock = clock
        self._lock = threading.Lock()
        self._current: tuple[str, int, float] | None = None
        self._shown = False

    @hookimpl
    def attempt_started(self, attempt: Attempt) -> None:
        """An attempt was recorded and its provider is called: start counting."""
        with self._lock:
            self._current = (attempt.provider, attempt.number, self._clock())

    @hookimpl
    def attempt_finished(self) -> None:
        """The attempt ended (after any inquiry): erase the line."""
        with self._lock:
            self._current = None
            self._erase()

    def refresh(self) -> None:
        """Write the line if the attempt in flight has waited long enough (called by the refresher thread)."""
        with self._lock:
            if self._current is None:
                return
            provider, number, since = self._current
            waited = self._clock() - since
            if waited < self._show_after_s:
                return
            self._stream.write(f"{_ERASE}waiting on provider {provider} (attempt #{number}) for {waited:.0f} s")
            self._stream.flush()
            self._shown = True

    def close(self) -> None:
        """Erase the line, if it is shown."""
        with self._lock:
            self._current = None
            self._erase()

    def _erase(self) -> None:
        if self._shown:
            self._stream.write(_ERASE)
            self._stream.flush()
            self._shown = False


@contextlib.contextmanager
def waiting_line(enabled: bool) -> Iterator[dict[str, object]]:
    """The observer plugins to give the host (``{}`` unless ``enabled``), and, while the block runs, a daemon
    thread that keeps the status line up to date."""
    if not enabled:
        yield {}
        return
    line = WaitingLine(sys.stderr, show_after_s=SHOW_AFTER_S)
    stop = threading.Event()

    def refresher() -> None:
        while not stop.wait(_REFRESH_S):
            line.refresh()

    thread = threading.Thread(target=refresher, name="tradepay-waiting-line", daemon=True)
    thread.start()
    try:
        yield {"tradepay.cli.waiting-line": line}
    finally:
        stop.set()
        thread.join()
        line.close()
