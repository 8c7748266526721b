"""Emulated Cavro XCalibur pumps sharing one line, answering the DT and the OEM protocol as the XCalibur operating
manual describes them (the facts are listed in ``robot/drivers/cavro.py``): single and group addresses, the command
string checked whole before anything moves, immediate errors answered once, motion errors latched until the next
answer, the documented reports, and OEM retransmissions answered without executing twice."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from robot.drivers.cavro import ETX, GROUPS, MASTER, READY_BIT, STATUS_BASE, STX, checksum, pump_of
from robot.sim.devices import Emulator, cut_after
from robot.sim.world import World

FIRMWARE = "XCALIBUR-EMU 1.0 (DT/OEM)"
INVALID_COMMAND, INVALID_OPERAND, NOT_INITIALISED, PLUNGER_OVERLOAD, COMMAND_OVERFLOW = 2, 3, 7, 9, 15

# operand ranges at normal resolution (manual, command reference); moves are bounded by the syringe's steps
SPEED_RANGES = {"V": (5, 6000), "v": (50, 1000), "c": (50, 2700)}
PLUNGER = set("APDapd")
VALVE = set("IOBE")
INIT = set("ZYW")
FINE_STEPS_PER_STEP = 8  # N1, fine positioning: a stroke of 3000 steps is addressed in 24,000 increments
TOKEN = re.compile(r"([A-Za-z])(\d+(?:,\d+)*)?")


class CommandError(Exception):
    def __init__(self, code: int):
        self.code = code


@dataclass
class PumpState:
    steps: int
    syringe_ul: float
    role: str = "stock"
    position: float = 0.0  # in steps of normal mode (N0); fine mode (N1) addresses eighths of them
    valve: str = "i"
    initialised: bool = False
    busy_until: float = 0.0
    fine: bool = False  # N1: positions and plunger operands in increments of 1/FINE_STEPS_PER_STEP step
    pending_error: int = 0  # a motion error, answered once to the next frame
    stalled: bool = False  # the move just accepted will stall: its error belongs to the frames after this one
    speeds: dict[str, int] = field(default_factory=lambda: {"v": 900, "V": 1400, "c": 900})
    buffer: str = ""  # a command string received without R
    last_executed: str = ""
    last_sequence: int | None = None  # OEM: the sequence number of the frame answered last
    last_answer: bytes = b""

    @property
    def ready(self) -> bool:
        return time.monotonic() >= self.busy_until


def parse_commands(text: str) -> list[tuple[str, list[int]]]:
    """A command string → [(command, operands)]; CommandError(2) for an unknown character, (3) for a malformed
    number (``P600.0``)."""
    out, i = [], 0
    while i < len(text):
        m = TOKEN.match(text, i)
        if not m:
            # a character that is no command: right after a number it makes that number malformed
            raise CommandError(INVALID_OPERAND if i and (text[i - 1].isdigit() or text[i - 1] == ",") else INVALID_COMMAND)
        letter, operands = m.group(1), m.group(2)
        out.append((letter, [int(x) for x in operands.split(",")] if operands else []))
        i = m.end()
    return out


def target(command: str, operand: float, position: float) -> float:
    """Where a plunger command takes the plunger: A/a absolute, P/p up (aspirate), D/d down (dispense)."""
    if command in "Aa":
        return operand
    return position + operand if command in "Pp" else position - operand


class CavroEmulator(Emulator):
    """Several pumps on one RS-485 line, told apart by address (pump n = switch n − 1). A move takes ``move_s``."""

    def __init__(self, world: World, addresses: list[int], syringe_ul: dict[int, float], steps: int = 3000,
                 move_s: float = 0.02, role: dict[int, str] | None = None):
        role = role or {}
        self.pumps = {a: PumpState(steps, syringe_ul[a], role.get(a, "stock")) for a in addresses}
        self.move_s = move_s
        super().__init__(world)

    # ---------------------------------------------------------------- framing
    def split(self, buf: bytes):
        # resynchronise on the next start byte of either protocol
        starts = [i for i in (buf.find(b"/"), buf.find(STX)) if i >= 0]
        if not starts:
            return b"", b"", False
        buf = buf[min(starts):]
        return cut_after(buf, ETX, extra=1) if buf[:1] == STX else cut_after(buf, b"\r")

    def handle(self, frame: bytes) -> bytes:
        if frame[:1] == STX:
            return self._handle_oem(frame)
        text = frame[1:].rstrip(b"\r").decode("ascii", "replace")
        if not text:
            return b""
        answer = self._dispatch(text[0], text[1:])
        return b"/0" + answer + ETX + b"\r\n" if answer is not None else b""

    def _handle_oem(self, frame: bytes) -> bytes:
        if len(frame) < 5 or checksum(frame[:-1]) != frame[-1]:
            return b""  # a corrupt frame is ignored; the host retransmits
        char, seq_byte = chr(frame[1]), frame[2]
        if seq_byte & 0xF0 != 0x30:
            return b""
        sequence, repeat = seq_byte & 0x07, bool(seq_byte & 0x08)
        pump = self.pumps.get(pump_of(char) or 0)
        if repeat and pump is not None and pump.last_sequence == sequence and pump.last_answer:
            return pump.last_answer  # the host missed our answer: say it again, do not execute twice
        answer = self._dispatch(char, frame[3:-2].decode("ascii", "replace"))
        if answer is None:
            return b""
        reply = STX + bytes([MASTER]) + answer + ETX
        reply += bytes([checksum(reply)])
        if pump is not None:
            pump.last_sequence, pump.last_answer = sequence, reply
        return reply

    # ---------------------------------------------------------------- commands
    def _dispatch(self, char: str, body: str) -> bytes | None:
        """Status byte + data for a single pump; None when nobody answers (no pump there, or a group address)."""
        if char in GROUPS:
            for n in sorted(GROUPS[char] & self.pumps.keys()):
                self._answer(self.pumps[n], n, body)
            return None
        n = pump_of(char)
        if n is None or n not in self.pumps:
            return None
        return self._answer(self.pumps[n], n, body)

    def _status(self, p: PumpState, error: int = 0) -> bytes:
        if not error and p.pending_error:
            error, p.pending_error = p.pending_error, 0
        return bytes([STATUS_BASE | (READY_BIT if p.ready else 0) | (error & 0x0F)])

    def _answer(self, p: PumpState, n: int, body: str) -> bytes:
        report = body[:-1] if body.endswith("R") and (body.startswith("?") or body.startswith("&")) else body
        if report == "Q":
            return self._status(p)
        if report.startswith("?") or report == "&":
            data = self._report(p, report)
            if data is None:
                return self._status(p, INVALID_COMMAND)
            return self._status(p) + data.encode("ascii")
        if not body.endswith("R"):
            p.buffer = body  # stored, executed by a later R
            return self._status(p)
        text = body[:-1] or p.buffer
        if text == "X":
            text = p.last_executed
        p.buffer = ""
        try:
            self._execute(p, n, text)
        except CommandError as e:
            return self._status(p, e.code)
        status = self._status(p)
        if p.stalled:
            p.pending_error, p.stalled = PLUNGER_OVERLOAD, False
        return status

    def _report(self, p: PumpState, report: str) -> str | None:
        at = str(round(p.position * (FINE_STEPS_PER_STEP if p.fine else 1)))
        return {"?": at, "?0": at, "?4": at,
                "?1": str(p.speeds["v"]), "?2": str(p.speeds["V"]), "?3": str(p.speeds["c"]),
                "?6": p.valve, "?10": "1" if p.buffer else "0", "&": FIRMWARE}.get(report)

    def _execute(self, p: PumpState, n: int, text: str) -> None:
        commands = parse_commands(text)
        if any(c == "T" for c, _ in commands):
            p.busy_until = 0.0  # terminate: stop at once, whatever else the string held
            return
        if not p.ready:
            raise CommandError(COMMAND_OVERFLOW)
        # check the whole string before anything moves
        position = p.position
        initialised = p.initialised
        scale = FINE_STEPS_PER_STEP if p.fine else 1  # increments per step, as N0/N1 earlier in the string leave it
        for c, ops in commands:
            if c in INIT:
                if len(ops) > 3 or (ops and not 0 <= ops[0] <= 2):
                    raise CommandError(INVALID_OPERAND)
                initialised, position = True, 0
            elif c in VALVE:
                if ops:
                    raise CommandError(INVALID_OPERAND)  # 3-port valve: no port number
                if not initialised:
                    raise CommandError(NOT_INITIALISED)
            elif c in PLUNGER:
                if len(ops) != 1:
                    raise CommandError(INVALID_OPERAND)
                if not initialised:
                    raise CommandError(NOT_INITIALISED)
                position = target(c, ops[0] / scale, position)
                if not 0 <= position <= p.steps:
                    raise CommandError(INVALID_OPERAND)
            elif c == "N":  # N0 normal, N1 fine positioning (the manual's microstep mode off / on)
                if len(ops) > 1 or (ops and ops[0] not in (0, 1)):
                    raise CommandError(INVALID_OPERAND)
                scale = FINE_STEPS_PER_STEP if ops and ops[0] == 1 else 1
            elif c in SPEED_RANGES:
                lo, hi = SPEED_RANGES[c]
                if len(ops) != 1 or not lo <= ops[0] <= hi:
                    raise CommandError(INVALID_OPERAND)
            elif c == "M":
                if len(ops) != 1 or not 0 <= ops[0] <= 30000:
                    raise CommandError(INVALID_OPERAND)
            else:
                raise CommandError(INVALID_COMMAND)
        # execute
        p.last_executed = text
        p.busy_until = time.monotonic() + self.move_s
        for c, ops in commands:
            if c in INIT:
                p.initialised, p.position, p.valve = True, 0, "i"
            elif c in VALVE:
                p.valve = c.lower()
            elif c in SPEED_RANGES:
                p.speeds[c] = ops[0]
            elif c == "N":
                p.fine = bool(ops and ops[0] == 1)
            elif c in PLUNGER:
                if self.world.take("pump_error"):
                    # the plunger stalls: reported to the next frame; the pump needs initialising again
                    p.stalled, p.initialised = True, False
                    return
                self._move(p, n, c, ops[0] / (FINE_STEPS_PER_STEP if p.fine else 1))

    def _move(self, p: PumpState, n: int, c: str, k: float) -> None:
        new = target(c, k, p.position)
        if new < p.position and p.valve == "o":
            volume = (p.position - new) * p.syringe_ul / p.steps
            if p.role == "stock":
                self.world.deliver(n, volume)
            elif p.role == "transfer":
                self.world.fill_cell()
            elif p.role == "rinse":
                self.world.rinse()
        p.position = new
