"""Serving the app with uvicorn, with a limit on how long a client may take to send a request's headers.

uvicorn (0.54) closes idle keep-alive connections, but a client that opens a connection and sends its headers a
byte at a time is never timed out: a few hundred such clients hold the service's connections forever. The
protocol below closes a connection whose request headers are not complete within ``header_timeout_s`` of the
connection opening (or of the previous response on a kept-alive connection). The body is timed separately, at
the ASGI level (service/guard.py, ``body_timeout_s``). Behind a reverse proxy, its own limits apply as well
(nginx: client_header_timeout, client_body_timeout).
"""

from __future__ import annotations

import asyncio
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from diffmix.settings import Settings


class HeaderTimeoutH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, closing connections whose request headers take longer than ``header_timeout_s``
    (a class attribute, so that worker processes, which import this module afresh, can set it too)."""

    header_timeout_s: float = 10.0
    _header_timer: asyncio.TimerHandle | None = None

    def _arm(self) -> None:
        self._disarm()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _waiting_for_headers(self) -> bool:
        return self.cycle is None or self.cycle.response_complete

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._waiting_for_headers() and not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        """Start the clock for the first request's headers."""
        super().connection_made(transport)
        self._arm()

    def handle_events(self) -> None:
        """Stop the clock once a request's headers are complete (the body has its own timeout)."""
        super().handle_events()
        if not self._waiting_for_headers():
            self._disarm()

    def on_response_complete(self) -> None:
        """Start the clock again for the next request on a kept-alive connection."""
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        """No clock for a closed connection."""
        self._disarm()
        super().connection_lost(exc)


def config(app: Any, settings: Settings, host: str, port: int, **kw: Any) -> uvicorn.Config:
    """The uvicorn configuration the service runs with (``app`` an ASGI app or an import string)."""
    HeaderTimeoutH11Protocol.header_timeout_s = settings.header_timeout_s
    return uvicorn.Config(app, host=host, port=port, http=HeaderTimeoutH11Protocol,
                          timeout_keep_alive=int(settings.keep_alive_timeout_s), log_config=None,
                          log_level=settings.log_level.lower(), **kw)


def serve(config_: uvicorn.Config) -> None:
    """Run the server: in this process, or (workers > 1) in that many worker processes sharing one socket."""
    server = uvicorn.Server(config_)
    if config_.workers > 1:
        from uvicorn.supervisors.multiprocess import Multiprocess

        Multiprocess(config_, sockets=[config_.bind_socket()]).run()
    else:
        server.run()
