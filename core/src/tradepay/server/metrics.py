"""The server's Prometheus metrics (``prometheus-client``), in a registry of the app's own.

Payments by result code, attempts by provider and final decision, provider latency, fall-throughs (from the
``payment_finished`` and ``attempt_finished`` observer hooks), refunds by status (``refund_finished``), HTTP
requests by route, method and status (from the request log), and the payments awaiting reconciliation (read
from the ledger at each scrape). Each worker process counts its own requests, payments and refunds.

Notifications: the events in each state (pending, delivered, dead; read from the ledger at each scrape), the
deliveries this process's worker recorded by outcome and by failure, and the latency from an event's creation
to its acknowledgement (from :class:`~tradepay.server.notify_worker.NotifyWorker`, as its observer).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from .._chain.hookspecs import hookimpl
from .._ledger.records import AttemptRecord, Decision, Payment, PaymentStatus
from .._spi.refunds import Refund
from .notify_delivery import Failure

__all__ = ["MAX_COUNTED", "Metrics"]

#: The most payments awaiting reconciliation counted at one scrape (the gauge says "at least" past it).
MAX_COUNTED = 10_000
_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: From an event's creation to its acknowledgement: a second when the merchant answers at once, days when it
#: was down.
_NOTIFY_BUCKETS = (0.1, 0.5, 1.0, 5.0, 30.0, 60.0, 300.0, 1800.0, 3600.0, 6 * 3600.0, 86_400.0, 3 * 86_400.0)
# Read once: a member read through its enum class costs about 900 instructions on CPython 3.11 (the metaclass's
# ``__getattr__``), a module constant 40 (docs/performance.md).
_FALLTHROUGH = Decision.FALLTHROUGH


class Metrics:
    """The metrics of one app; registered in the host's plugin manager as an observer."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        # Each metric's child per label values, as ``labels()`` gave it: ``labels()`` checks and converts its
        # values and takes the metric's lock on every call, and each payment counts several (measured: 3 % of
        # the server's CPU time per payment, docs/performance.md, the fifth pass). It holds no more than the
        # metrics themselves hold (a child per label values), and no child is ever removed from a metric here.
        self._children: dict[tuple[object, tuple[str, ...]], Any] = {}
        registry = self.registry
        self.http_requests = Counter(
            "tradepay_http_requests",
            "HTTP requests by route, method and status",
            ["route", "method", "status"],
            registry=registry,
        )
        self.payments = Counter(
            "tradepay_payments", "Finished payments by result code", ["result_code"], registry=registry
        )
        self.attempts = Counter(
            "tradepay_attempts",
            "Provider attempts by provider and final decision",
            ["provider", "decision"],
            registry=registry,
        )
        self.provider_latency = Histogram(
            "tradepay_provider_latency_seconds",
            "How long each provider call took",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=registry,
        )
        self.fallthroughs = Counter(
            "tradepay_fallthroughs",
            "Attempts after which the chain tried the next provider",
            ["provider"],
            registry=registry,
        )
        self.refunds = Counter(
            "tradepay_refunds", "Refunds by the status they were finished in", ["status"], registry=registry
        )
        self.awaiting_reconciliation = Gauge(
            "tradepay_payments_awaiting_reconciliation",
            "Payments left for reconciliation (read at each scrape)",
            registry=registry,
        )
        self.notifications = Gauge(
            "tradepay_notifications",
            "Notification events by state (read at each scrape)",
            ["status"],
            registry=registry,
        )
        self.deliveries = Counter(
            "tradepay_notification_deliveries",
            "Notification deliveries recorded, by outcome (delivered, retry, dead, superseded)",
            ["outcome"],
            registry=registry,
        )
        self.delivery_failures = Counter(
            "tradepay_notification_delivery_failures",
            "Failed notification deliveries by why they failed",
            ["failure"],
            registry=registry,
        )
        self.notification_latency = Histogram(
            "tradepay_notification_latency_seconds",
            "From a notification event's creation to the merchant's acknowledgement",
            buckets=_NOTIFY_BUCKETS,
            registry=registry,
        )

    def labelled(self, metric: Counter | Gauge | Histogram, *values: str) -> Any:
        """``metric.labels(*values)``, remembered."""
        key = (metric, values)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*values)
        return child

    def delivery_recorded(self, outcome: str, failure: Failure | None, latency_s: float | None) -> None:
        """Count one recorded delivery (the delivery worker's observer)."""
        self.labelled(self.deliveries, outcome).inc()
        if failure is not None:
            self.labelled(self.delivery_failures, failure.value).inc()
        if latency_s is not None:
            self.notification_latency.observe(latency_s)

    @hookimpl
    def attempt_finished(self, record: AttemptRecord) -> None:
        provider = record.attempt.provider
        self.labelled(self.attempts, provider, record.final.value).inc()
        self.labelled(self.provider_latency, provider).observe(record.duration_ms / 1000)
        if record.final is _FALLTHROUGH:
            self.labelled(self.fallthroughs, provider).inc()

    @hookimpl
    def payment_finished(self, payment: Payment) -> None:
        code = payment.result.result_code.value if payment.result is not None else "none"
        self.labelled(self.payments, code).inc()

    @hookimpl
    def refund_finished(self, refund: Refund) -> None:
        self.labelled(self.refunds, refund.status.value).inc()

    def render(self, ledger: object) -> bytes:
        """The text exposition format, the reconciliation gauge read from ``ledger`` first."""
        waiting = ledger.payments(status=PaymentStatus.NEEDS_RECONCILIATION, limit=MAX_COUNTED)  # type: ignore[attr-defined]
        self.awaiting_reconciliation.set(len(waiting))
        counts = getattr(ledger, "notification_counts", None)
        if counts is not None:  # a ledger without an outbox has no notifications to count
            for status, count in counts().items():
                self.notifications.labels(status.value).set(count)
        return generate_latest(self.registry)
