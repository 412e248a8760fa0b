"""The delivery workers of the kill and two-worker tests, started in milliseconds: ``python notify_workers.py``.

It imports the server's worker once, then reads one JSON line per worker wanted on standard input
(``{"ledger": URL, "key": PEM_PATH, "settings": {...}, "name": NAME}``), forks a worker for it and prints the
worker's pid. The fork happens here, in a process with one thread that has never opened a ledger, so each
worker opens its own connections; the test kills workers by pid. A worker runs until it is killed, or until
standard input closes (``"once": true`` delivers what is due and exits).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import traceback
from pathlib import Path
from typing import Any

import structlog

from tradepay import PostgresLedger, SQLiteLedger
from tradepay._config import NotificationSettings
from tradepay.server.notify_worker import NotifyWorker
from tradepay.server.signing import load_private_key


def _drop(logger: Any, method: str, event: Any) -> Any:
    raise structlog.DropEvent


def open_ledger(url: str) -> Any:
    """The ledger at ``url``: ``sqlite:///PATH`` or ``postgresql://...?schema=NAME``."""
    if url.startswith("sqlite:///"):
        return SQLiteLedger(Path(url.removeprefix("sqlite:///")))
    return PostgresLedger(url)


def run_worker(order: dict[str, Any]) -> None:
    structlog.configure(processors=[_drop], cache_logger_on_first_use=False)
    ledger = open_ledger(order["ledger"])
    key = load_private_key(Path(order["key"]).read_bytes())
    settings = NotificationSettings(**order["settings"])
    worker = NotifyWorker(ledger, key, settings, name=order.get("name"))
    if order.get("once"):
        asyncio.run(worker.run_once())
        return
    asyncio.run(worker.run(asyncio.Event()))  # until killed


def main() -> None:
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # workers are reaped as they die
    for line in sys.stdin:
        order = json.loads(line)
        pid = os.fork()
        if pid == 0:
            try:
                run_worker(order)
            except BaseException:
                traceback.print_exc()
            finally:
                os._exit(0)
        print(pid, flush=True)


if __name__ == "__main__":
    main()
