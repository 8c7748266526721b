"""CALiSol-23 (ionic conductivity of Li-salt electrolytes) → normalised mixtures.

Every row becomes amounts of each species per kilogram of solvent blend:
1. the solvent columns are fractions in the row's basis; they become mass fractions w_s:
   - ``w``: as given;  ``mol``: w_s ∝ x_s M_s;  ``v``: w_s ∝ φ_s ρ_s with the pure-liquid densities of
     ``tables.SOLVENTS`` (ideal volume additivity — the approximation of this path);
2. the salt concentration becomes moles per kg of solvent:
   - ``mol/kg`` (molality): as given;
   - ``mol/l`` (molarity): needs the solution density, estimated as
     ρ = ρ_blend + c (M_salt − ρ_blend V_phi) / 1000 with V_phi = M_salt / SALT_EFFECTIVE_DENSITY
     (see ``tables``); molality b = c / (ρ − c M_salt / 1000) [mol/kg].
3. species moles: n_s = 1000 w_s / M_s, n(Li+) = n(anion) = b; mole fractions count ions separately.

Rows are dropped only for a stated reason (no conductivity value, κ ≤ 0, salt concentration ≤ 0, no solvent),
and ``NormalisationReport`` counts each reason and how many rows each conversion path touched.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.chem import species
from model.data.tables import SALT_EFFECTIVE_DENSITY, SOLVENTS, salt_by_name
from model.mixture import Mixture

FILE = "calisol23.csv"
META_COLUMNS = ["doi", "k", "T", "c", "salt", "c units", "solvent ratio type"]


@dataclass
class NormalisationReport:
    rows_read: int = 0
    rows_kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    solvent_basis: Counter = field(default_factory=Counter)
    concentration_basis: Counter = field(default_factory=Counter)

    def as_dict(self) -> dict:
        return {
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "dropped": dict(self.dropped),
            "solvent_basis": dict(self.solvent_basis),
            "concentration_basis": dict(self.concentration_basis),
        }


def mass_fractions(fractions: np.ndarray, basis: str, molar_mass: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Solvent-blend fractions in basis 'w', 'mol' or 'v' → mass fractions (rows sum to 1)."""
    if basis == "w":
        w = fractions
    elif basis == "mol":
        w = fractions * molar_mass
    elif basis == "v":
        w = fractions * density
    else:
        raise ValueError(f"unknown solvent ratio type {basis!r} (expected w, v or mol)")
    return w / w.sum(axis=-1, keepdims=True)


def blend_density(w: np.ndarray, density: np.ndarray) -> np.ndarray:
    """Density of an ideal (volume-additive) solvent blend with mass fractions w."""
    return 1.0 / (w / density).sum(axis=-1)


def molarity_to_molality(c: np.ndarray, salt_molar_mass: np.ndarray, rho_blend: np.ndarray) -> np.ndarray:
    """mol per litre of solution → mol per kg of solvent, with the solution-density estimate of the module doc."""
    v_phi = salt_molar_mass / SALT_EFFECTIVE_DENSITY
    rho_solution = rho_blend + c * (salt_molar_mass - rho_blend * v_phi) / 1000.0  # g/cm³ = kg/L
    solvent_kg_per_litre = rho_solution - c * salt_molar_mass / 1000.0
    return c / solvent_kg_per_litre


def molality_to_molarity(m: np.ndarray, salt_molar_mass: np.ndarray, rho_blend: np.ndarray) -> np.ndarray:
    """mol per kg of solvent → mol per litre of solution: the inverse of ``molarity_to_molality`` (the same
    ideal-volume estimate: a litre holds the solvent at its blend density and the salt at V_phi)."""
    v_phi = salt_molar_mass / SALT_EFFECTIVE_DENSITY
    return m * rho_blend / (1.0 + m * rho_blend * v_phi / 1000.0)


def load(path: str | Path) -> tuple[pd.DataFrame, list[Mixture], NormalisationReport]:
    """Read and normalise the file. Returns the kept rows (with 'kappa', 'doi', 'salt', 'system'), their mixtures
    and the report. The 'system' key names the solvent set and salt, for leave-system-out splits."""
    raw = pd.read_csv(path)
    rep = NormalisationReport(rows_read=len(raw))
    solvent_cols = [c for c in raw.columns if c not in META_COLUMNS]
    unknown = [c for c in solvent_cols if c not in SOLVENTS]
    if unknown:
        raise ValueError(f"{path}: solvent columns without a structure in tables.SOLVENTS: {unknown}")
    frac = raw[solvent_cols].to_numpy(dtype=np.float64)
    m_s = np.array([SOLVENTS[c].molar_mass for c in solvent_cols])
    rho_s = np.array([SOLVENTS[c].density for c in solvent_cols])
    solvent_smiles = [SOLVENTS[c].smiles for c in solvent_cols]

    keep = np.ones(len(raw), dtype=bool)
    for reason, bad in [
        ("no conductivity value", raw["k"].isna().to_numpy()),
        ("conductivity <= 0 (cannot enter the log-scale VFT fit)", (raw["k"].fillna(1) <= 0).to_numpy()),
        ("salt concentration <= 0", (raw["c"] <= 0).to_numpy()),
        ("no solvent fraction > 0", (frac.sum(axis=1) <= 0)),
    ]:
        newly = bad & keep
        if newly.any():
            rep.dropped[reason] += int(newly.sum())
        keep &= ~bad
    df = raw[keep].reset_index(drop=True)
    frac = frac[keep]
    w = np.zeros_like(frac)
    for basis in ("w", "mol", "v"):
        rows = (df["solvent ratio type"] == basis).to_numpy()
        if rows.any():
            w[rows] = mass_fractions(frac[rows], basis, m_s, rho_s)
            rep.solvent_basis[basis] = int(rows.sum())
    salts = [salt_by_name(s) for s in df["salt"]]
    salt_mm = np.array([s.molar_mass for s in salts])
    c = df["c"].to_numpy(dtype=np.float64)
    molal = df["c units"].str.strip().str.lower() == "mol/kg"
    b = np.where(molal, c, molarity_to_molality(c, salt_mm, blend_density(w, rho_s)))
    rep.concentration_basis["mol/kg"] = int(molal.sum())
    rep.concentration_basis["mol/l"] = int((~molal).sum())

    n_solvent = 1000.0 * w / m_s  # mol per kg of blend
    mixtures: list[Mixture] = []
    systems: list[str] = []
    temps = df["T"].to_numpy(dtype=np.float64)
    for r in range(len(df)):
        moles: dict[str, float] = {}
        names = []
        for j in np.flatnonzero(n_solvent[r] > 0):
            moles[solvent_smiles[j]] = moles.get(solvent_smiles[j], 0.0) + n_solvent[r, j]
            names.append(solvent_cols[j])
        for ion, count in species(salts[r].smiles).parts:
            moles[ion] = moles.get(ion, 0.0) + b[r] * count
        total = sum(moles.values())
        keys = sorted(moles)
        mixtures.append(Mixture(tuple(keys), tuple(moles[k] / total for k in keys), float(temps[r])))
        systems.append(salts[r].name + " in " + ":".join(sorted(names)))
    df = df.assign(kappa=df["k"].astype(float), salt=[s.name for s in salts], system=systems, molality=b)
    rep.rows_kept = len(df)
    return df[["doi", "kappa", "T", "salt", "system", "molality"]], mixtures, rep
