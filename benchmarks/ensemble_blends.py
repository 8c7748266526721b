"""The ensemble mean on the blends split: the mean of a run's members on their common test rows (what `predict`
returns), overall and by what the binaries taught every member (model.evaluate.ensemble_novelty); and how often
±2σ covers the measurement, with the members' spread as it is and scaled by the shipped model's std factor (fitted
on unseen publications, benchmarks/calibrate_std.py). `diffmix evaluate` scores each member on its own test rows;
this scores the ensemble the product serves.

    .venv/bin/python -m benchmarks.ensemble_blends RUN_DIR [RUN_DIR ...]
    .venv/bin/python -m benchmarks.ensemble_blends --by-publication RUN_DIR [RUN_DIR ...]   (also MAE and signed
                                                                                          bias per test publication)
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.ensemble import Ensemble
from model.evaluate import NOVELTY, ensemble_novelty, shared_test_predictions
from model.predict import model_dir


def by_publication(table, rows: np.ndarray, members: np.ndarray) -> dict[str, dict[str, float]]:
    """The ensemble mean's rows, MAE and signed bias (predicted − measured, mS/cm) per test publication."""
    err = members.mean(axis=0) - table.y[rows]
    doi = np.asarray(table.groups["doi"])[rows].astype(str)
    return {d: {"rows": float((doi == d).sum()), "mae": float(np.abs(err[doi == d]).mean()),
                "bias": float(err[doi == d].mean())} for d in np.unique(doi)}


def ensemble_mae(table, splits: list, rows: np.ndarray, members: np.ndarray,
                 std_scale: float = 1.0) -> dict[str, float]:
    """MAE of the members' mean on the test rows every member shares, overall and per novelty class, and the share
    of rows within ±2σ (σ the members' spread, ddof 1 as Ensemble.predict; × std_scale for "coverage calibrated")."""
    err = np.abs(members.mean(axis=0) - table.y[rows])
    spread = members.std(axis=0, ddof=1) if len(members) > 1 else np.zeros(len(rows))
    by = ensemble_novelty(table, splits, rows)
    return ({"rows": float(len(rows)), "all": float(err.mean())}
            | {c: float(err[by == c].mean()) for c in NOVELTY if (by == c).any()}
            | {"coverage": float(np.mean(err <= 2 * spread)),
               "coverage calibrated": float(np.mean(err <= 2 * std_scale * spread))}
            | {f"coverage calibrated, {c}": float(np.mean(err[by == c] <= 2 * std_scale * spread[by == c]))
               for c in NOVELTY if (by == c).any()})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+", help="trained blends-split runs (diffmix train --split blends)")
    ap.add_argument("--by-publication", action="store_true", help="also MAE and signed bias per test publication")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    batcher = Batcher(table)
    std_scale = Ensemble.load(model_dir("ionic_conductivity")).std_scale
    print("std factor of the shipped model:", round(std_scale, 3))
    for run in args.runs:
        splits, rows, members = shared_test_predictions(run, table, batcher)
        print(run, {k: round(v, 3) for k, v in ensemble_mae(table, splits, rows, members, std_scale).items()})
        if args.by_publication:
            for doi, r in by_publication(table, rows, members).items():
                print(f"  {doi:40s} rows {r['rows']:5.0f}  MAE {r['mae']:.3f}  bias {r['bias']:+.3f}")


if __name__ == "__main__":
    main()
