"""The emulators' common part: a TCP listener that speaks a device's byte protocol, so the real drivers connect with
pyserial ``socket://127.0.0.1:PORT`` URLs and run unchanged, and the line faults (timeout, garble, disconnect) the
world injects. The instruments are in ``cavro.py``, ``mettler.py`` and ``palmsens.py`` beside this file."""

from __future__ import annotations

import socket
import threading

from robot.sim.world import World


class Emulator:
    """One TCP listener; one client at a time; a subclass turns complete request frames into replies."""

    terminator = b"\r"

    def __init__(self, world: World, host: str = "127.0.0.1"):
        self.world = world
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.url = f"socket://{host}:{self.port}"
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True, name=type(self).__name__)
        self.thread.start()

    def _serve(self):
        self.sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=self._client, args=(conn,), daemon=True).start()

    def _client(self, conn: socket.socket):
        buf = b""
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    chunk = conn.recv(4096)
                except TimeoutError:
                    unsolicited = self.idle()
                    if unsolicited:
                        try:
                            conn.sendall(unsolicited)
                        except OSError:
                            return
                    continue
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while True:
                    frame, buf, complete = self.split(buf)
                    if not complete:
                        break
                    if self.world.take("disconnect"):
                        return  # the device drops the line mid-conversation
                    reply = self.handle(frame)
                    if self.world.take("timeout"):
                        continue  # swallow the reply: the host times out
                    if reply and self.world.take("garble"):
                        reply = garble(reply)
                    if reply:
                        try:
                            conn.sendall(reply)
                        except OSError:
                            return

    def split(self, buf: bytes):
        return cut_after(buf, self.terminator)

    def handle(self, frame: bytes) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def idle(self) -> bytes:
        """Bytes a device sends unasked while the line is quiet (a balance streaming weights); none by default."""
        return b""

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass


def cut_after(buf: bytes, marker: bytes, extra: int = 0) -> tuple[bytes, bytes, bool]:
    """Split a received buffer after the first ``marker`` and ``extra`` more bytes (a checksum):
    → (frame, rest, complete); an incomplete frame stays in the rest."""
    i = buf.find(marker)
    end = i + len(marker) + extra
    if i < 0 or len(buf) < end:
        return b"", buf, False
    return buf[:end], buf[end:], True


def garble(reply: bytes) -> bytes:
    b = bytearray(reply)
    for i in range(0, max(1, len(b) - 2), 3):
        b[i] = (b[i] ^ 0x5A) & 0x7F or 0x21
    return bytes(b)
