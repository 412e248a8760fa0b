"""The testing kit for provider authors and host users.

* :class:`ReferenceProvider` (and its async and pay-only forms): a scriptable provider, also installed as
  the entry point ``reference``.
* :class:`ProviderConformance`: the conformance suite; subclass it in your provider's tests (needs pytest).
* :func:`build_service`, :func:`sample_context`: a payment service around provider objects, in one line.
* The pytest plugin (loaded automatically) offers the fixtures ``tradepay_service``, ``tradepay_context``
  and the databases of a provider's tests: ``tradepay_database`` (SQLite, then PostgreSQL),
  ``tradepay_sqlite_database`` and ``tradepay_postgres_database``; :func:`postgres_schema` and
  :func:`postgres_skip_reason` are their parts, for a test's own fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .._host import Host
from .._ledger.memory import MemoryLedger
from .._service import PaymentService
from .._spi.models import APIContext, MiniProgramMetaData
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
    "postgres_schema",
    "postgres_skip_reason",
    "reference_provider",
    "sample_context",
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


def __getattr__(name: str) -> Any:
    # The conformance suite needs pytest, which the core does not depend on: import it only when asked.
    if name == "ProviderConformance":
        from ._conformance import ProviderConformance

        return ProviderConformance
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
