"""Mettler Toledo balance over MT-SICS (level 0 commands).

Commands end with CR LF; so do replies. ``S`` → ``S S <value> <unit>`` once stable; ``SI`` → immediately, ``S S`` if
stable or ``S D`` (dynamic) if not; ``Z`` → ``Z A`` when zeroed. Failures: ``S I`` / ``Z I`` (cannot execute now),
``S +`` / ``S -`` (over- or underload), ``ES`` (syntax), ``ET`` (transmission), ``EL`` (logical error).
"""

from __future__ import annotations

from robot.drivers.port import Port
from robot.errors import BalanceError, ProtocolError

GENERIC_ERRORS = {"ES": "syntax error", "ET": "transmission error", "EL": "logical error"}


def parse_weight(line: str) -> tuple[bool, float, str]:
    """'S S     12.3456 g' → (stable, value, unit)."""
    parts = line.split()
    if parts and parts[0] in GENERIC_ERRORS:
        raise BalanceError(f"balance answered {parts[0]}: {GENERIC_ERRORS[parts[0]]}")
    if len(parts) >= 2 and parts[0] == "S" and parts[1] in ("I", "+", "-"):
        raise BalanceError({"I": "weighing not possible now (busy or timed out)", "+": "overload",
                            "-": "underload (pan missing?)"}[parts[1]])
    if len(parts) != 4 or parts[0] != "S" or parts[1] not in ("S", "D"):
        raise ProtocolError(f"malformed balance reply {line!r}")
    try:
        value = float(parts[2])
    except ValueError:
        raise ProtocolError(f"malformed weight in {line!r}") from None
    return parts[1] == "S", value, parts[3]


class Balance:
    def __init__(self, url: str, timeout: float = 5.0, port: Port | None = None):
        self.port = port or Port(url, baudrate=9600, timeout=timeout)

    def _ask(self, cmd: str) -> str:
        self.port.drain()
        self.port.write(cmd.encode("ascii") + b"\r\n")
        try:
            return self.port.read_until(b"\r\n").decode("ascii").strip()
        except UnicodeDecodeError:
            raise ProtocolError("non-ASCII balance reply") from None

    def zero(self) -> None:
        line = self._ask("Z")
        parts = line.split()
        if parts == ["Z", "A"]:
            return
        if parts and parts[0] in GENERIC_ERRORS:
            raise BalanceError(f"zeroing failed: {GENERIC_ERRORS[parts[0]]}")
        if len(parts) == 2 and parts[0] == "Z" and parts[1] in ("I", "+", "-"):
            raise BalanceError({"I": "zeroing not possible now", "+": "upper limit of the zero range exceeded",
                                "-": "lower limit of the zero range exceeded"}[parts[1]])
        raise ProtocolError(f"malformed balance reply {line!r}")

    def weigh_g(self) -> float:
        """A stable weight in grams."""
        stable, value, unit = parse_weight(self._ask("S"))
        if unit != "g":
            raise BalanceError(f"balance reports {unit}; set it to grams")
        if not stable:
            raise BalanceError("unstable weight returned to S")
        return value

    def weigh_immediate_g(self) -> tuple[bool, float]:
        stable, value, unit = parse_weight(self._ask("SI"))
        return stable, value

    def close(self) -> None:
        self.port.close()
