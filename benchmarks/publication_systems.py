"""Which systems of one test publication carry a run's error? The ensemble mean on the test rows every member shares,
per system (salt and solvents), largest total error first.

    .venv/bin/python -m benchmarks.publication_systems DOI RUN_DIR [RUN_DIR …] [--top 12]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.data.tables import name_of
from model.evaluate import shared_test_predictions


def system_errors(run: Path, table, batcher: Batcher, doi: str) -> tuple[float, list[dict]]:
    """The publication's MAE and, per system, its rows, MAE, signed bias and mean measured κ (the members' mean)."""
    of_doi = lambda rows: rows[np.asarray(table.groups["doi"])[rows].astype(str) == doi]
    _, rows, members = shared_test_predictions(run, table, batcher, of_doi)
    if len(rows) == 0:
        raise SystemExit(f"{run}: no shared test rows from {doi}")
    err = members.mean(axis=0) - table.y[rows]
    names = np.array([" ".join(sorted(name_of(table.vocab[j]) for j in table.idx[r] if j >= 0)) for r in rows])
    systems = [{"system": s, "rows": int((names == s).sum()), "mae": float(np.abs(err[names == s]).mean()),
                "bias": float(err[names == s].mean()), "measured": float(table.y[rows][names == s].mean()),
                "total": float(np.abs(err[names == s]).sum())} for s in np.unique(names)]
    return float(np.abs(err).mean()), sorted(systems, key=lambda d: -d["total"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("doi")
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--top", type=int, default=12, help="systems listed per run")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    batcher = Batcher(table)
    for run in args.runs:
        mae, systems = system_errors(run, table, batcher, args.doi)
        print(f"{run}: {args.doi}, ensemble MAE {mae:.3f} mS/cm")
        for s in systems[:args.top]:
            print(f"  {s['system']:60s} rows {s['rows']:3d}  MAE {s['mae']:.2f}  bias {s['bias']:+.2f}  "
                  f"measured {s['measured']:.2f}")


if __name__ == "__main__":
    main()
