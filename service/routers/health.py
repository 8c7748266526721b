"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from db import crud

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz():
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, response: Response):
    state = request.app.state.diffmix
    checks = {"models": sorted(state.models)}
    try:
        with state.sessions() as s:
            s.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as e:  # noqa: BLE001 - readiness reports any database failure
        checks["database"] = f"error: {type(e).__name__}"
    ready = checks["database"] == "ok" and bool(state.models)
    response.status_code = 200 if ready else 503
    return {"ready": ready, **checks}


@router.get("/metrics")
def metrics(request: Request):
    state = request.app.state.diffmix
    try:
        with state.sessions() as s:
            state.metrics.queue_depth.set(crud.queue_depth(s))
    except Exception:  # noqa: BLE001 - metrics stay available when the database is not
        pass
    return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)
