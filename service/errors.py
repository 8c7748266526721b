"""Map domain errors to HTTP answers a person can act on. Nothing here is ever a 500 for bad input."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.errors import Conflict, NotFound
from model.errors import DiffMixInputError


def install(app: FastAPI, max_body_bytes: int) -> None:
    """Register the handlers: bad input 422, a missing row 404, a state conflict 409 (each with its reason)."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each refused input back, which cannot be written as JSON when the input was
        # NaN or an infinity (it would turn the 422 into a 500): answer with the field, the reason and its kind
        errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
                  for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 413:  # the body limit's own text names no limit and no setting
            exc = StarletteHTTPException(413, f"request body exceeds the limit of {max_body_bytes} bytes "
                                              "(DIFFMIX_MAX_BODY_BYTES); split the request")
        return await http_exception_handler(request, exc)
    @app.exception_handler(DiffMixInputError)
    async def _input(_: Request, exc: DiffMixInputError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(NotFound)
    async def _missing(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": str(exc)})

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": str(exc)})
