"""Two ends of a serial line for conformance tests: a recorded instrument (the documented bytes it sends, replayed to
a driver, with every byte the driver writes kept), and a raw client that talks bytes to an emulator's socket."""

from __future__ import annotations

import socket
import time

from robot.errors import DeviceTimeout


class RecordedPort:
    """Stands where a driver's Port stands; answers each write with the next recorded reply (None = silence)."""

    def __init__(self, replies: list[bytes | None]):
        self.replies = list(replies)
        self.written: list[bytes] = []
        self.buffer = b""

    def write(self, data: bytes) -> None:
        self.written.append(data)
        if self.replies:
            reply = self.replies.pop(0)
            self.buffer += reply or b""

    def drain(self) -> None:
        pass

    def _take(self, n: int) -> bytes:
        out, self.buffer = self.buffer[:n], self.buffer[n:]
        return out

    def read_until(self, terminator: bytes, timeout: float | None = None) -> bytes:
        i = self.buffer.find(terminator)
        if i < 0:
            self.buffer = b""
            raise DeviceTimeout("recorded line: no complete reply")
        return self._take(i + len(terminator))

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        if len(self.buffer) < n:
            raise DeviceTimeout("recorded line: reply too short")
        return self._take(n)

    def close(self) -> None:
        pass


def exchange(url: str, data: bytes, quiet_s: float = 0.3) -> bytes:
    """Send raw bytes to an emulator (socket://host:port) and return all it answers until the line is quiet."""
    host, port = url.removeprefix("socket://").split(":")
    with socket.create_connection((host, int(port)), timeout=2) as s:
        s.sendall(data)
        s.settimeout(quiet_s)
        out = b""
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
        return out
