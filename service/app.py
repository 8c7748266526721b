"""The FastAPI application: models loaded once at start-up, routers under /v1, body limit, metrics."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.middleware.body_limit import RequestBodyLimitMiddleware

from db import crud
from db.session import make_engine, make_sessionmaker
from diffmix.settings import Settings
from service import console, errors
from service.guard import HeaderChecks
from service.routers import admin, analysts, campaigns, chemistry, health, predict, robot
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

    app = FastAPI(title="DiffMix Lab", version="0.1.0", lifespan=lifespan, docs_url=None, redoc_url=None,
                  description="Differentiable mixture physics for electrolyte design, and the Clio robot's queue.")
    app.state.diffmix = state
    errors.install(app, settings.max_body_bytes)

    anonymous = {"/v1/predict", "/v1/gradient", "/v1/optimize"} if settings.anonymous_predict else set()
    # Starlette's streaming limit counts the body as it arrives, chunked uploads included, and stops at the limit
    # (413) instead of buffering the rest; inside the header checks and the metrics, so both see its answers
    app.add_middleware(RequestBodyLimitMiddleware, max_body_size=settings.max_body_bytes)
    def key_known(key: str, client: str, path: str) -> bool:
        """Whether an API key exists and is not revoked; a refusal is audited as the route's would be."""
        with state.sessions() as s:
            if crud.key_for(s, key) is not None:
                return True
            crud.audit_denied(s, 401, "unknown or revoked API key", None, client, path)
            return False

    app.add_middleware(HeaderChecks, max_body_bytes=settings.max_body_bytes, anonymous_allowed=anonymous.__contains__,
                       body_timeout_s=settings.body_timeout_s, key_known=key_known)

    @app.middleware("http")  # added last, so outermost: it also counts the 401s and 413s answered inside
    async def measure(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # an unhandled error becomes a 500 below this middleware: count it as one
            state.metrics.observe(request, 500, time.perf_counter() - t0)
            raise
        state.metrics.observe(request, response.status_code, time.perf_counter() - t0)
        return response

    for r in (health, predict, campaigns, robot, analysts, admin, chemistry):
        app.include_router(r.router)
    console.install(app)  # the operator's console at /, and /docs and /redoc with assets served from here
    return app
