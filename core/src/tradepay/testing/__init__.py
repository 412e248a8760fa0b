"""The testing kit for provider authors and host users.

* :class:`ReferenceProvider` (and its async and pay-only forms): a scriptable provider, also installed as
  the entry point ``reference``.
* :class:`ProviderConformance`: the conformance suite; subclass it in your provider's tests (needs pytest).
* :func:`build_service`, :func:`sample_context`: a payment service around provider objects, in one line.
* :func:`sample_refund`: a refund as the host hands it to a provider; :func:`closing_all`: a factory of
  providers (or anything with ``close()``) whose every product is closed at the end, for a test's fixtures.
* The pytest plugin (loaded automatically) offers the fixtures ``tradepay_service``, ``tradepay_context``
  and the databases of a provider's tests: ``tradepay_database`` (SQLite, then PostgreSQL),
  ``tradepay_sqlite_database`` and ``tradepay_postgres_database``; :func:`postgres_schema` and
  :func:`postgres_skip_reason` are their parts, for a test's own fixtures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, ParamSpec, Protocol, TypeVar

from .._chain.capabilities import Attempt
from .._host import Host
from .._ledger.memory import MemoryLedger
from .._service import PaymentService
from .._spi.errors import InvalidInput
from .._spi.models import APIContext, MiniProgramMetaData, PaymentAmount
from .._spi.refunds import Refund, RefundStatus
from ._databases import postgres_schema, postgres_skip_reason
from ._reference import AsyncReferenceProvider, Outcome, PayOnlyReferenceProvider, ReferenceProvider, reference_provider

if TYPE_CHECKING:
    from ._conformance import ProviderConformance

__all__ = [
    "AsyncReferenceProvider",
    "Outcome",
    "PayOnlyReferenceProvider",
    "ProviderConformance",
    "ReferenceProvider",
    "build_service",
    "closing_all",
    "postgres_schema",
    "postgres_skip_reason",
    "reference_provider",
    "sample_context",
    "sample_refund",
]


def build_service(providers: Mapping[str, object], **host_kwargs: Any) -> PaymentService:
    """A :class:`PaymentService` around ``providers`` (name -> plugin object, in chain order) with an in-memory
    ledger; ``host_kwargs`` go to :class:`tradepay.Host` (``rules``, ``chain``, ``deadlines`` ...)."""
    settings = host_kwargs.get("host")
    host_kwargs.setdefault("ledger", MemoryLedger(cashier_url=settings.cashier_url) if settings else MemoryLedger())
    return PaymentService(Host.from_providers(providers, **host_kwargs))


def sample_context(user_id: str | None = None, app_id: str = "2021000000000001") -> APIContext:
    """An :class:`APIContext` as a mini program container would send it."""
    info = {"userId": user_id} if user_id is not None else None
    return APIContext("miniprogram", MiniProgramMetaData(app_id=app_id, name="Sample Mini Program"), info)


def sample_refund(
    attempt: Attempt,
    amount: PaymentAmount,
    *,
    key: str = "ref-1",
    trade_no: str = "T-1",
    merchant_id: str = "shop-1",
    request_id: str | None = None,
) -> Refund:
    """A refund of ``amount`` of ``attempt``'s payment as the host hands it to a provider (``processing``): its id,
    and so its refund key, is ``key``; it refunds the order ``trade_no`` of ``merchant_id``, asked by the
    merchant's ``request_id`` (default: ``key``)."""
    return Refund(key, trade_no, attempt.payment_id, attempt, amount, key if request_id is None else request_id,
                  merchant_id, None, RefundStatus.PROCESSING)  # fmt: skip


class _Closable(Protocol):
    def close(self) -> None: ...


P = ParamSpec("P")
C = TypeVar("C", bound=_Closable)


@contextmanager
def closing_all(make: Callable[P, C]) -> Iterator[Callable[P, C]]:
    """``make``, as a factory that remembers what it made: everything is closed when the block ends, in the order
    it was made (a fixture yields it: ``with closing_all(make) as made: yield made``)."""
    if not callable(make):
        raise InvalidInput("make", f"must be callable, got {type(make).__name__}")
    made: list[C] = []

    def remembered(*args: P.args, **kwargs: P.kwargs) -> C:
        product = make(*args, **kwargs)
        made.append(product)
        return product

    try:
        yield remembered
    finally:
        for product in made:
            product.close()


def __getattr__(name: str) -> Any:
    # The conformance suite needs pytest, which the core does not depend on: import it only when asked.
    if name == "ProviderConformance":
        from ._conformance import ProviderConformance

        return ProviderConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
