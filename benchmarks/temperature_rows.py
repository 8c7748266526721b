"""Which rows decide a temperature bucket? The temperature-split ensembles, row by row.

For trained temperature-split ensembles (every member has the same test rows: all rows above 20 °C), prints per
10 °C bucket the members' mean MAE (what `diffmix evaluate` reports) and the MAE of the ensemble's prediction (the
mean over members, what `diffmix predict` answers); then, in one bucket, the error of the ensemble's prediction per
publication and per salt, and the bucket's MAE with the largest contributor left out.

    .venv/bin/python -m benchmarks.temperature_rows runs/k_diffmix_temperature runs/k_gnn_temperature [--bucket 30]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.chem import formal_charge
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.evaluate import bucket_of, member_test_predictions

MIN_ROWS = 20  # publications / salts with fewer rows in the bucket are not listed


def member_predictions(run: Path, batcher: Batcher) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The run's shared test rows, its members' predictions on them [members, rows], and its training rows."""
    members = list(member_test_predictions(run, batcher.table, batcher))
    test = members[0][2]
    if any(not np.array_equal(rows, test) for _, _, rows, _ in members):
        raise SystemExit(f"{run}: members have different test rows; this needs a temperature-split run")
    return test, np.stack([pred for *_, pred in members]), members[0][1].train


def salt_of(table, row: int) -> str:
    """The salt of a row, named by its anions' SMILES (the species with a negative net charge)."""
    anions = [table.vocab[j] for j in table.idx[row] if j >= 0 and formal_charge(table.vocab[j]) < 0]
    return ".".join(sorted(anions)) or "none"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--bucket", type=int, default=30, help="the bucket (°C) to break down")
    args = ap.parse_args()
    table, _ = load_table("ionic_conductivity", Settings().data_dir)
    batcher = Batcher(table)
    preds, test = {}, None
    for run in args.runs:
        rows, p, train = member_predictions(run, batcher)
        if test is not None and not np.array_equal(rows, test):
            raise SystemExit(f"{run} was tested on other rows than {args.runs[0]}")
        test, preds[run.name] = rows, p
    y, buckets = table.y[test], bucket_of(table.T[test])
    print("| bucket (°C) | rows | " + " | ".join(f"{n}: members / ensemble" for n in preds) + " |")
    print("|---" * (2 + len(preds)) + "|")
    for c in np.unique(buckets):
        m = buckets == c
        cells = [f"{np.abs(p[:, m] - y[m]).mean():.3f} / {np.abs(p[:, m].mean(0) - y[m]).mean():.3f}"
                 for p in preds.values()]
        print(f"| {int(c)} | {m.sum()} | " + " | ".join(cells) + " |")

    m = buckets == args.bucket
    doi = np.asarray(table.groups["doi"])[test]
    salt_all = np.array([salt_of(table, r) for r in range(len(table))])
    salts = salt_all[test]
    trained = {g: int((salt_all[train] == g).sum()) for g in set(salts)}
    err = {n: p.mean(0) - y for n, p in preds.items()}
    for what, labels in (("publication", doi), ("anion", salts)):
        print(f"\n{args.bucket} °C by {what} (ensemble prediction: MAE, mean signed error), groups of ≥ {MIN_ROWS} rows")
        for g in sorted(set(labels[m])):
            k = m & (labels == g)
            if k.sum() >= MIN_ROWS:
                seen = f" ({trained[g]} training rows)" if what == "anion" else ""
                print(f"  {g:42s} {k.sum():5d} rows{seen}  " +
                      "  ".join(f"{n}: {np.abs(e[k]).mean():.2f} ({e[k].mean():+.2f})" for n, e in err.items()))
    # the group whose rows add most to the first run's error in this bucket
    worst = max(set(doi[m]), key=lambda g: np.abs(err[next(iter(err))][m & (doi == g)]).sum())
    rest = m & (doi != worst)
    print(f"\n{args.bucket} °C without {worst} ({(m & ~rest).sum()} rows): " +
          "  ".join(f"{n}: {np.abs(e[rest]).mean():.3f}" for n, e in err.items()))


if __name__ == "__main__":
    main()
