"""The merchant API: create order, payment inquiry, close, refund and refund inquiry, signed both ways."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
