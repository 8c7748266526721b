"""The ensemble mean on the blends split: the mean of a run's members on their common test rows (what `predict`
returns), overall and by what the binaries taught every member (model.evaluate.ensemble_novelty). `diffmix evaluate` scores each
member on its own test rows; this scores the ensemble the product serves.

    .venv/bin/python -m benchmarks.ensemble_blends RUN_DIR [RUN_DIR ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.ensemble import Ensemble
from model.evaluate import NOVELTY, ensemble_novelty, load_splits
from model.train import predict_rows


def ensemble_mae(run: Path, table, batcher: Batcher) -> dict[str, float]:
    """MAE of the members' mean on the test rows every member shares, overall and per novelty class."""
    ens, splits = Ensemble.load(run), load_splits(run)
    rows = np.array(sorted(set.intersection(*(set(s.test.tolist()) for s in splits))))
    err = np.abs(np.mean([predict_rows(m, batcher, rows) for m in ens.members], axis=0) - table.y[rows])
    by = ensemble_novelty(table, splits, rows)
    return {"rows": float(len(rows)), "all": float(err.mean())} | {c: float(err[by == c].mean()) for c in NOVELTY
                                                                   if (by == c).any()}


def main() -> None:
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    batcher = Batcher(table)
    for run in sys.argv[1:]:
        print(run, {k: round(v, 3) for k, v in ensemble_mae(Path(run), table, batcher).items()})


if __name__ == "__main__":
    main()
