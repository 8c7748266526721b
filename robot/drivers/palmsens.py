"""PalmSens potentiostat (EmStat4 / Pico) driven by MethodSCRIPT over serial: identification and impedance spectra."""

from __future__ import annotations

from dataclasses import dataclass, field

from robot.drivers import methodscript as ms
from robot.drivers.port import Port
from robot.errors import PotentiostatError, ProtocolError


@dataclass
class Spectrum:
    frequency_Hz: list[float]
    z_real_ohm: list[float]
    z_imag_ohm: list[float]
    flags: list[str] = field(default_factory=list)  # instrument status of any point (overload, underload, …)

    def as_dict(self) -> dict[str, list[float]]:
        """The three columns, as the robot contract's Spectrum has them."""
        return {"frequency_Hz": self.frequency_Hz, "z_real_ohm": self.z_real_ohm, "z_imag_ohm": self.z_imag_ohm}


class Potentiostat:
    def __init__(self, url: str, timeout: float = 10.0, port: Port | None = None):
        self.port = port or Port(url, baudrate=230400, timeout=timeout)

    def _line(self) -> str:
        raw = self.port.read_until(b"\n")
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError:
            raise ProtocolError(f"non-ASCII bytes from the potentiostat: {raw!r}") from None

    def _command(self, cmd: str) -> str:
        self.port.drain()
        self.port.write(cmd.encode("ascii") + b"\n")
        line = self._line()
        if line.startswith("!"):
            raise PotentiostatError(line[1:].strip(), f"command {cmd!r} refused")
        return line

    # ------------------------------------------------------------------ identification
    def firmware(self) -> str:
        """``t``: the firmware version (two lines, the second ending ``*``), as one string."""
        first = self._command("t")
        if not first.startswith("t"):
            raise ProtocolError(f"answer to the version query does not start with 't': {first!r}")
        second = self._line()
        if not second.rstrip("\r\n").endswith("*"):
            raise ProtocolError(f"version answer does not end with '*': {second!r}")
        return (first[1:] + second).replace("\n", " ").strip().rstrip("*").strip()

    def serial_number(self) -> str:
        """The instrument's serial number (i)."""
        line = self._command("i")
        if not line.startswith("i") or len(line.strip()) < 2:
            raise ProtocolError(f"answer to the serial-number query is {line!r}")
        return line[1:].strip()

    def identity(self) -> dict[str, str]:
        """Firmware version and serial number, keyed for a result's instrument_ids."""
        return {"potentiostat": self.serial_number(), "potentiostat_firmware": self.firmware()}

    def abort(self) -> bool:
        """``Z``: abort a running script; → whether one was running (its remaining output is read and discarded)."""
        self.port.write(b"\nZ\n")
        while True:
            line = self._line()
            if line.startswith("Z"):
                break
        if line.startswith("Z!"):
            return False
        while self._line() != "\n":
            pass
        return True

    # ------------------------------------------------------------------ scripts
    def run(self, script: str) -> list[dict[str, float]]:
        """Send a script; return its data packets. Raises on '!' errors, garbled output or a timeout."""
        return [{v.type: v.value for v in p} for p in self.run_output(script).packets]

    def run_output(self, script: str) -> ms.Output:
        """Send a script and parse its whole output; a refused script or an error line raises."""
        self.port.drain()
        self.port.write(script.encode("ascii"))
        first = self._line()
        if first.startswith("!"):
            raise PotentiostatError(first[1:].strip(), "script refused")
        if first.strip() != "e":
            raise ProtocolError(f"potentiostat did not accept the script (answered {first!r})")
        parser = ms.OutputParser()
        while not parser.done:
            try:
                parser.feed(self._line())
            except ms.ScriptError as e:
                raise PotentiostatError(e.code, e.where) from None
            except ValueError as e:
                raise ProtocolError(str(e)) from None
        return parser.out

    def eis(self, f_max_hz: float, f_min_hz: float, n: int, amplitude_v: float = 0.01) -> Spectrum:
        """An impedance sweep at 0 V DC from f_max_hz down to f_min_hz at n frequencies, amplitude amplitude_v."""
        out = self.run_output(ms.eis_script(f_max_hz, f_min_hz, n, amplitude_v))
        if len(out.packets) != n:
            raise ProtocolError(f"expected {n} impedance points, got {len(out.packets)}")
        columns: dict[str, list[float]] = {ms.VAR_FREQUENCY: [], ms.VAR_Z_REAL: [], ms.VAR_Z_IMAG: []}
        status = 0
        for packet in out.packets:
            found = {v.type: v for v in packet}
            for t, col in columns.items():
                if t not in found:
                    raise ProtocolError(f"packet without variable {t!r}")
                col.append(found[t].value)
            for v in packet:
                status |= v.status
        return Spectrum(columns[ms.VAR_FREQUENCY], columns[ms.VAR_Z_REAL], columns[ms.VAR_Z_IMAG],
                        [f"potentiostat_{f}" for f in ms.status_flags(status)])

    def close(self) -> None:
        """Close the serial line."""
        self.port.close()
