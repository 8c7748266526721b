"""Tecan Cavro XCalibur / Centris syringe pumps on an RS-232/RS-485 line: the DT and the OEM protocol.

Facts from the Cavro XCalibur pump operating manual (Tecan, "Communication" chapter; the public copy that open-source
clients of the pump ship with):

* Addresses (manual, address-switch table). A single pump at switch position 0–F answers to the ASCII characters
  ``1``–``9``, ``:``, ``;``, ``<``, ``=``, ``>``, ``?``, ``@`` (0x31–0x40). We number pumps 1–16 = switch + 1, so
  pump n is ``chr(0x30 + n)``. Group addresses make several pumps execute one command: dual ``A`` (pumps 1–2),
  ``C`` (3–4) … ``O`` (15–16); quad ``Q`` (1–4), ``U`` (5–8), ``Y`` (9–12), ``]`` (13–16); all ``_``. Pumps
  addressed as a group send no answer (they would collide on the bus).
* DT (data terminal) frame: ``/`` address command(s) [``R``] CR. Answer: ``/`` ``0`` (the master's address)
  status [data] ETX CR LF.
* OEM frame: STX address sequence command(s) ETX checksum, the checksum the XOR of every byte from STX to ETX. The
  sequence byte is 0011 R S2 S1 S0: sequence number 1–7 in S2–S0 and the repeat flag R set on a retransmission.
  A pump that receives a repeat of the frame it executed last does not execute it again; it answers again. Answer:
  STX ``0`` status [data] ETX checksum. The pump detects DT or OEM from the first byte of each frame.
* Status byte: 0100 0000 | bit 5 ready (idle) | bits 0–3 error code (table below). Errors of a command string
  (2 invalid command, 3 invalid operand, 7 not initialised, 15 overflow) are answered to that frame; errors that
  arise while moving (1, 9, 10) are answered to the next query once; an overload leaves the pump uninitialised.
* Commands used: ``Z<force>[,<in>,<out>]`` initialise, ``I``/``O``/``B``/``E`` valve to input/output/bypass/extra,
  ``A<n>`` absolute position, ``P<n>``/``D<n>`` relative aspirate/dispense, ``T`` terminate. Reports: ``Q`` status,
  ``?``/``?0`` plunger position, ``?1`` start speed, ``?2`` top speed, ``?3`` cutoff speed, ``?4`` actual position,
  ``?6`` valve position (``i``, ``o``, ``b``, ``e``), ``?10`` buffer status, ``&`` firmware version.
"""

from __future__ import annotations

import time

from robot.drivers.port import Port
from robot.errors import DeviceTimeout, ProtocolError, PumpError

ERRORS = {1: "initialisation error", 2: "invalid command", 3: "invalid operand", 4: "invalid command sequence",
          6: "EEPROM failure", 7: "device not initialised", 9: "plunger overload", 10: "valve overload",
          11: "plunger move not allowed", 15: "command overflow"}
READY_BIT = 0x20
STATUS_BASE = 0x40
STX, ETX = b"\x02", b"\x03"
MASTER = ord("0")

# group address character → the pump numbers (1–16) that execute it
GROUPS: dict[str, frozenset[int]] = {
    **{chr(0x41 + 2 * i): frozenset({2 * i + 1, 2 * i + 2}) for i in range(8)},  # A, C, E, … O
    **{chr(0x51 + 4 * i): frozenset(range(4 * i + 1, 4 * i + 5)) for i in range(4)},  # Q, U, Y, ]
    "_": frozenset(range(1, 17)),
}


def address_char(pump: int) -> str:
    """The single-pump address character of pump 1–16 (address switch 0–F)."""
    if not 1 <= pump <= 16:
        raise ValueError(f"pump number {pump} is outside 1–16 (address switch 0–F)")
    return chr(0x30 + pump)


def pump_of(char: str) -> int | None:
    """The pump number a single address character selects, or None for a group or an invalid character."""
    n = ord(char) - 0x30
    return n if 1 <= n <= 16 else None


def frame(address: int, command: str, execute: bool = True) -> bytes:
    """A DT frame to one pump."""
    return dt_frame(address_char(address), command, execute)


