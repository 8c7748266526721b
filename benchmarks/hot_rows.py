"""Does a run's law run away above the temperatures it trained on? Each member's MAE and largest prediction on its
own test rows above a temperature (VFT extrapolated far past a salt's trained range once answered LiBPFPB in PC at
204 °C with 811 mS/cm, measured 10).

    .venv/bin/python -m benchmarks.hot_rows RUN_DIR [RUN_DIR …] [--above 70]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.constants import zero_Celsius

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.evaluate import member_test_predictions


def hot_rows(run: Path, table, batcher: Batcher, above_c: float) -> list[dict]:
    """One row per member with test rows above ``above_c``: their count, MAE, largest prediction and measurement."""
    hot = lambda split: split.test[table.T[split.test] - zero_Celsius > above_c]
    return [{"member": k, "rows": len(rows), "mae": float(np.abs(pred - table.y[rows]).mean()),
             "max_predicted": float(pred.max()), "max_measured": float(table.y[rows].max())}
            for k, _, rows, pred in member_test_predictions(run, table, batcher, hot)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--above", type=float, default=70.0, help="°C above which a test row counts")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    batcher = Batcher(table)
    for run in args.runs:
        for r in hot_rows(run, table, batcher, args.above):
            print(f"{run.name}  member {r['member']}  rows {r['rows']:4d}  MAE {r['mae']:.2f}  largest predicted "
                  f"{r['max_predicted']:.1f}, measured {r['max_measured']:.1f} mS/cm")


if __name__ == "__main__":
    main()
