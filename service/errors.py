"""One error shape for every error the service answers: RFC 9457 problem details (``application/problem+json``).

    {"type": "https://diffmix.lab/problems/validation", "title": "Invalid request", "status": 422,
     "detail": "body.resistance_ohm: Input should be greater than 0", "instance": "/v1/experiments/7/result",
     "errors": [{"field": "body.resistance_ohm", "loc": ["body", "resistance_ohm"], "msg": "…", "type": "…"}]}

``detail`` is one line a person can act on; ``errors`` (validation only) names every field. Domain errors map to
422 (bad input), 404 (no such row) and 409 (the stored state does not allow it); a bug is a 500 in the same shape,
without its traceback. ``PROBLEM_RESPONSES`` documents the shape on every route of the OpenAPI schema.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from db.errors import Conflict, NotFound
from model.errors import DiffMixInputError

log = logging.getLogger(__name__)

PROBLEM_BASE = "https://diffmix.lab/problems/"
MEDIA_TYPE = "application/problem+json"
TITLES = {400: "Bad request", 401: "Unauthenticated", 403: "Forbidden", 404: "Not found", 405: "Method not allowed",
          408: "Request timeout", 409: "Conflict", 413: "Request body too large", 422: "Invalid request", 500: "Internal server error"}
KINDS = {400: "bad-request", 401: "unauthenticated", 403: "forbidden", 404: "not-found", 405: "method-not-allowed",
         408: "request-timeout", 409: "conflict", 413: "body-too-large", 422: "validation", 500: "internal"}


class FieldError(BaseModel):
    """One refused field."""

    field: str = Field(..., description="dotted path, e.g. body.spectrum.frequency_Hz.0")
    loc: list[str | int]
    msg: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(..., examples=[PROBLEM_BASE + "validation"])
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


_DOC = {"model": Problem, "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {**_DOC, "description": TITLES[code]} for code in (400, 401, 403, 404, 409, 413, 422)}


def problem(status: int, detail: str, instance: str | None = None, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> JSONResponse:
    """The response for one problem."""
    body = {"type": PROBLEM_BASE + KINDS.get(status, "error"), "title": TITLES.get(status, "Error"), "status": status,
            "detail": detail, "instance": instance, "errors": errors or []}
    return JSONResponse(status_code=status, content=body, media_type=MEDIA_TYPE, headers=headers)


def field_errors(raw: list[Any]) -> list[dict[str, Any]]:
    """Pydantic's errors without the refused inputs (a NaN could not be written back as JSON)."""
    out = []
    for e in raw:
        loc = [p if isinstance(p, int) else str(p) for p in e.get("loc", ())]
        msg = str(e.get("msg", "")).removeprefix("Value error, ")  # our own validators' words, without pydantic's label
        if e.get("type") == "json_invalid":  # loc is (body, character offset): say so in words
            at = loc[1] if len(loc) > 1 else "?"
            why = (e.get("ctx") or {}).get("error", "")
            loc, msg = ["body"], f"the body is not valid JSON (at character {at}{f': {why}' if why else ''})"
        out.append({"field": ".".join(str(p) for p in loc), "loc": loc, "msg": msg,
                    "type": str(e.get("type", ""))})
    return out


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the API documents at this path (HEAD beside GET), read off its OpenAPI paths (the route table
    of included routers is FastAPI's internal business)."""
    methods: set[str] = set()
    for template, ops in app.openapi().get("paths", {}).items():
        if re.fullmatch(re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)), path):
            methods |= {m.upper() for m in ops if m.upper() in HTTP_METHODS}
    if "GET" in methods:
        methods.add("HEAD")
    return sorted(methods)


HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}


def install(app: FastAPI, max_body_bytes: int) -> None:
    """Register the handlers: every error, expected or not, answers as a Problem."""

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = field_errors(list(exc.errors()))
        detail = "; ".join(f"{e['field']}: {e['msg']}" for e in errors[:5]) + ("; …" if len(errors) > 5 else "")
        return problem(422, detail or "invalid request", request.url.path, errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = str(exc.detail)
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 413:  # the body limit's own text names no limit and no setting
            detail = f"request body exceeds the limit of {max_body_bytes} bytes (DIFFMIX_MAX_BODY_BYTES); split it"
        if exc.status_code == 405:  # Starlette lists the first matching route's methods; a path may have several
            allowed = allowed_methods(app, request.url.path)
            headers["Allow"] = ", ".join(allowed)
            detail = f"{request.method} is not allowed here; this path takes {', '.join(allowed)}"
        return problem(exc.status_code, detail, request.url.path, headers=headers or None)

    @app.exception_handler(DiffMixInputError)
    async def _input(request: Request, exc: DiffMixInputError) -> JSONResponse:
        return problem(422, str(exc), request.url.path)

    @app.exception_handler(NotFound)
    async def _missing(request: Request, exc: NotFound) -> JSONResponse:
        return problem(404, str(exc), request.url.path)

    @app.exception_handler(Conflict)
    async def _conflict(request: Request, exc: Conflict) -> JSONResponse:
        return problem(409, str(exc), request.url.path)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.error("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem(500, "the service failed on this request; the error is in its log", request.url.path)
