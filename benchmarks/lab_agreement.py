"""How closely independent labs agree on the same electrolyte, and a publication-split run's signed bias split by
whether another lab measured the held-out row's mixture (``model.agreement``).

The publication split holds whole publications out. Where another publication measured the same mixture at the same
temperature, a model that knew the literature perfectly would be off by the labs' disagreement; where none did, the
held-out row is also an unseen system. The bias per 10 °C bucket is the mean over members of each member's mean on
its own test rows, as in ``diffmix evaluate``.

    .venv/bin/python -m benchmarks.lab_agreement [RUN_DIR …]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.agreement import other_labs
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.evaluate import bucket_means, bucket_of, member_test_predictions

BUCKETS_C = range(-30, 70, 10)


def bucket_row(values: dict[str, list[float]]) -> str:
    return " ".join(f"{np.mean(values[str(c)]):+7.3f}" if str(c) in values else "      –" for c in BUCKETS_C)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="*", help="publication-split runs (diffmix train --split publication…)")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    doi = np.asarray(table.groups["doi"]).astype(str)
    consensus = other_labs(table, doi)
    usable = consensus.matched if table.excluded is None else consensus.matched & ~table.excluded
    diff = consensus.value - table.y
    buckets = bucket_of(table.T)
    print(f"{usable.sum()} of {len(table)} rows have a mixture another publication also measured "
          f"({len(np.unique(doi[usable]))} of {len(np.unique(doi))} publications)\n")
    print("bucket °C   rows  publications  other labs − this lab: mean   mean |·|   median |·| / measured")
    for c in BUCKETS_C:
        m = usable & (buckets == c)
        if m.any():
            print(f"{c:8d} {m.sum():6d} {len(np.unique(doi[m])):13d} {diff[m].mean():+28.3f} {np.abs(diff[m]).mean():10.3f}"
                  f" {np.median(np.abs(diff[m]) / table.y[m]):23.3f}")
    batcher = Batcher(table)
    for run in args.runs:
        model_all: dict[str, list[float]] = {}
        model_matched: dict[str, list[float]] = {}
        labs_matched: dict[str, list[float]] = {}
        model_alone: dict[str, list[float]] = {}
        coverage = []
        for _, _, rows, pred in member_test_predictions(run, table, batcher):
            m = consensus.matched[rows]
            coverage.append(f"{m.mean():.2f}")
            err, b = pred - table.y[rows], buckets[rows]
            bucket_means(err, b, model_all)
            bucket_means(err[m], b[m], model_matched)
            bucket_means(diff[rows][m], b[m], labs_matched)
            bucket_means(err[~m], b[~m], model_alone)
        print(f"\n{run}: share of each member's test rows another lab measured: {', '.join(coverage)}")
        print(f"{'signed bias, mS/cm':44s} " + " ".join(f"{c:>7d}" for c in BUCKETS_C))
        for name, values in (("the model, every test row", model_all),
                             ("the model, rows another lab measured", model_matched),
                             ("the other labs, the same rows", labs_matched),
                             ("the model, rows only this lab measured", model_alone)):
            print(f"{name:44s} {bucket_row(values)}")


if __name__ == "__main__":
    main()
