"""Operations: ``GET /healthz`` (the process answers), ``GET /readyz`` (the ledger answers, providers are
loaded) and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from fastapi import APIRouter
from prometheus_client import CONTENT_TYPE_LATEST
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .errors import result
from .state import ServerState, state_of

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> JSONResponse:
    """Always ``200`` while the process answers."""
    return JSONResponse({"result": result("S", "SUCCESS", "up")})


def _ready(state: ServerState) -> str | None:
    """Why the host is not ready, or ``None``."""
    try:
        state.host.ledger.payments(limit=1)
    except Exception as exc:
        return f"the ledger does not answer: {type(exc).__name__}"
    if not state.host.chain.handles:
        return "no provider is loaded"
    return None


@router.get("/readyz", summary="The ledger answers and the providers are loaded")
async def readyz(request: Request) -> JSONResponse:
    """``200`` when the ledger answers a read and the chain has its providers, else ``503`` saying why."""
    problem = await run_in_threadpool(_ready, state_of(request))
    if problem is not None:
        return JSONResponse({"result": result("F", "NOT_READY", problem)}, 503)
    providers = [handle.name for handle in state_of(request).host.chain.handles]
    return JSONResponse({"result": result("S", "SUCCESS", "ready"), "providers": providers})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """The server's metrics in the Prometheus text format."""
    state = state_of(request)
    text = await run_in_threadpool(request.app.state.metrics.render, state.host.ledger)
    return Response(text, media_type=CONTENT_TYPE_LATEST)
