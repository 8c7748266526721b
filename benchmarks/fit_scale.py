"""Which scale should conductivity be fitted in? Single members on the temperature split, one per fit offset.

Trains DiffMix and GNN-only on CALiSol-23 rows at ≤ 20 °C (split seed 0, the `run_paper.sh` settings, one thread
per member, two members at a time) fitted in ln(κ + c) for each offset c (c = 0 is ln κ), and prints the test MAE
with its bias per 10 °C bucket from 30 to 60 °C, on all warm rows and on the mixtures also measured cold.

    .venv/bin/python -m benchmarks.fit_scale [--offsets 0,0.3,1,3] [--seed 0]    (under 10 minutes on two cores)
"""

from __future__ import annotations

import argparse
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from diffmix.settings import Settings

BUCKETS_C = (30, 40, 50, 60)


def one_member(kind: str, offset: float, seed: int) -> dict:
    import torch

    from model.data.dataset import Batcher
    from model.data.loaders import load_table
    from model.evaluate import bucket_of, mixture_keys, seen_in_training
    from model.properties import get_property
    from model.splits import make_split
    from model.train import TrainConfig, fit_member, predict_rows

    torch.set_num_threads(1)
    table, _ = load_table("ionic_conductivity", Settings().data_dir)
    split = make_split(table, "temperature", seed)
    cfg = TrainConfig(max_epochs=400, patience=40, batch_size=512, lr=3e-3, log_offset=offset)
    model, _, info = fit_member(table, split, get_property("ionic_conductivity"), kind, cfg, seed, progress=False)
    err = predict_rows(model, Batcher(table), split.test) - table.y[split.test]
    seen = seen_in_training(mixture_keys(table), split)
    buckets = bucket_of(table.T[split.test])
    row = {"kind": kind, "offset": offset, "epochs": info["epochs"], "all": float(np.abs(err).mean())}
    for c in BUCKETS_C:
        m = buckets == c
        row[c] = (float(np.abs(err[m]).mean()), float(err[m].mean()), float(np.abs(err[m & seen]).mean()))
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--offsets", default="0,0.3,1,3", help="fit offsets c in mS/cm, comma-separated")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    offsets = [float(c) for c in args.offsets.split(",")]
    jobs = [(kind, c, args.seed) for c in offsets for kind in ("diffmix", "gnn_only")]
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        rows = list(pool.map(one_member, *zip(*jobs)))
    print(f"temperature split, seed {args.seed}: test MAE in mS/cm, (bias), [mixtures measured cold too]\n")
    print("| model | fitted in | all warm rows | " + " | ".join(f"{c} °C" for c in BUCKETS_C) + " |")
    print("|---|---|---|" + "---|" * len(BUCKETS_C))
    for r in sorted(rows, key=lambda r: (r["kind"], r["offset"])):
        scale = "ln κ" if r["offset"] == 0 else f"ln(κ + {r['offset']:g})"
        cells = [f"{r[c][0]:.3f} ({r[c][1]:+.2f}) [{r[c][2]:.3f}]" for c in BUCKETS_C]
        print(f"| {r['kind']} | {scale} | {r['all']:.3f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
