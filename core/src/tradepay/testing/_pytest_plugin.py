"""The pytest plugin of the testing kit (entry point ``pytest11``): fixtures for tests that pay."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest

from .._service import PaymentService
from .._spi.models import APIContext
from . import build_service, sample_context


@pytest.fixture
def tradepay_context() -> APIContext:
    """An :class:`tradepay.APIContext` as a mini program container sends it (no user id)."""
    return sample_context()


@pytest.fixture
def tradepay_service() -> Iterator[Callable[..., PaymentService]]:
    """A factory: ``tradepay_service({"a": provider_a, "b": provider_b}, rules=...)`` returns a
    :class:`tradepay.PaymentService` over an in-memory ledger; every service is closed after the test."""
    made: list[PaymentService] = []

    def make(providers: Mapping[str, object], **host_kwargs: Any) -> PaymentService:
        service = build_service(providers, **host_kwargs)
        made.append(service)
        return service

    yield make
    for service in made:
        service.close()
