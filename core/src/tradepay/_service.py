"""``PaymentService``: the SPI the mini program container calls, in its three Python forms.

* ``pay(payment_request, api_context, callback)`` -> ``None``: the SDK's form. The payment runs on the
  service's own event-loop thread and ``callback`` receives the one result there, exactly once.
* ``await pay_async(...)`` -> ``PaymentResult``: runs in the caller's event loop.
* ``pay_blocking(...)`` -> ``PaymentResult``: waits for the result; not for use inside a running loop.

No form raises for a payment: bad input, provider failures and host bugs all become one ``PaymentResult``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from ._chain.answers import cut_off_answer, refusal, unresolved_result
from ._host import Host
from ._logging import get_logger
from ._spi.errors import ConfigError
from ._spi.models import APIContext, Callback, ErrorCode, PaymentRequest, PaymentResult

__all__ = ["PaymentService"]

_log = get_logger("tradepay")


class _LoopThread:
    """A daemon thread running an event loop, started on first use."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, coro: Coroutine[Any, Any, PaymentResult]) -> Future[PaymentResult]:
        """Schedule ``coro`` on the loop; raises (and keeps no half-started loop) if the thread cannot start."""
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="tradepay-loop", daemon=True)
                try:
                    thread.start()
                except BaseException:
                    loop.close()
                    raise
                self._loop, self._thread = loop, thread
            return asyncio.run_coroutine_threadsafe(coro, self._loop)

    def stop(self) -> None:
        """Cancel what is still running (each callback still gets its one answer), stop and close the loop."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return

        async def shutdown() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            loop.stop()

        asyncio.run_coroutine_threadsafe(shutdown(), loop)
        thread.join(timeout=10)
        if not loop.is_running():
            loop.close()


class PaymentService:
    """The super app's payment service: pays through ``host``'s chain and answers exactly once."""

    def __init__(self, host: Host) -> None:
        if not isinstance(host, Host):
            raise ConfigError("host", f"must be a Host (Host.from_config or Host(...)), got {type(host).__name__}")
        self.host = host
        self._loop = _LoopThread()

    def pay(
        self,
        payment_request: PaymentRequest,
        api_context: APIContext,
        callback: Callback | Callable[[PaymentResult], object],
    ) -> None:
        """Start paying and return at once; ``callback`` (a :class:`Callback` or a plain callable) receives the
        one :class:`PaymentResult`, exactly once, on the service's thread, whatever happens. An exception
        raised by the callback is logged and does not lead to a second call."""
        deliver = _delivery(callback)
        answer = self._submit(self._pay_then(payment_request, api_context, deliver))
        if isinstance(answer, PaymentResult):
            deliver(answer)

    async def pay_async(self, payment_request: PaymentRequest, api_context: APIContext) -> PaymentResult:
        """Pay in the running event loop and return the one result."""
        # Checked although typed: callers from untyped code (and the bridge's JSON) reach here too.
        request: object = payment_request
        context: object = api_context
        if not isinstance(request, PaymentRequest):
            return refusal(f"payment_request: must be a PaymentRequest, got {type(request).__name__}")
        if not isinstance(context, APIContext):
            return refusal(f"api_context: must be an APIContext, got {type(context).__name__}")
        try:
            return await self.host.chain.pay(request, context)
        except Exception:
            # A host bug or a ledger failure: the payment may have reached a provider, so it is not a failure.
            _log.exception("payment.crashed", payment_string=request.payment_string[:80], app_id=context.app_id)
            return cut_off_answer() or _unknown()  # the answer the chain stored as it was cut off, if it did

    def pay_blocking(self, payment_request: PaymentRequest, api_context: APIContext) -> PaymentResult:
        """Pay and wait for the one result. Raises ``RuntimeError`` if called from a running event loop."""
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            answers: list[PaymentResult] = []
            answer = self._submit(self._pay_then(payment_request, api_context, answers.append))
            if isinstance(answer, PaymentResult):
                return answer
            try:
                return answer.result()
            except concurrent.futures.CancelledError:  # the service was closed mid-payment: the answer it stored
                return answers[0] if answers else unresolved_result()
        raise RuntimeError("pay_blocking() would block the running event loop: await pay_async() instead")

    def _submit(self, coro: Coroutine[Any, Any, PaymentResult]) -> Future[PaymentResult] | PaymentResult:
        """Run ``coro`` on the service's thread, or the refusal to answer when that thread cannot run (no
        thread can be started): the payment was not started, nothing was stored or charged."""
        try:
            return self._loop.submit(coro)
        except Exception as exc:
            coro.close()
            _log.exception("payment.not_started")
            return refusal(
                f"the payment service could not start the payment: {type(exc).__name__}", ErrorCode.SYSTEM_ERROR
            )

    def close(self) -> None:
        """Stop the service's event-loop thread; a payment still running is answered ``6004`` and left for
        reconciliation. The host stays open (close it with :meth:`Host.close` when the process is done)."""
        self._loop.stop()

    def __enter__(self) -> PaymentService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def _pay_then(
        self, request: PaymentRequest, context: APIContext, deliver: Callable[[PaymentResult], None]
    ) -> PaymentResult:
        try:
            result = await self.pay_async(request, context)
        except BaseException:
            # Cancelled with the service's loop (close() mid-payment): the caller still gets its one answer, the
            # one the payment stored as it was cut off.
            deliver(cut_off_answer() or _unknown())
            raise
        deliver(result)
        return result


def _unknown() -> PaymentResult:
    return unresolved_result()


def _delivery(callback: object) -> Callable[[PaymentResult], None]:
    """A function that hands a result to ``callback`` once and swallows (logs) what the callback raises."""
    method = getattr(callback, "result", None)
    target = method if callable(method) else callback
    if not callable(target):
        raise TypeError(f"callback: must be a Callback or a callable, got {type(callback).__name__}")
    delivered = False
    lock = threading.Lock()

    def deliver(result: PaymentResult) -> None:
        nonlocal delivered
        with lock:
            if delivered:
                return
            delivered = True
        try:
            target(result)
        except Exception:
            _log.exception("callback.failed", result=result.result_code.value)

    return deliver
