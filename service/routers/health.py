"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from db import crud
from service.deps import StateDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(state: StateDep, response: Response) -> dict[str, Any]:
    """Ready when the database answers and at least one model is loaded (503 otherwise)."""
    checks: dict[str, Any] = {"models": sorted(state.models)}
    try:
        with state.sessions() as s:
            crud.ping(s)
        checks["database"] = "ok"
    except Exception as e:  # noqa: BLE001 - readiness reports any database failure
        checks["database"] = f"error: {type(e).__name__}"
    ready = checks["database"] == "ok" and bool(state.models)
    response.status_code = 200 if ready else 503
    return {"ready": ready, **checks}


@router.get("/metrics", response_class=Response,
            responses={200: {"description": "Prometheus text exposition format",
                             "content": {CONTENT_TYPE_LATEST.split(";")[0]: {"schema": {"type": "string"}}}}})
def metrics(state: StateDep) -> Response:
    """Prometheus metrics: requests, latency, queue depth."""
    try:
        with state.sessions() as s:
            state.metrics.queue_depth.set(crud.queue_depth(s))
    except Exception:  # noqa: BLE001 - metrics stay available when the database is not
        pass
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
