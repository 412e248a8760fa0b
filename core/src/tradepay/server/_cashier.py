"""The cashier page behind ``paymentUrl``: server-rendered HTML that works with JavaScript off."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
