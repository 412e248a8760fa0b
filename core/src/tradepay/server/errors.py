"""How the server refuses: every answer carries ``result: {resultStatus, resultCode, resultMessage}``.

A refusal is an :class:`ApiError` with its HTTP status; the app's handlers turn it (and anything unexpected,
logged and answered without a traceback) into the JSON answer. Business outcomes (an order that does not
exist, a repeat with other fields) are answered ``200`` with ``resultStatus`` ``F``, as Alipay+ does; what is
wrong with the request itself (its signature, its JSON, its size) gets a 4xx status.
"""

from __future__ import annotations

from typing import Any

from .._spi.errors import InvalidInput

__all__ = ["ApiError", "invalid", "result"]


def result(status: str, code: str, message: str) -> dict[str, Any]:
    """The ``result`` object of an answer: ``status`` is ``S``, ``F`` or ``U``."""
    return {"resultStatus": status, "resultCode": code, "resultMessage": message}


class ApiError(Exception):
    """A refusal: the HTTP ``status``, the ``result`` code and a message that names the field or header."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, Any]:
        """The answer's JSON: only ``result``, its status ``F``."""
        return {"result": result("F", self.code, self.message)}


def invalid(exc: InvalidInput, rename: dict[str, str] | None = None) -> ApiError:
    """``exc`` (a model's refusal) as a 422 naming the field as the request spells it (``rename`` maps the
    model's field names to the JSON's)."""
    field = (rename or {}).get(exc.field, exc.field)
    return ApiError(422, "PARAM_ILLEGAL", f"{field}: {exc.reason}")
