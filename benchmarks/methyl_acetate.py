"""The blends split's one unseen-solvent publication that decides DiffMix against GNN-only: LiPF6 in EC/DMC/EMC with
methyl acetate (MA; 10.1149/2.0271802jes: 120 rows, 0.47–2.1 mol/kg, 0–40 °C). No one- or two-solvent row of
CALiSol-23 holds MA, so a model trained on ≤ 2 solvents meets it as a new molecule. For each run: the ensemble's MAE
and bias on the publication's MA rows, and its mean prediction for the same blends with MA's mass given to DMC (a
seen linear solvent): how much conductivity the model credits MA with, against what was measured.

    .venv/bin/python -m benchmarks.methyl_acetate RUN_DIR [RUN_DIR …]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from diffmix.settings import Settings
from model.blends import SOLVENTS, mixture
from model.data.calisol import FILE
from model.mixture import Mixture
from model.predict import Predictor

DOI = "10.1149/2.0271802jes"
MA = "CC(=O)OC"
NAMES = {"EC": SOLVENTS["EC"], "DMC": SOLVENTS["DMC"], "EMC": SOLVENTS["EMC"], "MA": MA}


def blend(mass: dict[str, float], molality: float, T: float) -> Mixture:
    return mixture({s: w for s, w in mass.items() if w > 0}, molality, T, NAMES)


def ma_rows(data_dir: Path) -> pd.DataFrame:
    df = pd.read_csv(data_dir / FILE)
    rows = df[(df["doi"] == DOI) & (df["MA"] > 0)]
    if not len(rows) or set(rows["c units"]) != {"mol/kg"} or set(rows["solvent ratio type"]) != {"w"}:
        raise SystemExit(f"{DOI}: expected MA rows in mol/kg and mass ratios in {data_dir / FILE}")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args()
    rows = ma_rows(Settings().data_dir)
    measured = rows["k"].to_numpy()
    with_ma = [blend({s: r[s] for s in NAMES}, r["c"], r["T"]) for _, r in rows.iterrows()]
    as_dmc = [blend({s: r[s] + (r["MA"] if s == "DMC" else 0.0) for s in NAMES if s != "MA"}, r["c"], r["T"])
              for _, r in rows.iterrows()]
    print(f"{DOI}: {len(rows)} rows with MA, measured mean {measured.mean():.2f} mS/cm")
    for run in args.runs:
        ens = Predictor.load("ionic_conductivity", run).ensemble
        pred, pred_dmc = ens.predict(with_ma).mean, ens.predict(as_dmc).mean
        print(f"{run}: MAE {np.abs(pred - measured).mean():.2f}, bias {(pred - measured).mean():+.2f}; mean predicted "
              f"{pred.mean():.2f} with MA, {pred_dmc.mean():.2f} with MA's mass as DMC")


if __name__ == "__main__":
    main()
