"""PalmSens potentiostat (EmStat4 / Pico) driven by MethodSCRIPT over serial: impedance spectra."""

from __future__ import annotations

from dataclasses import dataclass

from robot.drivers import methodscript as ms
from robot.drivers.port import Port
from robot.errors import PotentiostatError, ProtocolError


@dataclass
class Spectrum:
    frequency_Hz: list[float]
    z_real_ohm: list[float]
    z_imag_ohm: list[float]

    def as_dict(self) -> dict:
        return {"frequency_Hz": self.frequency_Hz, "z_real_ohm": self.z_real_ohm, "z_imag_ohm": self.z_imag_ohm}


class Potentiostat:
    def __init__(self, url: str, timeout: float = 10.0, port: Port | None = None):
        self.port = port or Port(url, baudrate=230400, timeout=timeout)

    def run(self, script: str) -> list[dict[str, float]]:
        """Send a script; return its data packets. Raises on '!' errors, garbled packets or a timeout."""
        self.port.drain()
        self.port.write(script.encode("ascii"))
        packets = []
        started = False
        while True:
            raw = self.port.read_until(b"\n")
            try:
                line = raw.decode("ascii")
            except UnicodeDecodeError:
                raise ProtocolError(f"non-ASCII bytes from the potentiostat: {raw!r}") from None
            if line.startswith("!"):
                raise PotentiostatError(line[1:].strip())
            if not started:
                if line.strip() == "e":
                    started = True
                    continue
                raise ProtocolError(f"potentiostat did not accept the script (answered {line!r})")
            if line == "\n":
                return packets
            if line[0] in "*+-":
                continue
            if line.startswith("P"):
                try:
                    packets.append(ms.parse_packet(line))
                except ValueError as e:
                    raise ProtocolError(str(e)) from None
                continue
            raise ProtocolError(f"unexpected line from the potentiostat: {line!r}")

    def eis(self, f_max_hz: float, f_min_hz: float, n: int, amplitude_v: float = 0.01) -> Spectrum:
        packets = self.run(ms.eis_script(f_max_hz, f_min_hz, n, amplitude_v))
        if len(packets) != n:
            raise ProtocolError(f"expected {n} impedance points, got {len(packets)}")
        try:
            return Spectrum([p[ms.VAR_FREQUENCY] for p in packets], [p[ms.VAR_Z_REAL] for p in packets],
                            [p[ms.VAR_Z_IMAG] for p in packets])
        except KeyError as e:
            raise ProtocolError(f"packet without variable {e}") from None

    def close(self) -> None:
        self.port.close()
