"""MethodSCRIPT text format of PalmSens instruments (EmStat4, EmStat Pico, Sensit): scripts out, output in.

Facts used (PalmSens MethodSCRIPT documentation, "Communication" and "Output" sections, and PalmSens' public
example parsers): a script is a block of lines starting with ``e`` and ending with an empty line; the instrument
answers ``e`` on accepting it, then one line per item of output:

* ``P`` + ``;``-separated variables: two letters of type, seven hexadecimal digits of value offset by 2^27 and one
  SI-prefix character (``     nan`` for NaN), each optionally followed by ``,``-separated metadata: ``1X`` status
  (bit 1 overload, bit 2 underload, bit 3 overload warning, bit 0 timing error), ``2XX`` current range, ``4XXX``
  noise;
* ``M`` + four hexadecimal digits opens a measurement loop and ``*`` closes it; ``L`` opens a plain loop and ``+``
  closes it; ``C`` opens an nscans scan and ``-`` ends one scan;
* ``T`` + text is text the script sent; ``!`` + four hexadecimal digits (optionally ``: Line n, Col m``) an error;
* an empty line ends the output.

Outside a script: ``t`` → the firmware version on two lines, the first starting ``t``, the second ending ``*``;
``i`` → ``i`` + serial number; ``Z`` aborts a running script (answered ``Z``; ``Z!0006`` when none runs).
Variable types used here: ``dc`` applied frequency (Hz), ``cc`` Z_real (Ω), ``cd`` Z_imag (Ω).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

OFFSET = 2**27
SI_PREFIX = {"a": 1e-18, "f": 1e-15, "p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, " ": 1.0, "k": 1e3, "M": 1e6,
             "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18}
VAR_FREQUENCY, VAR_Z_REAL, VAR_Z_IMAG = "dc", "cc", "cd"


def encode_value(value: float) -> str:
    """Value → 7 hex digits + SI prefix, choosing the smallest prefix whose integer fits the 28-bit range."""
    if math.isnan(value):
        return "     nan"
    for prefix, factor in sorted(SI_PREFIX.items(), key=lambda kv: kv[1]):
        raw = round(value / factor)
        if -OFFSET <= raw < OFFSET:
            return f"{raw + OFFSET:07X}{prefix}"
    raise ValueError(f"{value} is out of the MethodSCRIPT range")


def decode_value(field: str) -> float:
    """A MethodSCRIPT variable value: 7 hex digits offset by 2^27, then an SI prefix character."""
    if field[:8] == "     nan":
        return math.nan
    if len(field) < 8:
        raise ValueError(f"variable value {field!r} is too short")
    raw = int(field[:7], 16) - OFFSET
    if field[7] not in SI_PREFIX:
        raise ValueError(f"unknown SI prefix {field[7]!r}")
    return raw * SI_PREFIX[field[7]]


def encode_packet(values: dict[str, float]) -> str:
    """A data packet line as an instrument writes it (for emulators and tests)."""
    return "P" + ";".join(f"{k}{encode_value(v)}" for k, v in values.items()) + "\n"


@dataclass
class Variable:
    type: str
    value: float
    status: int = 0  # metadata 1X: bit 0 timing error, 1 overload, 2 underload, 3 overload warning
    current_range: int | None = None  # metadata 2XX


STATUS_FLAGS = {0x1: "timing_error", 0x2: "overload", 0x4: "underload", 0x8: "overload_warning"}


def parse_variables(line: str) -> list[Variable]:
    """'P…' line → its variables with their metadata; raises ValueError on anything malformed."""
    line = line.rstrip("\r\n")
    if not line.startswith("P") or len(line) < 11:
        raise ValueError(f"not a data packet: {line!r}")
    out = []
    for var in line[1:].split(";"):
        body, *meta = var.split(",")
        if len(body) != 10 or not body[:2].isalpha():
            raise ValueError(f"malformed variable {var!r} in packet {line!r}")
        v = Variable(body[:2], decode_value(body[2:]))
        for token in meta:
            try:
                if len(token) == 2 and token[0] == "1":
                    v.status = int(token[1], 16)
                elif len(token) == 3 and token[0] == "2":
                    v.current_range = int(token[1:], 16)
                elif not (len(token) == 4 and token[0] == "4"):
                    raise ValueError
                else:
                    int(token[1:], 16)
            except ValueError:
                raise ValueError(f"malformed metadata {token!r} in packet {line!r}") from None
        out.append(v)
    return out


def parse_packet(line: str) -> dict[str, float]:
    """'P…' line → {variable type: value}; raises ValueError on anything malformed."""
    return {v.type: v.value for v in parse_variables(line)}


def status_flags(status: int) -> list[str]:
    """Names of the status bits set in a metadata status value (overload, underload, …)."""
    return [name for bit, name in STATUS_FLAGS.items() if status & bit]


@dataclass
class Output:
    """A script's parsed output: its packets (each with the loop it stood in) and the loops it opened."""
    packets: list[list[Variable]] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)  # the opening lines (M0000, L, C), in order
    text: list[str] = field(default_factory=list)  # T lines


