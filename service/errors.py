"""Map domain errors to HTTP answers a person can act on. Nothing here is ever a 500 for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from db.errors import Conflict, NotFound
from model.errors import DiffMixInputError


def install(app: FastAPI) -> None:
    @app.exception_handler(DiffMixInputError)
    async def _input(_: Request, exc: DiffMixInputError):
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound):
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict):
        return JSONResponse(status_code=409, content={"detail": str(exc)})
