"""Liveness (/healthz) and readiness (/readyz) endpoints for load balancers and orchestrators."""

from fastapi import APIRouter, Request
from starlette.responses import JSONResponse

from app.probes.service import check_readiness

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and serving requests."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "not ready, with the reasons"}})
async def readyz(request: Request) -> JSONResponse:
    """The database is reachable, migrated to head and has the timescaledb extension."""
    readiness = await check_readiness(request.app.state.engine)
    body = {
        "status": "ready" if readiness.ready else "not_ready",
        "reasons": readiness.reasons,
        "timescaledb": readiness.timescaledb,
        "revision": readiness.revision,
    }
    return JSONResponse(body, status_code=200 if readiness.ready else 503)