def dt_frame(char: str, command: str, execute: bool = True) -> bytes:
    """A DT-protocol frame: '/', the address, the command (with R to execute it), CR."""
    return f"/{char}{command}{'R' if execute else ''}\r".encode("ascii")


def checksum(data: bytes) -> int:
    """The OEM protocol's checksum: the XOR of every byte of the frame before it."""
    c = 0
    for b in data:
        c ^= b
    return c


def oem_frame(char: str, sequence: int, command: str, execute: bool = True, repeat: bool = False) -> bytes:
    """An OEM frame: STX, address, sequence byte, command, ETX, XOR checksum."""
    if not 1 <= sequence <= 7:
        raise ValueError("an OEM sequence number is 1–7")
    body = STX + char.encode("ascii") + bytes([0x30 | (0x08 if repeat else 0) | sequence])
    body += (command + ("R" if execute else "")).encode("ascii") + ETX
    return body + bytes([checksum(body)])


def _status(status: int, raw: bytes) -> tuple[bool, int]:
    if status & 0xD0 != STATUS_BASE:  # bit 6 set, bits 7 and 4 clear in every valid status byte
        raise ProtocolError(f"malformed pump status byte {status:#04x} in {raw!r}")
    return bool(status & READY_BIT), status & 0x0F


def _ascii(data: bytes, raw: bytes) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ProtocolError(f"non-ASCII pump reply {raw!r}") from None


def parse_reply(raw: bytes) -> tuple[bool, int, str]:
    """A DT answer → (ready, error code, data). Raises ProtocolError on a malformed frame."""
    i = raw.find(b"/0")
    j = raw.find(ETX, i + 2 if i >= 0 else 0)
    if i < 0 or j < 0 or j < i + 3:
        raise ProtocolError(f"malformed pump reply {raw!r}")
    ready, err = _status(raw[i + 2], raw)
    return ready, err, _ascii(raw[i + 3 : j], raw)


def parse_oem_reply(raw: bytes) -> tuple[bool, int, str]:
    """An OEM answer (STX ``0`` status data ETX checksum) → (ready, error code, data)."""
    i = raw.find(STX)
    if i < 0 or len(raw) < i + 5 or raw[-2:-1] != ETX or raw[i + 1] != MASTER:
        raise ProtocolError(f"malformed OEM pump reply {raw!r}")
    if checksum(raw[i:-1]) != raw[-1]:
        raise ProtocolError(f"OEM pump reply with a wrong checksum {raw!r}")
    ready, err = _status(raw[i + 2], raw)
    return ready, err, _ascii(raw[i + 3 : -2], raw)


