"""Ground truth for the simulated lab: a physics-based conductivity model of Li-salt carbonate electrolytes.

It is deliberately not DiffMix. κ = Λ · α · c, with
- mobility from viscosity (fractional Walden rule): Λ ∝ η^−γ; the solvent blend's viscosity mixes ideally in ln η
  (Grunberg–Nissan without interaction term), each solvent following a VFT law
  η_i(T) = η_i(T_ref) exp[B_i (1/(T − T0) − 1/(T_ref − T0))], B_i matched to its activation energy at T_ref;
  the salt raises viscosity as exp(a·c) (Jones–Dole-like at high concentration);
- ion pairing from the blend's dielectric constant ε (volume-fraction mixing): K_A = exp(k0 + k1/ε) (Fuoss-type),
  the free-ion fraction α from K_A c α² = 1 − α;
so conductivity rises with salt at first, then falls as viscosity and pairing win: an interior maximum, as in real
blends. Its global constants were fitted once to CALiSol-23 LiPF6 rows in EC/PC/DMC/EMC/DEC blends
(benchmarks/calibrate_sim.py; the fit and its MAPE are in benchmarks/RESULTS.md).

Pure-solvent data (25 °C unless noted): Xu, Chem. Rev. 104 (2004) 4303, Table 1 — viscosity (cP) and dielectric
constant; EC's at 40 °C. FEC from Nie et al. / supplier data (η ≈ 4.1 cP, ε ≈ 78.4; approximate). Activation
energies of viscous flow are typical values for these liquids (kJ/mol, approximate; a global scale is calibrated).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

R_GAS = 8.314462618


@dataclass(frozen=True)
class SolventProps:
    name: str
    smiles: str
    molar_mass: float  # g/mol
    density: float  # g/cm³
    viscosity_cP: float  # at t_ref_K
    t_ref_K: float
    permittivity: float
    flow_activation_kJ: float


SOLVENTS = {s.smiles: s for s in [
    SolventProps("EC", "O=C1OCCO1", 88.06, 1.321, 1.90, 313.15, 89.78, 15.0),
    SolventProps("PC", "CC1COC(=O)O1", 102.09, 1.200, 2.53, 298.15, 64.92, 17.0),
    SolventProps("DMC", "COC(=O)OC", 90.08, 1.063, 0.59, 293.15, 3.107, 10.0),
    SolventProps("EMC", "CCOC(=O)OC", 104.10, 1.006, 0.65, 298.15, 2.958, 10.5),
    SolventProps("DEC", "CCOC(=O)OCC", 118.13, 0.969, 0.75, 298.15, 2.805, 11.0),
    SolventProps("FEC", "O=C1OCC(F)O1", 106.05, 1.454, 4.1, 298.15, 78.4, 17.0),
]}


@dataclass(frozen=True)
class Calibration:
    """Global constants of the model, fitted by `python -m benchmarks.calibrate_sim` to 3,300 liquid-state CALiSol-23
    rows (LiPF6 in EC/PC/DMC/EMC/DEC): MAPE 11.6 %, median 7.5 % (benchmarks/RESULTS.md)."""

    log_prefactor: float = 4.2302  # ln of the Λ·η^γ scale, (mS/cm)·cP^γ per (mol/L)
    salt_viscosity: float = 0.17467  # a in exp(a·c), L/mol
    pairing_k0: float = 0.13914
    pairing_k1: float = 56.547  # K_A = exp(k0 + k1/ε)
    activation_scale: float = 0.84074  # scales the solvents' tabulated flow activation energies
    walden_exponent: float = 1.0018  # Λ ∝ η^−γ (fractional Walden rule; the fit lands on Stokes–Einstein, γ ≈ 1)
    vogel_T0_K: float = 116.27  # Vogel temperature of the salt-free blend's viscosity
    vogel_salt_shift_K: float = 28.077  # salt stiffens the liquid: T0 rises by this much per mol/L


CALIBRATION = Calibration()


def solvent_viscosity_cP(s: SolventProps, T: np.ndarray, t0: float | np.ndarray, cal: Calibration = CALIBRATION) -> np.ndarray:
    """VFT viscosity with B chosen so that d ln η / d(1/T) at t_ref equals E/R (the activation energy there)."""
    e = s.flow_activation_kJ * 1e3 * cal.activation_scale / R_GAS
    b = e * (s.t_ref_K - cal.vogel_T0_K) ** 2 / s.t_ref_K**2
    return s.viscosity_cP * np.exp(b * (1.0 / np.maximum(T - t0, 1.0) - 1.0 / (s.t_ref_K - cal.vogel_T0_K)))


def conductivity_mS_cm(solvent_mass_fractions: dict[str, float], molality: float, T: float | np.ndarray,
                       salt_molar_mass: float = 151.905, cal: Calibration = CALIBRATION) -> np.ndarray:
    """κ in mS/cm of a salt (LiPF6 by default) at `molality` (mol/kg solvent) in a blend given by mass fractions."""
    T = np.asarray(T, dtype=float)
    keys = [k for k, v in solvent_mass_fractions.items() if v > 0]
    unknown = [k for k in keys if k not in SOLVENTS]
    if unknown:
        raise KeyError(f"the simulated electrolyte knows no solvent {unknown}; known: {[s.name for s in SOLVENTS.values()]}")
    w = np.array([solvent_mass_fractions[k] for k in keys], dtype=float)
    w = w / w.sum()
    props = [SOLVENTS[k] for k in keys]
    mm = np.array([p.molar_mass for p in props])
    rho = np.array([p.density for p in props])
    x = (w / mm) / np.sum(w / mm)  # solvent mole fractions
    phi = (w / rho) / np.sum(w / rho)  # volume fractions
    eps = float(np.sum(phi * np.array([p.permittivity for p in props])))
    rho_blend = 1.0 / np.sum(w / rho)
    # molarity from molality (salt occupies ~M/3 cm³/mol, as in the data normalisation)
    c = molality * rho_blend / (1.0 + molality * salt_molar_mass / 3.0 / 1000.0 * rho_blend)
    t0 = cal.vogel_T0_K + cal.vogel_salt_shift_K * c
    ln_eta = sum(xi * np.log(solvent_viscosity_cP(p, T, t0, cal)) for xi, p in zip(x, props))
    eta = np.exp(ln_eta + cal.salt_viscosity * c)
    k_a = np.exp(cal.pairing_k0 + cal.pairing_k1 / eps)
    kc = k_a * max(c, 1e-12)
    alpha = (-1.0 + np.sqrt(1.0 + 4.0 * kc)) / (2.0 * kc)
    return np.exp(cal.log_prefactor) * alpha * c / eta**cal.walden_exponent
