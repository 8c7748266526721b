"""Bulk resistance from an impedance spectrum, and conductivity from it.

Two methods:
- ``min-phase``: the real part of Z at the frequency whose phase is closest to zero. On the resistive plateau
  (bulk electrolyte between the electrode polarisation at low frequency and the stray capacitance at high
  frequency) this is the bulk resistance.
- ``fit``: an equivalent circuit — bulk resistance R_b in parallel with a stray capacitance C_s, in series with the
  electrodes' constant-phase element Q, α — fitted to the complex spectrum; R_b is the answer. This extrapolates
  to the plateau when the measured band lies below it, where the min-phase point still carries the electrode's
  contribution (Re Z_CPE = cos(απ/2) / (Q ω^α) > 0) and overestimates R.

``auto`` uses min-phase when its |phase| is small (the plateau was reached) and the fit otherwise.
Capacitive reactance is negative (z_imag < 0), as instruments report it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import least_squares

from model.cell import conductivity_mS_cm

PLATEAU_MAX_PHASE_DEG = 5.0  # above this |phase| at the best point, the plateau was not reached
METHODS = ("auto", "min-phase", "fit")


@dataclass
class EisResult:
    resistance_ohm: float
    method: str
    phase_deg: float  # |phase| at the chosen point (min-phase) or at the highest frequency (fit)
    frequency_Hz: float
    fit_residual: float | None = None  # relative RMS of the fit
    flags: list[str] = field(default_factory=list)
    fit_params: dict | None = None

    def conductivity_mS_cm(self, cell_constant_per_cm: float) -> float:
        return conductivity_mS_cm(cell_constant_per_cm, self.resistance_ohm)

    def as_dict(self, cell_constant_per_cm: float | None = None) -> dict:
        d = {"resistance_ohm": self.resistance_ohm, "method": self.method, "phase_deg": self.phase_deg,
             "frequency_Hz": self.frequency_Hz, "fit_residual": self.fit_residual, "flags": self.flags,
             "fit_params": self.fit_params}
        if cell_constant_per_cm is not None:
            d["conductivity_mS_cm"] = self.conductivity_mS_cm(cell_constant_per_cm)
        return d


def impedance(r_bulk: float, c_stray: float, q: float, alpha: float, f: np.ndarray) -> np.ndarray:
    """The cell's equivalent circuit: Z = R_b ∥ C_s  +  CPE(Q, α), at frequencies f in Hz."""
    w = 2 * np.pi * np.asarray(f, dtype=float)
    return r_bulk / (1 + 1j * w * r_bulk * c_stray) + 1.0 / (q * (1j * w) ** alpha)


def circuit(params: np.ndarray, f: np.ndarray) -> np.ndarray:
    """The equivalent circuit with fit parameters params = (ln R_b, ln C_s, ln Q, α)."""
    return impedance(np.exp(params[0]), np.exp(params[1]), np.exp(params[2]), params[3], f)


def _check(f, zr, zi):
    f, zr, zi = (np.asarray(v, dtype=float) for v in (f, zr, zi))
    if not (f.shape == zr.shape == zi.shape) or f.ndim != 1 or len(f) < 1:
        raise ValueError("frequency_Hz, z_real_ohm and z_imag_ohm must be 1-D arrays of equal length")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(zr)) and np.all(np.isfinite(zi))):
        raise ValueError("the spectrum holds non-finite values")
    if np.any(f <= 0):
        raise ValueError("frequencies must be positive")
    return f, zr, zi


def min_phase(f, zr, zi) -> EisResult:
    f, zr, zi = _check(f, zr, zi)
    phase = np.degrees(np.arctan2(zi, zr))
    i = int(np.argmin(np.abs(phase)))
    flags = [] if abs(phase[i]) <= PLATEAU_MAX_PHASE_DEG else ["plateau_not_reached"]
    return EisResult(float(zr[i]), "min-phase", float(abs(phase[i])), float(f[i]), None, flags)


def fit(f, zr, zi) -> EisResult:
    f, zr, zi = _check(f, zr, zi)
    if len(f) < 3:
        raise ValueError("fitting the equivalent circuit needs at least 3 frequencies")
    z = zr + 1j * zi
    mag = np.abs(z)

    def resid(p):
        d = (circuit(p, f) - z) / mag
        return np.concatenate([d.real, d.imag])

    best = None
    r0 = float(max(np.min(zr), 1e-3))
    w_lo = 2 * np.pi * f.min()
    # electrode CPE guess from the low-frequency reactance, with α from 0.7 to 0.95
    for a0 in (0.95, 0.85, 0.7):
        q0 = 1.0 / max(abs(zi[np.argmin(f)]), 1e-9) / w_lo**a0
        for c0 in (1e-12, 1e-10):
            p0 = np.array([np.log(r0), np.log(c0), np.log(q0), a0])
            sol = least_squares(resid, p0, bounds=([-20, -40, -40, 0.4], [30, 0, 10, 1.0]), x_scale="jac")
            if best is None or sol.cost < best.cost:
                best = sol
    rms = float(np.sqrt(np.mean(best.fun**2)))
    p = best.x
    phase_hi = float(abs(np.degrees(np.arctan2(zi[np.argmax(f)], zr[np.argmax(f)]))))
    flags = ["fit_poor"] if rms > 0.05 else []
    return EisResult(float(np.exp(p[0])), "fit", phase_hi, float(f.max()), rms, flags,
                     {"R_b_ohm": float(np.exp(p[0])), "C_stray_F": float(np.exp(p[1])), "Q": float(np.exp(p[2])),
                      "alpha": float(p[3])})


def analyze(f, zr, zi, method: str = "auto") -> EisResult:
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if method == "min-phase":
        return min_phase(f, zr, zi)
    if method == "fit":
        return fit(f, zr, zi)
    mp = min_phase(f, zr, zi)
    if not mp.flags:
        return mp
    res = fit(f, zr, zi)
    res.flags = sorted(set(res.flags) | {"plateau_not_reached"})
    return res
