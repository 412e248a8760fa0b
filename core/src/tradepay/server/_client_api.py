"""The client API: the super app's PaymentService implementation sends the SPI's JSON and gets the PaymentResult."""

from __future__ import annotations

from fastapi import APIRouter

__all__ = ["router"]

router = APIRouter()
