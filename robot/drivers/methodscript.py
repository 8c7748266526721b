"""MethodSCRIPT text format of PalmSens instruments (EmStat4, EmStat Pico, Sensit): scripts out, data packets in.

Facts used (PalmSens MethodSCRIPT documentation and its public example parsers): a script is a block of lines
starting with ``e`` and ending with an empty line; the instrument answers ``e`` on accepting it, then one line per
data packet: ``P`` followed by ``;``-separated variables, each two letters of type, seven hexadecimal digits of
value offset by 2^27, and one SI-prefix character, optionally followed by ``,``-separated metadata; ``*`` closes a
measurement loop, ``+`` a loop, ``-`` a scan; an empty line ends the script's output; ``!`` plus a hexadecimal
code reports an error. Types used here: ``dc`` applied frequency (Hz), ``cc`` Z_real (Ω), ``cd`` Z_imag (Ω).
"""

from __future__ import annotations

import math

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
    if field[:8] == "     nan":
        return math.nan
    if len(field) < 8:
        raise ValueError(f"variable value {field!r} is too short")
    raw = int(field[:7], 16) - OFFSET
    if field[7] not in SI_PREFIX:
        raise ValueError(f"unknown SI prefix {field[7]!r}")
    return raw * SI_PREFIX[field[7]]


def encode_packet(values: dict[str, float]) -> str:
    return "P" + ";".join(f"{k}{encode_value(v)}" for k, v in values.items()) + "\n"


def parse_packet(line: str) -> dict[str, float]:
    """'P…' line → {variable type: value}; raises ValueError on anything malformed."""
    line = line.rstrip("\r\n")
    if not line.startswith("P") or len(line) < 11:
        raise ValueError(f"not a data packet: {line!r}")
    out = {}
    for var in line[1:].split(";"):
        body = var.split(",")[0]
        if len(body) != 10 or not body[:2].isalpha():
            raise ValueError(f"malformed variable {var!r} in packet {line!r}")
        out[body[:2]] = decode_value(body[2:])
    return out


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
