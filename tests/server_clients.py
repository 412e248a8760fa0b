"""A client process of the concurrency test: ``python server_clients.py URL TOKEN TRADE_NO COUNT START``.

Waits until ``START`` (seconds since the epoch, shared by every client process: the barrier), then sends
``COUNT`` concurrent ``POST /v1/client/pay`` of order ``TRADE_NO`` on keep-alive connections, and prints the
result codes as one JSON list.
"""

from __future__ import annotations

import json
import sys
import threading
import time

import httpx


def main(url: str, token: str, trade_no: str, count: int, start: float) -> None:
    body = {
        "paymentRequest": {"type": "ORDER_ID", "paymentString": trade_no},
        "apiContext": {"source": "miniprogram"},
    }
    codes: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(count)

    def pay() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            client.get("/healthz")  # the connection is open before the barrier
            ready.wait()
            time.sleep(max(0.0, start - time.time()))
            answer = client.post("/v1/client/pay", json=body, headers={"Authorization": f"Bearer {token}"})
            with lock:
                codes.append(str(answer.json().get("resultCode", answer.status_code)))

    threads = [threading.Thread(target=pay) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    print(json.dumps(codes))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), float(sys.argv[5]))
