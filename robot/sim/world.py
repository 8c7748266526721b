"""The physical state the simulated devices share: reservoirs, the mixing vial, the conductivity cell, temperature,
and the faults queued for injection."""

from __future__ import annotations

import math
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from model.cell import kcl_standard_mS_cm, resistance_ohm
from model.eis import impedance
from robot.sim.truth import Truth, TruthError, from_table

FAULTS = ("timeout", "garble", "disconnect", "pump_error", "air_bubble", "temperature_drift")


@dataclass
class Fluid:
    """What a reservoir holds: solvent mass fractions, salt molality, density; or a conductivity standard."""

    solvent_mass_fractions: dict[str, float]
    salt_molality: float = 0.0
    salt_molar_mass: float = 151.905
    density_g_ml: float = 1.2
    standard_mS_cm: float | None = None  # a calibration standard with a known conductivity
    salt: str = "[Li+].F[P-](F)(F)(F)(F)F"  # the salt's SMILES (when salt_molality > 0)


@dataclass
class World:
    temperature_K: float = 303.15
    cell_constant_per_cm: float = 1.12  # the true one; the lab only knows it by calibration
    pump_volume_error: float = 0.01  # relative, 1 σ
    balance_noise_g: float = 0.0002
    seed: int = 0
    faults: Counter = field(default_factory=Counter)
    reservoirs: dict[int, Fluid] = field(default_factory=dict)  # pump address → fluid
    vial_g: dict[int, float] = field(default_factory=dict)  # pump address → grams delivered into the vial
    cell: dict[int, float] | None = None  # what fills the cell (grams per source), None = empty
    cell_has_bubble: bool = False
    vial_tare_g: float = 0.0
    truth: Truth = field(default_factory=lambda: from_table(None))  # κ as the world has it (the lab file's [truth])
    settle_s: float = 0.05  # the thermostat's time constant (wall-clock seconds; a real bath takes minutes)
    thermostat_sd_K: float = 0.03  # how far off its set point the bath settles (1 σ, drawn per set point)

    def __post_init__(self):
        self.rng = np.random.default_rng(self.seed)
        self.lock = threading.RLock()
        self.measured_drift_K = 0.0
        self.truth_error: str | None = None  # why the truth had no value for what fills the cell
        self.reading_factor = 1.0  # this filling's reading: the instrument's bias, noise and any outlier
        self._setpoint: tuple[float, float, float] | None = None  # (from K, to K, since monotonic s)

    # ----------------------------------------------------------------- the thermostat
    def set_temperature(self, kelvin: float) -> None:
        """Send the bath to a set point; it settles exponentially (settle_s) to the set point ± its own error."""
        with self.lock:
            self._advance()
            target = kelvin + self.thermostat_sd_K * float(self.rng.standard_normal())
            self._setpoint = (self.temperature_K, target, time.monotonic())

    def _advance(self) -> None:
        if self._setpoint is None:
            return
        start, target, since = self._setpoint
        self.temperature_K = target + (start - target) * math.exp(-(time.monotonic() - since) / self.settle_s)

    # ----------------------------------------------------------------- faults
    def inject(self, fault: str, times: int = 1) -> None:
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; choose from {FAULTS}")
        with self.lock:
            self.faults[fault] += times

    def take(self, fault: str) -> bool:
        with self.lock:
            if self.faults[fault] > 0:
                self.faults[fault] -= 1
                return True
            return False

    # ----------------------------------------------------------------- physics
    def vial_mass_g(self) -> float:
        return sum(self.vial_g.values())

    def deliver(self, address: int, volume_ul: float) -> None:
        fluid = self.reservoirs[address]
        actual = volume_ul * (1.0 + self.pump_volume_error * self.rng.standard_normal())
        with self.lock:
            self.vial_g[address] = self.vial_g.get(address, 0.0) + actual * 1e-3 * fluid.density_g_ml

    def fill_cell(self) -> None:
        with self.lock:
            self.cell = dict(self.vial_g)
            self.cell_has_bubble = self.take("air_bubble")
            self.reading_factor = self.truth.reading_factor(self.rng)

    def rinse(self) -> None:
        with self.lock:
            self.cell = None
            self.vial_g = {}
            self.cell_has_bubble = False

    def cell_contents(self) -> tuple[dict[str, float], str, float] | None:
        """What fills the cell as the truth takes it: solvent mass fractions, the salt, its molality (None: empty or
        a standard)."""
        if not self.cell:
            return None
        fluids = {a: self.reservoirs[a] for a in self.cell}
        if any(f.standard_mS_cm for f in fluids.values()):
            return None
        solvent_g: dict[str, float] = {}
        salt_mol, salt = 0.0, next(iter(fluids.values())).salt
        for a, grams in self.cell.items():
            f = fluids[a]
            solvent_mass = grams / (1.0 + f.salt_molality * f.salt_molar_mass / 1000.0)
            for smi, w in f.solvent_mass_fractions.items():
                solvent_g[smi] = solvent_g.get(smi, 0.0) + solvent_mass * w
            salt_mol += f.salt_molality * solvent_mass / 1000.0
            if f.salt_molality > 0:
                salt = f.salt
        total = sum(solvent_g.values())
        if total <= 0:
            return None
        return {k: v / total for k, v in solvent_g.items()}, salt, salt_mol / (total / 1000.0)

    def cell_conductivity_mS_cm(self) -> float | None:
        """What the instrument will read: the truth × this filling's reading factor (bias, noise, outliers); None for
        an empty cell or when the truth has no value (its reason kept in ``truth_error``)."""
        self._advance()
        if not self.cell:
            return None
        fluids = [self.reservoirs[a] for a in self.cell]
        standards = [f.standard_mS_cm for f in fluids if f.standard_mS_cm]
        if standards:
            return kcl_standard_mS_cm(standards[0], self.temperature_K)
        contents = self.cell_contents()
        if contents is None or contents[2] <= 0:
            return 1e-6  # a salt-free liquid barely conducts
        try:
            kappa = self.truth.kappa(contents[0], contents[1], contents[2], self.temperature_K)
            self.truth_error = None
        except TruthError as e:
            self.truth_error = str(e)
            return None
        return kappa * self.reading_factor

    def impedance(self, f: np.ndarray) -> np.ndarray:
        """Equivalent circuit of the filled cell: (R_b ∥ C_stray) + electrode CPE, with 0.2 % noise."""
        kappa = self.cell_conductivity_mS_cm()
        if kappa is None or self.cell_has_bubble:
            r_b, q = 5e9, 1e-13  # open circuit: an empty cell or a bubble over the electrodes
        else:
            r_b, q = resistance_ohm(self.cell_constant_per_cm, kappa), 2e-6
        z = impedance(r_b, 8e-12, q, 0.88, f)
        noise = 1 + 0.002 * (self.rng.standard_normal(len(f)) + 1j * self.rng.standard_normal(len(f)))
        return z * noise

    def read_reference_temperature_K(self) -> float:
        """The independent reference probe in the thermostat bath: the true temperature, 0.01 K noise, no drift."""
        self._advance()
        return float(self.temperature_K + 0.01 * self.rng.standard_normal())

    def read_temperature_K(self) -> float:
        """The cell thermometer; a drift fault moves the temperature by 1.5 K between two readings."""
        self._advance()
        if self.take("temperature_drift"):
            self.measured_drift_K = 1.5
        t = self.temperature_K + self.measured_drift_K + 0.01 * self.rng.standard_normal()
        self.measured_drift_K = 0.0
        return float(t)
