"""The FastAPI application: models loaded once at start-up, routers under /v1, body limit, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from db.session import make_engine, make_sessionmaker
from diffmix.settings import Settings
from service import errors
from service.routers import admin, analysts, campaigns, health, predict, robot
from service.state import ServiceState

log = logging.getLogger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI application on the given settings (default: from the environment)."""
    settings = settings or Settings()
    engine = make_engine(settings.database_url)
    state = ServiceState(settings, make_sessionmaker(engine))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.load_models()  # once, at start-up
        for prop, m in state.models.items():
            log.info("model for %s: %s (version %d)", prop, m.name, m.version_id, extra={"property": prop})
        yield
        engine.dispose()

    app = FastAPI(title="DiffMix Lab", version="0.1.0", lifespan=lifespan,
                  description="Differentiable mixture physics for electrolyte design, and the Clio robot's queue.")
    app.state.diffmix = state
    errors.install(app)

    @app.middleware("http")
    async def limit_and_measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        if length is not None:
            try:
                too_big = int(length) > settings.max_body_bytes
            except ValueError:
                return JSONResponse(status_code=400, content={"detail": "invalid Content-Length header"})
            if too_big:
                return JSONResponse(status_code=413, content={
                    "detail": f"request body of {length} bytes exceeds the limit of {settings.max_body_bytes} bytes "
                              "(DIFFMIX_MAX_BODY_BYTES); split the request"})
        elif request.method in ("POST", "PUT", "PATCH"):
            body = await request.body()  # chunked upload: count what actually arrives
            if len(body) > settings.max_body_bytes:
                return JSONResponse(status_code=413, content={
                    "detail": f"request body exceeds the limit of {settings.max_body_bytes} bytes; split the request"})
        t0 = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        state.metrics.requests.labels(request.method, path, str(response.status_code)).inc()
        state.metrics.latency.labels(request.method, path).observe(time.perf_counter() - t0)
        return response

    for r in (health, predict, campaigns, robot, analysts, admin):
        app.include_router(r.router)
    return app
