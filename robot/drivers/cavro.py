"""Tecan Cavro XCalibur / XLP syringe pump, DT (data terminal) ASCII protocol.

Frame out: ``/`` + address character + command string + ``R`` (execute) + CR. Reply: ``/0`` + status byte +
optional data + ETX (0x03) + CR LF. Status byte: bit 5 set = ready (idle), clear = busy; bits 0–3 = error code
(0 = none). ``Q`` queries status without executing anything. Commands used: ``Z`` initialise, ``I``/``O`` valve to
input/output, ``P<n>`` aspirate n steps, ``D<n>`` dispense n steps, ``T`` terminate (emergency stop), ``?`` plunger
position. Error codes follow the XCalibur manual.
"""

from __future__ import annotations

import time

from robot.drivers.port import Port
from robot.errors import ProtocolError, PumpError

ERRORS = {1: "initialisation error", 2: "invalid command", 3: "invalid operand", 4: "invalid command sequence",
          6: "EEPROM failure", 7: "device not initialised", 9: "plunger overload", 10: "valve overload",
          11: "plunger move not allowed", 15: "command overflow"}
READY_BIT = 0x20
ETX = b"\x03"


def frame(address: int, command: str, execute: bool = True) -> bytes:
    if not 1 <= address <= 15:
        raise ValueError("pump address must be 1–15")
    return f"/{address:X}{command}{'R' if execute else ''}\r".encode("ascii")


def parse_reply(raw: bytes) -> tuple[bool, int, str]:
    """→ (ready, error code, data). Raises ProtocolError on a malformed frame."""
    i = raw.find(b"/0")
    j = raw.find(ETX, i + 2 if i >= 0 else 0)
    if i < 0 or j < 0 or j < i + 3:
        raise ProtocolError(f"malformed pump reply {raw!r}")
    status = raw[i + 2]
    if status & 0x40 == 0:  # bit 6 is always set in a valid status byte
        raise ProtocolError(f"malformed pump status byte {status:#04x} in {raw!r}")
    try:
        data = raw[i + 3 : j].decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"non-ASCII pump reply {raw!r}") from None
    return bool(status & READY_BIT), status & 0x0F, data


class CavroPump:
    def __init__(self, url: str, address: int = 1, syringe_ul: float = 5000.0, steps: int = 3000,
                 timeout: float = 2.0, port: Port | None = None):
        self.port = port or Port(url, baudrate=9600, timeout=timeout)
        self.address = address
        self.syringe_ul = syringe_ul
        self.steps = steps

    @property
    def ul_per_step(self) -> float:
        return self.syringe_ul / self.steps

    def command(self, cmd: str, execute: bool = True) -> tuple[bool, str]:
        self.port.drain()
        self.port.write(frame(self.address, cmd, execute))
        ready, err, data = parse_reply(self.port.read_until(b"\r\n"))
        if err:
            raise PumpError(err, ERRORS.get(err, "unknown error"))
        return ready, data

    def wait_ready(self, timeout: float = 60.0, poll: float = 0.01) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _ = self.command("Q", execute=False)
            if ready:
                return
            time.sleep(poll)
        raise PumpError(0, f"still busy after {timeout:.0f} s")

    def initialize(self) -> None:
        self.command("Z")
        self.wait_ready()

    def steps_for(self, volume_ul: float) -> int:
        return int(round(volume_ul / self.ul_per_step))

    def aspirate(self, volume_ul: float) -> float:
        n = self.steps_for(volume_ul)
        self.command(f"IP{n}")
        self.wait_ready()
        return n * self.ul_per_step

    def dispense(self, volume_ul: float) -> float:
        n = self.steps_for(volume_ul)
        self.command(f"OD{n}")
        self.wait_ready()
        return n * self.ul_per_step

    def transfer(self, volume_ul: float) -> float:
        """Aspirate from the reservoir and dispense to the vial, in as many strokes as the syringe needs."""
        done = 0.0
        while volume_ul - done > 0.5 * self.ul_per_step:
            stroke = min(self.syringe_ul, volume_ul - done)
            self.aspirate(stroke)
            done += self.dispense(stroke)
        return done

    def position(self) -> int:
        return int(self.command("?", execute=False)[1])

    def stop(self) -> None:
        """Emergency stop: terminate the current move."""
        self.port.write(frame(self.address, "T", execute=True))

    def close(self) -> None:
        self.port.close()
