"""Mettler Toledo balances over MT-SICS, level 0 (the set every MT-SICS balance implements).

Facts from the MT-SICS Interface Command reference manual (Mettler Toledo, "Level 0" commands): commands and
replies end with CR LF. ``@`` resets and answers like ``I4``; ``I0`` lists the implemented commands, one
``I0 B <level> "<cmd>"`` line each and ``I0 A …`` for the last; ``I1`` → ``I1 A "<levels>" "<V0>" "<V1>" "<V2>"
"<V3>"``; ``I2`` → ``I2 A "<type> <capacity> <unit>"``; ``I3`` → ``I3 A "<software version> <TDNR>"``; ``I4`` →
``I4 A "<serial number>"``. ``S`` → ``S S <value> <unit>`` once stable; ``SI`` → at once, ``S S`` or ``S D``
(dynamic); ``SIR`` → ``SI`` replies repeated until the next command. ``Z`` → ``Z A``; ``ZI`` → ``ZI S`` or
``ZI D``. Errors: ``<cmd> I`` (cannot be executed now), ``<cmd> +`` / ``<cmd> -`` (over- or underload, or beyond
the zero range), and for any command ``ES`` (syntax), ``ET`` (transmission), ``EL`` (logical error).
"""

from __future__ import annotations

import re

from robot.drivers.port import Port
from robot.errors import BalanceError, DeviceTimeout, ProtocolError

LEVEL0 = ("@", "I0", "I1", "I2", "I3", "I4", "S", "SI", "SIR", "Z", "ZI")
GENERIC_ERRORS = {"ES": "syntax error", "ET": "transmission error", "EL": "logical error"}
WEIGH_ERRORS = {"I": "weighing not possible now (busy or timed out)", "+": "overload", "-": "underload (pan missing?)"}
ZERO_ERRORS = {"I": "zeroing not possible now", "+": "upper limit of the zero range exceeded",
               "-": "lower limit of the zero range exceeded"}


def _generic(parts: list[str], line: str) -> None:
    if parts and parts[0] in GENERIC_ERRORS:
        raise BalanceError(f"balance answered {parts[0]}: {GENERIC_ERRORS[parts[0]]}")
    if not parts:
        raise ProtocolError(f"empty balance reply {line!r}")


def parse_weight(line: str) -> tuple[bool, float, str]:
    """'S S     12.3456 g' → (stable, value, unit)."""
    parts = line.split()
    _generic(parts, line)
    if len(parts) == 2 and parts[0] == "S" and parts[1] in WEIGH_ERRORS:
        raise BalanceError(WEIGH_ERRORS[parts[1]])
    if len(parts) != 4 or parts[0] != "S" or parts[1] not in ("S", "D"):
        raise ProtocolError(f"malformed balance reply {line!r}")
    try:
        value = float(parts[2])
    except ValueError:
        raise ProtocolError(f"malformed weight in {line!r}") from None
    return parts[1] == "S", value, parts[3]


def parse_strings(line: str, command: str) -> list[str]:
    """'I4 A "B021002593"' → ['B021002593']: the quoted fields of an identification reply."""
    parts = line.split()
    _generic(parts, line)
    if len(parts) >= 2 and parts[0] == command and parts[1] == "I":
        raise BalanceError(f"{command} cannot be executed now")
    if len(parts) < 2 or parts[0] != command or parts[1] not in ("A", "B"):
        raise ProtocolError(f"malformed reply to {command}: {line!r}")
    return re.findall(r'"([^"]*)"', line)


