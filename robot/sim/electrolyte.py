"""Ground truth for the simulated lab: a physics-based conductivity model of Li-salt carbonate electrolytes.

It is deliberately not DiffMix. κ = Λ · α · c, with
- mobility from viscosity (fractional Walden rule): Λ ∝ η^−γ; the solvent blend's viscosity mixes ideally in ln η
  (Grunberg–Nissan without interaction term), each solvent following a VFT law
  η_i(T) = η_i(T_ref) exp[B_i (1/(T − T0) − 1/(T_ref − T0))], B_i matched to its activation energy at T_ref;
  the salt raises viscosity as exp(a·c) (Jones–Dole-like at high concentration);
- ion pairing from the blend's dielectric constant ε (volume-fraction mixing): K_A = exp(k0 + k1/(ε + ε_s))
  (Fuoss-type, screened by ε_s: without it a linear carbonate's ε ≈ 3 pairs nearly every ion, and LiPF6 in DMC
  alone would conduct 0.01 mS/cm instead of a few), the free-ion fraction α from K_A c α² = 1 − α;
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
    rows (LiPF6 in EC/PC/DMC/EMC/DEC) and the two published degrees of dissociation below: MAPE 11.9 %, median
    7.5 % (benchmarks/RESULTS.md); 1 mol/kg LiPF6 at 25 °C in DMC 6.6, EMC 5.6, DEC 4.8 mS/cm."""

    log_prefactor: float = 3.8342  # ln of the Λ·η^γ scale, (mS/cm)·cP^γ per (mol/L)
    salt_viscosity: float = 0.28747  # a in exp(a·c), L/mol
    pairing_k0: float = -3.2149
    pairing_k1: float = 300.0  # K_A = exp(k0 + k1/(ε + ε_s)) (at the fit bound)
    activation_scale: float = 0.95277  # scales the solvents' tabulated flow activation energies
    walden_exponent: float = 0.88601  # Λ ∝ η^−γ (fractional Walden rule)
    vogel_T0_K: float = 116.93  # Vogel temperature of the salt-free blend's viscosity
    vogel_salt_shift_K: float = 27.873  # salt stiffens the liquid: T0 rises by this much per mol/L
    pairing_eps_shift: float = 41.499  # ε_s in K_A = exp(k0 + k1/(ε + ε_s)): Li⁺'s own solvation shell screens it


# Published degrees of dissociation α of 1 M LiPF6 at 303 K from NMR self-diffusion and conductivity (Hayamizu,
# J. Chem. Eng. Data 57 (2012) 2012–2017): 0.17 in DEC alone, 0.71 in EC alone. The pure Fuoss law in the
# blend's ε would give α ≈ 1e-4 in a linear carbonate, i.e. LiPF6 in DMC or DEC alone near 0.01 mS/cm instead of
# a few mS/cm; these two anchors enter the calibration (benchmarks/calibrate_sim.py).
DISSOCIATION_ANCHORS = (("CCOC(=O)OCC", 1.0, 303.15, 0.17), ("O=C1OCCO1", 1.0, 303.15, 0.71))


CALIBRATION = Calibration()


def solvent_viscosity_cP(s: SolventProps, T: np.ndarray, t0: float | np.ndarray, cal: Calibration = CALIBRATION) -> np.ndarray:
    """VFT viscosity with B chosen so that d ln η / d(1/T) at t_ref equals E/R (the activation energy there)."""
    e = s.flow_activation_kJ * 1e3 * cal.activation_scale / R_GAS
    b = e * (s.t_ref_K - cal.vogel_T0_K) ** 2 / s.t_ref_K**2
    return s.viscosity_cP * np.exp(b * (1.0 / np.maximum(T - t0, 1.0) - 1.0 / (s.t_ref_K - cal.vogel_T0_K)))


def salt_molar_mass(salt: str) -> float:
    """g/mol of a salt given as SMILES (all its ions)."""
    from model.chem import species

    return float(species(salt).molar_mass)


def conductivity_mS_cm(solvent_mass_fractions: dict[str, float], molality: float, T: float | np.ndarray,
                       salt_molar_mass: float = 151.905, cal: Calibration = CALIBRATION, pairing_scale: float = 1.0,
                       viscosity_scale: dict[str, float] | None = None) -> np.ndarray:
    """κ in mS/cm of a salt (LiPF6 by default) at `molality` (mol/kg solvent) in a blend given by mass fractions.

    A perturbed world (robot/sim/truth.py) scales the ion-pairing constant's 1/ε term by ``pairing_scale`` and each
    solvent's viscosity by ``viscosity_scale[smiles]``."""
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
    scale = viscosity_scale or {}
    ln_eta = sum(xi * np.log(solvent_viscosity_cP(p, T, t0, cal) * scale.get(k, 1.0)) for xi, p, k in zip(x, props, keys))
    eta = np.exp(ln_eta + cal.salt_viscosity * c)
    alpha = free_ion_fraction(eps, c, cal, pairing_scale)
    return np.exp(cal.log_prefactor) * alpha * c / eta**cal.walden_exponent


def free_ion_fraction(eps: float, c: float, cal: Calibration = CALIBRATION, pairing_scale: float = 1.0) -> float:
    """α from the mass action law K_A c α² = 1 − α, K_A = exp(k0 + s·k1/(ε + ε_s)) (Fuoss-type, screened)."""
    k_a = np.exp(cal.pairing_k0 + pairing_scale * cal.pairing_k1 / (eps + cal.pairing_eps_shift))
    kc = k_a * max(c, 1e-12)
    return float((-1.0 + np.sqrt(1.0 + 4.0 * kc)) / (2.0 * kc))


def permittivity(solvent_mass_fractions: dict[str, float]) -> float:
    """The blend's dielectric constant (volume-fraction mixing), as conductivity_mS_cm uses it."""
    keys = [k for k, v in solvent_mass_fractions.items() if v > 0]
    w = np.array([solvent_mass_fractions[k] for k in keys], dtype=float)
    rho = np.array([SOLVENTS[k].density for k in keys])
    phi = (w / rho) / np.sum(w / rho)
    return float(np.sum(phi * np.array([SOLVENTS[k].permittivity for k in keys])))