class CavroPump:
    """One pump on a (possibly shared) line. ``protocol`` is ``dt`` (default) or ``oem`` (framed, checksummed,
    retransmitted with the repeat flag on a timeout or a corrupt answer, as the manual recommends on noisy links)."""

    def __init__(self, url: str, address: int = 1, syringe_ul: float = 5000.0, steps: int = 3000,
                 timeout: float = 2.0, port: Port | None = None, protocol: str = "dt", retransmissions: int = 2):
        if protocol not in ("dt", "oem"):
            raise ValueError(f"unknown Cavro protocol {protocol!r}; choose dt or oem")
        self.port = port or Port(url, baudrate=9600, timeout=timeout)
        self.address = address
        self.char = address_char(address)
        self.syringe_ul = syringe_ul
        self.steps = steps
        self.protocol = protocol
        self.retransmissions = retransmissions
        self._sequence = 0

    @property
    def ul_per_step(self) -> float:
        """Microlitres per plunger step at this syringe size and step resolution."""
        return self.syringe_ul / self.steps

    def _exchange_dt(self, cmd: str, execute: bool) -> tuple[bool, int, str]:
        self.port.drain()
        self.port.write(dt_frame(self.char, cmd, execute))
        return parse_reply(self.port.read_until(b"\r\n"))

    def _read_oem(self) -> bytes:
        head = self.port.read_until(ETX)
        return head + self.port.read_exactly(1)

    def _exchange_oem(self, cmd: str, execute: bool) -> tuple[bool, int, str]:
        self._sequence = self._sequence % 7 + 1
        last: Exception | None = None
        for attempt in range(self.retransmissions + 1):
            self.port.drain()
            self.port.write(oem_frame(self.char, self._sequence, cmd, execute, repeat=attempt > 0))
            try:
                return parse_oem_reply(self._read_oem())
            except (DeviceTimeout, ProtocolError) as e:
                last = e
        assert last is not None
        raise last

    def command(self, cmd: str, execute: bool = True) -> tuple[bool, str]:
        """Send a command string; → (ready, data). Raises PumpError on an error in the status byte."""
        exchange = self._exchange_oem if self.protocol == "oem" else self._exchange_dt
        ready, err, data = exchange(cmd, execute)
        if err:
            raise PumpError(err, ERRORS.get(err, "unknown error"))
        return ready, data

    def query(self, report: str) -> str:
        """A report command (``?n``, ``&``): its data, never executed as a move."""
        return self.command(report, execute=False)[1]

    def wait_ready(self, timeout: float = 60.0, poll: float = 0.01) -> None:
        """Poll the pump's status until it is idle; still busy after ``timeout`` s raises PumpError."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready, _ = self.command("Q", execute=False)
            if ready:
                return
            time.sleep(poll)
        raise PumpError(0, f"still busy after {timeout:.0f} s")

    def initialize(self, force: int = 0, input_port: int = 0, output_port: int = 0) -> None:
        """``Z``: home the plunger at full (0), half (1) or a third (2) of the force, valve ports as given."""
        self.command(f"Z{force},{input_port},{output_port}")
        self.wait_ready()

    def steps_for(self, volume_ul: float) -> int:
        """The whole number of plunger steps nearest to ``volume_ul``."""
        return int(round(volume_ul / self.ul_per_step))

    def aspirate(self, volume_ul: float) -> float:
        """Draw ``volume_ul`` from the input port; returns the volume the steps actually moved."""
        n = self.steps_for(volume_ul)
        self.command(f"IP{n}")
        self.wait_ready()
        return n * self.ul_per_step

    def dispense(self, volume_ul: float) -> float:
        """Push ``volume_ul`` out of the output port; returns the volume the steps actually moved."""
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
        """Plunger position in steps (``?``)."""
        return self._int_report("?")

    def speeds(self) -> dict[str, int]:
        """Start, top and cutoff speeds in pulses per second (``?1``, ``?2``, ``?3``)."""
        return {"start": self._int_report("?1"), "top": self._int_report("?2"), "cutoff": self._int_report("?3")}

    def valve(self) -> str:
        """Valve position (``?6``): ``i`` input, ``o`` output, ``b`` bypass, ``e`` extra."""
        v = self.query("?6")
        if v not in ("i", "o", "b", "e"):
            raise ProtocolError(f"pump {self.address}: unknown valve position {v!r}")
        return v

    def firmware(self) -> str:
        """Firmware version string (``&``)."""
        return self.query("&")

    def _int_report(self, report: str) -> int:
        data = self.query(report)
        try:
            return int(data)
        except ValueError:
            raise ProtocolError(f"pump {self.address}: report {report} answered {data!r}, not a number") from None

    def stop(self) -> None:
        """Emergency stop: terminate the current move."""
        self._sequence = self._sequence % 7 + 1
        stop = oem_frame(self.char, self._sequence, "T") if self.protocol == "oem" else dt_frame(self.char, "T")
        self.port.write(stop)

    def close(self) -> None:
        """Close the serial line."""
        self.port.close()


def broadcast(port: Port, group: str, command: str, execute: bool = True) -> None:
    """Send one DT command to a group address (``A``–``O`` dual, ``Q``/``U``/``Y``/``]`` quad, ``_`` all). The
    pumps execute it and send no answer, so the caller confirms each pump with its own ``Q``."""
    if group not in GROUPS:
        raise ValueError(f"{group!r} is not a Cavro group address; use one of {''.join(sorted(GROUPS))}")
    port.write(dt_frame(group, command, execute))
