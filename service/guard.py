"""Refusals made from a request's headers alone, before a byte of its body is read.

- A body sent without a key to a route that needs one, or a large or chunked body with a key that does not exist: 401. FastAPI reads and
  parses a request's body before it resolves the route's dependencies, so without this a client with no key or a
  made-up one could make the service read (up to the body limit) on every route. The key's role is checked by the
  route's dependency (service/auth.py).
- A Content-Length above the limit (or not a number): 413 (or 400), in the service's JSON error shape.
- A body that stops arriving: each part must come within ``body_timeout_s`` of the one before, else 408.

A pure ASGI middleware: it decides from the headers and reads none of the body itself (it only times the reads). A body without a Content-Length
(chunked) is limited by Starlette's RequestBodyLimitMiddleware (service/app.py), which counts it as it arrives and
stops at the limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import anyio.to_thread
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.auth import missing_key_message
from service.errors import problem

OPEN_PATHS = ("/healthz", "/readyz", "/metrics", "/openapi.json")
# a body larger than this, or of unknown length (chunked), is not read for a key that does not exist: the key is
# looked up from the headers first (one more database read; below it the route's own session looks the key up)
KEY_CHECK_BYTES = 64 * 1024


class HeaderChecks:
    """401 for a body without a Bearer header (unless the path is open to anonymous callers); 413 for a declared
    length over the limit; 400 for a Content-Length that is not a number."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, anonymous_allowed: Callable[[str], bool],
                 body_timeout_s: float = 30.0, key_known: Callable[[str, str, str], bool] | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.anonymous_allowed = anonymous_allowed
        self.body_timeout_s = body_timeout_s
        self.key_known = key_known  # (key, client, path) → whether it exists (a database read, run in a thread)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on, or answer from its headers alone."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        length = headers.get("content-length")
        if length is not None and not length.strip().isdigit():
            await _answer(scope, receive, send, 400, "invalid Content-Length header")
            return
        if length is not None and int(length) > self.max_body_bytes:
            await _answer(scope, receive, send, 413, f"request body of {int(length)} bytes exceeds the limit of {self.max_body_bytes} "
                                     "bytes (DIFFMIX_MAX_BODY_BYTES); split the request")
            return
        path: str = scope["path"]
        sends_body = scope["method"] in ("POST", "PUT", "PATCH", "DELETE")
        keyed = headers.get("authorization", "").lower().startswith("bearer ")
        if sends_body and not keyed and path not in OPEN_PATHS and not self.anonymous_allowed(path):
            await _answer(scope, receive, send, 401, missing_key_message(headers.get("authorization")),
                          {"WWW-Authenticate": "Bearer"})
            return
        large = length is None or int(length) > KEY_CHECK_BYTES  # small bodies cost less to read than a lookup
        if sends_body and keyed and large and self.key_known is not None:
            client = scope["client"][0] if scope.get("client") else "unknown"
            key = headers["authorization"][len("bearer "):].strip()
            if not await anyio.to_thread.run_sync(self.key_known, key, client, path):
                await _answer(scope, receive, send, 401, "unknown or revoked API key", {"WWW-Authenticate": "Bearer"})
                return
        timeout = self.body_timeout_s

        async def timed() -> Message:
            # each part of the body must come within the timeout of the one before: a client that stops sending
            # half-way gets a 408 instead of holding a connection and a worker for ever
            try:
                return await asyncio.wait_for(receive(), timeout)
            except TimeoutError:
                raise StarletteHTTPException(408, f"the request body stopped arriving (nothing for {timeout:g} s); "
                                                  "send it whole") from None

        await self.app(scope, timed, send)


async def _answer(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                  headers: dict[str, str] | None = None) -> None:
    await problem(status, detail, scope["path"], headers=headers)(scope, receive, send)
