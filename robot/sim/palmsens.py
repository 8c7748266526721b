"""An emulated PalmSens EmStat4 that accepts MethodSCRIPT and answers with the documented framing: ``e``, a
measurement loop opened by ``M0000`` and closed by ``*``, packets with status and current-range metadata, the empty
line; and the non-script commands a client uses: ``t`` (firmware), ``i`` (serial number), ``Z`` (abort)."""

from __future__ import annotations

import re

import numpy as np

from robot.drivers import methodscript as ms
from robot.sim.devices import Emulator, cut_after

FIRMWARE = ("tes4_hr1.6.0-emu#Dec  1 2026 00:00:00", "R*")
SERIAL = "ES4HR26EMU01"
UNKNOWN_COMMAND = "!0003"  # what the emulator answers to a line that is neither a command nor a script
NO_SCRIPT_RUNNING = "Z!0006"  # the abort answer PalmSens' example parser expects when nothing runs
BAD_ARGUMENT = "!4003"
CURRENT_RANGE = "20F"  # metadata 2XX: the EmStat4 10 µA range


class PotentiostatEmulator(Emulator):
    """Scripts run to completion within one frame, so an abort never finds one running."""

    def split(self, buf: bytes):
        script = buf.startswith(b"e\n") or buf.startswith(b"e\r\n")
        return cut_after(buf, b"\n\n" if script else b"\n")

    def handle(self, frame: bytes) -> bytes:
        text = frame.decode("ascii", "replace")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        if not lines:
            return b""  # an empty line flushes the command buffer; nothing is answered
        if lines[0] != "e":
            command = lines[0]
            if command == "t":
                return ("\n".join(FIRMWARE) + "\n").encode()
            if command == "i":
                return f"i{SERIAL}\n".encode()
            if command == "Z":
                return f"{NO_SCRIPT_RUNNING}\n".encode()
            return f"{UNKNOWN_COMMAND}\n".encode()
        loop = [ln for ln in lines if ln.startswith("meas_loop_eis")]
        if not loop:
            return b"e\n\n"
        parts = loop[0].split()
        try:
            f_max, f_min, n = _si(parts[5]), _si(parts[6]), int(parts[7])
        except (IndexError, ValueError):
            return f"e\n{BAD_ARGUMENT}\n\n".encode()
        if not re.fullmatch(r"\d+", parts[7]) or n < 1 or f_max <= 0 or f_min <= 0:
            return f"e\n{BAD_ARGUMENT}\n\n".encode()
        f = np.geomspace(f_max, f_min, n)
        z = self.world.impedance(f)
        out = ["e", "M0000"]
        for fi, zi in zip(f, z):
            out.append("P" + ";".join([f"{ms.VAR_FREQUENCY}{ms.encode_value(fi)}",
                                       f"{ms.VAR_Z_REAL}{ms.encode_value(zi.real)},10,{CURRENT_RANGE}",
                                       f"{ms.VAR_Z_IMAG}{ms.encode_value(zi.imag)},10,{CURRENT_RANGE}"]))
        out += ["*", "", ""]
        return "\n".join(out).encode()


def _si(token: str) -> float:
    token = token.strip()
    if token and token[-1] in ms.SI_PREFIX and not token[-1].isdigit():
        return float(token[:-1]) * ms.SI_PREFIX[token[-1]]
    return float(token)