class OutputParser:
    """Feeds on the lines after ``e`` and knows when the output ends; checks that scopes open and close in order."""

    CLOSES = {"*": "M", "+": "L"}

    def __init__(self) -> None:
        self.out = Output()
        self.open: list[str] = []
        self.done = False

    def feed(self, line: str) -> None:
        """One line of output (its newline included). Raises ValueError on a malformed one, ScriptError on ``!``."""
        if line == "\n":
            if self.open:
                raise ValueError(f"output ended inside open loops {self.open}")
            self.done = True
            return
        text = line.rstrip("\r\n")
        head = text[:1]
        if head == "P":
            self.out.packets.append(parse_variables(text))
        elif head == "M" and len(text) == 5 and all(c in "0123456789abcdefABCDEF" for c in text[1:]):
            self.open.append("M")
            self.out.loops.append(text)
        elif text == "L":
            self.open.append("L")
            self.out.loops.append(text)
        elif text == "C":
            self.out.loops.append(text)  # an nscans scan begins; it is ended by "-", inside its measurement loop
        elif text == "-":
            if "M" not in self.open:
                raise ValueError("'-' (end of scan) outside a measurement loop")
        elif text in self.CLOSES:
            if not self.open or self.open[-1] != self.CLOSES[text]:
                raise ValueError(f"{text!r} closes no open {self.CLOSES[text]!r} scope (open: {self.open})")
            self.open.pop()
        elif head == "T":
            self.out.text.append(text[1:])
        elif head == "!":
            raise ScriptError(text[1:5], text[5:].lstrip(": "))
        else:
            raise ValueError(f"unexpected line from the potentiostat: {line!r}")


class ScriptError(Exception):
    def __init__(self, code: str, where: str = ""):
        super().__init__(f"!{code}{' ' + where if where else ''}")
        self.code, self.where = code, where


def _si(value: float) -> str:
    """A number as MethodSCRIPT writes literals: integer mantissa with an SI prefix (e.g. 800k, 10m)."""
    for prefix, factor in sorted(SI_PREFIX.items(), key=lambda kv: -kv[1]):
        if prefix == " ":
            prefix = ""
        mant = value / factor
        if abs(mant) >= 1 and abs(mant - round(mant)) < 1e-9:
            return f"{int(round(mant))}{prefix}"
    return f"{int(round(value / 1e-9))}n"


def eis_script(f_max_hz: float, f_min_hz: float, n_frequencies: int, amplitude_v: float = 0.01) -> str:
    """A potentiostatic EIS script at 0 V DC: one packet (frequency, Z_real, Z_imag) per frequency."""
    return "\n".join([
        "e",
        "var f",
        "var r",
        "var j",
        "set_pgstat_chan 0",
        "set_pgstat_mode 3",
        "set_max_bandwidth 2M",
        "set_range_minmax da 0 0",
        "set_range ba 1m",
        "set_autoranging ba 100n 10m",
        "set_e 0",
        "cell_on",
        f"meas_loop_eis f r j {_si(amplitude_v)} {_si(f_max_hz)} {_si(f_min_hz)} {n_frequencies} 0",
        "  pck_start",
        "  pck_add f",
        "  pck_add r",
        "  pck_add j",
        "  pck_end",
        "endloop",
        "on_finished:",
        "cell_off",
        "",
        "",
    ])
