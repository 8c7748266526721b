"""An emulated Mettler Toledo balance answering every MT-SICS level-0 command (``@``, ``I0``–``I4``, ``S``, ``SI``,
``SIR``, ``Z``, ``ZI``) with the replies of the MT-SICS reference manual, including its error forms."""

from __future__ import annotations

from robot.drivers.mettler import LEVEL0
from robot.sim.devices import Emulator

SERIAL = "B926012345"
MODEL = "XPR-EMU"
CAPACITY_G = 220.0
SOFTWARE = "1.00 10.28.0.493.142"
SICS_VERSIONS = ("0", "2.20", "", "", "")  # level 0 implemented, its version; levels 1–3 not


class BalanceEmulator(Emulator):
    terminator = b"\r\n"

    def __init__(self, *args, **kwargs):
        self.streaming = False  # SIR: a weight every read timeout until the next command
        super().__init__(*args, **kwargs)

    def _net_g(self) -> float:
        w = self.world
        return w.vial_mass_g() - w.vial_tare_g + w.balance_noise_g * w.rng.standard_normal()

    def _weight(self, stable: bool = True) -> bytes:
        gross = self.world.vial_mass_g()
        if gross > CAPACITY_G:
            return b"S +\r\n"
        return f"S {'S' if stable else 'D'} {self._net_g():>10.4f} g\r\n".encode()

    def idle(self) -> bytes:
        return self._weight() if self.streaming else b""

    def handle(self, frame: bytes) -> bytes:
        self.streaming = False  # any command ends an SIR stream
        try:
            cmd = frame.decode("ascii").strip()
        except UnicodeDecodeError:
            return b"ET\r\n"  # transmission error: bytes that are not MT-SICS characters
        name, _, args = cmd.partition(" ")
        if name not in LEVEL0:
            return b"ES\r\n"
        if args:
            return b"EL\r\n"  # level-0 commands take no parameters
        w = self.world
        if name == "@":
            w.vial_tare_g = 0.0
            return f'I4 A "{SERIAL}"\r\n'.encode()
        if name == "I0":
            lines = [f'I0 {"A" if i == len(LEVEL0) - 1 else "B"} 0 "{c}"' for i, c in enumerate(LEVEL0)]
            return ("\r\n".join(lines) + "\r\n").encode()
        if name == "I1":
            return ("I1 A " + " ".join(f'"{v}"' for v in SICS_VERSIONS) + "\r\n").encode()
        if name == "I2":
            return f'I2 A "{MODEL} {CAPACITY_G:.4f} g"\r\n'.encode()
        if name == "I3":
            return f'I3 A "{SOFTWARE}"\r\n'.encode()
        if name == "I4":
            return f'I4 A "{SERIAL}"\r\n'.encode()
        if name in ("S", "SI"):
            return self._weight()
        if name == "SIR":
            self.streaming = True
            return self._weight()
        if name in ("Z", "ZI"):
            if w.vial_mass_g() > CAPACITY_G:
                return f"{name} +\r\n".encode()
            w.vial_tare_g = w.vial_mass_g()
            return b"Z A\r\n" if name == "Z" else b"ZI S\r\n"
        return b"ES\r\n"  # pragma: no cover - every LEVEL0 name is handled above
