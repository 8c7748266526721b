"""Fit the simulated lab's electrolyte model (robot/sim/electrolyte.py) to CALiSol-23 LiPF6 in carbonate blends.

    python -m benchmarks.calibrate_sim          # prints the constants and the MAPE

The constants printed go into robot/sim/electrolyte.Calibration; the MAPE goes into benchmarks/RESULTS.md.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from scipy.optimize import least_squares

from diffmix.settings import Settings
from model.data.calisol import FILE, blend_density, mass_fractions, molarity_to_molality
from model.data.loaders import data_dir
from model.data.tables import SOLVENTS as TABLE
from robot.sim.electrolyte import (
    DISSOCIATION_ANCHORS,
    SOLVENTS,
    Calibration,
    conductivity_mS_cm,
    free_ion_fraction,
    permittivity,
)

NAMES = {s.name: s.smiles for s in SOLVENTS.values()}


def rows():
    import pandas as pd

    raw = pd.read_csv(data_dir(Settings().data_dir) / FILE)
    raw = raw[(raw["salt"].str.strip() == "LiPF6") & raw["k"].notna() & (raw["k"] > 0) & (raw["c"] > 0)]
    solvent_cols = [c for c in raw.columns[7:]]
    used = raw[solvent_cols].gt(0)
    ok = used[[c for c in solvent_cols if c not in ("EC", "PC", "DMC", "EMC", "DEC")]].sum(axis=1) == 0
    raw = raw[ok.to_numpy()].reset_index(drop=True)
    cols = ["EC", "PC", "DMC", "EMC", "DEC"]
    frac = raw[cols].to_numpy(float)
    mm = np.array([TABLE[c].molar_mass for c in cols])
    rho = np.array([TABLE[c].density for c in cols])
    w = np.zeros_like(frac)
    for basis in ("w", "mol", "v"):
        m = (raw["solvent ratio type"] == basis).to_numpy()
        if m.any():
            w[m] = mass_fractions(frac[m], basis, mm, rho)
    c = raw["c"].to_numpy(float)
    molal = (raw["c units"].str.strip() == "mol/kg").to_numpy()
    b = np.where(molal, c, molarity_to_molality(c, np.full(len(c), 151.905), blend_density(w, rho)))
    out = []
    for i in range(len(raw)):
        out.append(({NAMES[n]: w[i, j] for j, n in enumerate(cols) if w[i, j] > 0}, b[i], raw["T"][i], raw["k"][i],
                    raw["doi"][i]))
    return out


def predict(data, cal):
    return np.array([float(conductivity_mS_cm(wf, b, t, cal=cal)) for wf, b, t, *_ in data])


ANCHOR_WEIGHT = 10.0  # each published α counts like 100 CALiSol rows in the least squares
LIQUID_MIN_KAPPA = 0.1  # mS/cm: below this the CALiSol points are frozen or glassy samples, not a liquid
# 1 mol/kg LiPF6 in EC:DMC:DEC reported at ≈0.14 mS/cm, ~60× below every other source for such blends: not a
# liquid-electrolyte value in these units. Excluded from calibration and reported separately.
IMPLAUSIBLE_DOIS = {"10.1007/s10008-002-0300-9"}


def main():
    every = rows()
    data = [d for d in every if d[3] >= LIQUID_MIN_KAPPA and d[4] not in IMPLAUSIBLE_DOIS]
    y = np.array([d[3] for d in data])

    def resid(p):
        cal = Calibration(*p)
        anchors = [ANCHOR_WEIGHT * (np.log(free_ion_fraction(permittivity({smi: 1.0}), c, cal)) - np.log(a))
                   for smi, c, _, a in DISSOCIATION_ANCHORS]
        return np.concatenate([np.log(predict(data, cal)) - np.log(y), anchors])

    p0 = list(dataclasses.astuple(Calibration()))
    p0[-1] = max(p0[-1], 5.0)
    fit = least_squares(resid, p0, bounds=([-10, 0, -10, 0, 0.3, 0.3, 80, 0, 0], [10, 3, 10, 300, 3, 1.5, 190, 40, 60]))
    cal = Calibration(*fit.x)
    pred = predict(data, cal)
    mape = float(np.mean(np.abs(pred - y) / y) * 100)
    y_all = np.array([d[3] for d in every])
    pred_all = predict(every, cal)
    print(f"rows: {len(every)} LiPF6 in EC/PC/DMC/EMC/DEC blends; {len(data)} liquid (κ ≥ {LIQUID_MIN_KAPPA} mS/cm) "
          f"used, {sum(d[4] in IMPLAUSIBLE_DOIS for d in every)} rows of implausible publications excluded")
    print("calibration:", ", ".join(f"{k}={v:.5g}" for k, v in dataclasses.asdict(cal).items()))
    print(f"liquid rows: MAPE {mape:.1f} %, median APE {np.median(np.abs(pred - y) / y) * 100:.1f} %, "
          f"MAE {np.mean(np.abs(pred - y)):.3f} mS/cm")
    for smi, c, t, a in DISSOCIATION_ANCHORS:
        name = SOLVENTS[smi].name
        print(f"α of {c} M LiPF6 in {name} at {t} K: {free_ion_fraction(permittivity({smi: 1.0}), c, cal):.3f} "
              f"(published {a})")
    for smi in ("COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC"):
        print(f"κ of 1 mol/kg LiPF6 in {SOLVENTS[smi].name} at 298.15 K: "
              f"{float(conductivity_mS_cm({smi: 1.0}, 1.0, 298.15, cal=cal)):.2f} mS/cm")
    print(f"all rows:    MAE {np.mean(np.abs(pred_all - y_all)):.3f} mS/cm "
          f"(MAPE is meaningless there: some κ are 1e-16 mS/cm)")
    return cal, mape


if __name__ == "__main__":
    main()
