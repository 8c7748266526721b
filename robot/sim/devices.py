"""Device emulators speaking the real byte protocols (Cavro DT, MT-SICS, MethodSCRIPT) on TCP sockets, so the real
drivers connect with pyserial ``socket://127.0.0.1:PORT`` URLs and run unchanged."""

from __future__ import annotations

import socket
import threading

import numpy as np

from robot.drivers import methodscript as ms
from robot.sim.world import World

ETX = b"\x03"


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
        i = buf.find(self.terminator)
        if i < 0:
            return b"", buf, False
        return buf[: i + len(self.terminator)], buf[i + len(self.terminator):], True

    def handle(self, frame: bytes) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self):
        self._stop.set()
        try:
            self.sock.close()
        except OSError:
            pass


def garble(reply: bytes) -> bytes:
    b = bytearray(reply)
    for i in range(0, max(1, len(b) - 2), 3):
        b[i] = (b[i] ^ 0x5A) & 0x7F or 0x21
    return bytes(b)


class CavroEmulator(Emulator):
    """Several pumps on one RS-485 line, told apart by address. A move takes `move_s` seconds (busy meanwhile)."""

    terminator = b"\r"

    def __init__(self, world: World, addresses: list[int], syringe_ul: dict[int, float], steps: int = 3000,
                 move_s: float = 0.02, role: dict[int, str] | None = None):
        self.addresses = set(addresses)
        self.syringe_ul = syringe_ul
        self.steps = steps
        self.move_s = move_s
        self.role = role or {}  # address → "stock" | "transfer" | "rinse"
        self.position = {a: 0 for a in addresses}
        self.initialised = {a: False for a in addresses}
        self.busy_until = {a: 0.0 for a in addresses}
        self.error = {a: 0 for a in addresses}
        super().__init__(world)

    def reply(self, address: int, data: str = "") -> bytes:
        import time

        ready = time.monotonic() >= self.busy_until[address]
        status = 0x40 | (0x20 if ready else 0) | (self.error[address] & 0x0F)
        return b"/0" + bytes([status]) + data.encode() + ETX + b"\r\n"

    def handle(self, frame: bytes) -> bytes:
        import re
        import time

        text = frame.decode("ascii", "replace").strip()
        m = re.fullmatch(r"/([0-9A-F])(.*)", text)
        if not m:
            return b""
        address = int(m.group(1), 16)
        if address not in self.addresses:
            return b""  # nobody at that address answers
        body = m.group(2)
        if body == "Q":
            return self.reply(address)
        if body == "?":
            return self.reply(address, str(self.position[address]))
        if not body.endswith("R"):
            return self.reply(address)  # stored but not executed
        cmds = body[:-1]
        if cmds == "T":
            self.busy_until[address] = 0.0
            return self.reply(address)
        if self.world.take("pump_error"):
            self.error[address] = 9  # plunger overload
            return self.reply(address)
        self.error[address] = 0
        if cmds == "Z":
            self.initialised[address] = True
            self.position[address] = 0
            self.busy_until[address] = time.monotonic() + self.move_s
            return self.reply(address)
        if not self.initialised[address]:
            self.error[address] = 7
            return self.reply(address)
        for op, arg in re.findall(r"([IOPDA])(\d*)", cmds):
            if op in "IO":
                self.valve = op
                continue
            n = int(arg or 0)
            new = {"P": self.position[address] + n, "D": self.position[address] - n, "A": n}[op]
            if not 0 <= new <= self.steps:
                self.error[address] = 3  # invalid operand: beyond the syringe
                return self.reply(address)
            if op == "D":
                volume = n * self.syringe_ul[address] / self.steps
                role = self.role.get(address, "stock")
                if role == "stock":
                    self.world.deliver(address, volume)
                elif role == "transfer":
                    self.world.fill_cell()
                elif role == "rinse":
                    self.world.rinse()
            self.position[address] = new
        self.busy_until[address] = time.monotonic() + self.move_s
        return self.reply(address)


class BalanceEmulator(Emulator):
    terminator = b"\r\n"

    def handle(self, frame: bytes) -> bytes:
        cmd = frame.decode("ascii", "replace").strip()
        w = self.world
        if cmd == "Z":
            w.vial_tare_g = w.vial_mass_g()
            return b"Z A\r\n"
        if cmd in ("S", "SI"):
            value = w.vial_mass_g() - w.vial_tare_g + w.balance_noise_g * w.rng.standard_normal()
            return f"S S {value:12.4f} g\r\n".encode()
        return b"ES\r\n"


class PotentiostatEmulator(Emulator):
    """Accepts MethodSCRIPT; answers meas_loop_eis with impedance packets of the simulated cell."""

    terminator = b"\n\n"

    def handle(self, frame: bytes) -> bytes:
        import re

        text = frame.decode("ascii", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines or lines[0] != "e":
            return b"!0004\n"  # not a script
        loop = [ln for ln in lines if ln.startswith("meas_loop_eis")]
        if not loop:
            return b"e\n\n"
        parts = loop[0].split()
        try:
            f_max, f_min, n = _si(parts[5]), _si(parts[6]), int(parts[7])
        except (IndexError, ValueError):
            return b"e\n!4003\n"
        if not re.fullmatch(r"\d+", parts[7]) or n < 1 or f_max <= 0 or f_min <= 0:
            return b"e\n!4003\n"
        f = np.geomspace(f_max, f_min, n)
        z = self.world.impedance(f)
        out = ["e"]
        for fi, zi in zip(f, z):
            out.append(ms.encode_packet({ms.VAR_FREQUENCY: fi, ms.VAR_Z_REAL: zi.real, ms.VAR_Z_IMAG: zi.imag}).rstrip("\n"))
        out += ["*", "", ""]
        return "\n".join(out).encode()


def _si(token: str) -> float:
    token = token.strip()
    if token and token[-1] in ms.SI_PREFIX and not token[-1].isdigit():
        return float(token[:-1]) * ms.SI_PREFIX[token[-1]]
    return float(token)
