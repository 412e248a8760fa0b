"""Operations: health, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
