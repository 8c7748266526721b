"""Map domain errors to HTTP answers a person can act on. Nothing here is ever a 500 for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from db.errors import Conflict, NotFound
from model.errors import DiffMixInputError


def install(app: FastAPI) -> None:
    """Register the handlers: bad input 422, a missing row 404, a state conflict 409 (each with its reason)."""
    @app.exception_handler(DiffMixInputError)
    async def _input(_: Request, exc: DiffMixInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})