class Balance:
    def __init__(self, url: str, timeout: float = 5.0, port: Port | None = None):
        self.port = port or Port(url, baudrate=9600, timeout=timeout)

    def _send(self, cmd: str) -> None:
        self.port.drain()
        self.port.write(cmd.encode("ascii") + b"\r\n")

    def _line(self) -> str:
        try:
            return self.port.read_until(b"\r\n").decode("ascii").strip()
        except UnicodeDecodeError:
            raise ProtocolError("non-ASCII balance reply") from None

    def _ask(self, cmd: str) -> str:
        self._send(cmd)
        return self._line()

    # ------------------------------------------------------------------ identification
    def reset(self) -> str:
        """``@``: reset the balance (cancels running commands and the tare); → its serial number."""
        return self._single_string("@", "I4")

    def serial_number(self) -> str:
        """The balance's serial number (I4)."""
        return self._single_string("I4")

    def model(self) -> str:
        """``I2``: balance type, capacity and unit, as one text."""
        return self._single_string("I2")

    def software(self) -> str:
        """The balance's software version (I3)."""
        return self._single_string("I3")

    def sics_levels(self) -> list[str]:
        """``I1``: the MT-SICS levels implemented and the version of each."""
        return parse_strings(self._ask("I1"), "I1")

    def commands(self) -> list[str]:
        """``I0``: every command the balance implements."""
        self._send("I0")
        out = []
        while True:
            line = self._line()
            out += parse_strings(line, "I0")[-1:]
            if line.split()[1] == "A":
                return out

    def identity(self) -> dict[str, str]:
        """What goes into a measurement's instrument ids: serial number, model and software."""
        return {"balance": self.serial_number(), "balance_model": self.model(), "balance_software": self.software()}

    def _single_string(self, cmd: str, reply: str | None = None) -> str:
        fields = parse_strings(self._ask(cmd), reply or cmd)
        if len(fields) != 1:
            raise ProtocolError(f"reply to {cmd} holds {len(fields)} strings, not one")
        return fields[0]

    # ------------------------------------------------------------------ weighing
    def zero(self) -> None:
        """``Z``: zero once the weight is stable."""
        self._zero("Z")

    def zero_immediately(self) -> bool:
        """``ZI``: zero at once; → whether the weight was stable when it was taken."""
        return self._zero("ZI") == "S"

    def _zero(self, cmd: str) -> str:
        line = self._ask(cmd)
        parts = line.split()
        _generic(parts, line)
        if len(parts) == 2 and parts[0] == cmd:
            if cmd == "Z" and parts[1] == "A":
                return "A"
            if cmd == "ZI" and parts[1] in ("S", "D"):
                return parts[1]
            if parts[1] in ZERO_ERRORS:
                raise BalanceError(f"zeroing failed: {ZERO_ERRORS[parts[1]]}")
        raise ProtocolError(f"malformed balance reply {line!r}")

    def weigh_g(self) -> float:
        """``S``: a stable weight in grams."""
        stable, value, unit = parse_weight(self._ask("S"))
        return self._grams(stable, value, unit, need_stable=True)

    def weigh_immediate_g(self) -> tuple[bool, float]:
        """``SI``: the weight now, stable or not; → (stable, grams)."""
        stable, value, unit = parse_weight(self._ask("SI"))
        return stable, self._grams(stable, value, unit)

    def weigh_stream_g(self, n: int) -> list[tuple[bool, float]]:
        """``SIR``: n successive immediate weights, then ``SI`` to end the stream (any command ends it)."""
        self._send("SIR")
        out = []
        for _ in range(n):
            stable, value, unit = parse_weight(self._line())
            out.append((stable, self._grams(stable, value, unit)))
        self._send("SI")
        # weights streamed before the balance saw SI are discarded up to and including its answer
        while True:
            try:
                self.port.read_until(b"\r\n", timeout=0.5)
            except DeviceTimeout:  # the line is quiet again
                return out

    @staticmethod
    def _grams(stable: bool, value: float, unit: str, need_stable: bool = False) -> float:
        if unit != "g":
            raise BalanceError(f"balance reports {unit}; set it to grams")
        if need_stable and not stable:
            raise BalanceError("unstable weight returned to S")
        return value

    def close(self) -> None:
        """Close the serial line."""
        self.port.close()
