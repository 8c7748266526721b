"""Speed of the shipped conductivity ensemble: batched inference and one mixture with its gradient.

    .venv/bin/python -m benchmarks.bench_model
"""

from __future__ import annotations

import json
import time

import numpy as np
import torch

from model.mixture import Mixture
from model.predict import Predictor

LI, PF6 = "[Li+]", "F[P-](F)(F)(F)(F)F"
SOLVENTS = ["O=C1OCCO1", "CC1COC(=O)O1", "COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC"]


def mixtures(n: int, seed: int = 0) -> list[Mixture]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        f = rng.uniform(0.02, 0.12)
        s = rng.dirichlet(np.ones(3))
        names = list(rng.choice(SOLVENTS, 3, replace=False))
        sp = [LI, PF6] + names
        x = [f, f] + list((1 - 2 * f) * s)
        order = np.argsort(sp)
        out.append(Mixture(tuple(sp[i] for i in order), tuple(x[i] for i in order), float(rng.uniform(250, 340))))
    return out


def main():
    torch.set_num_threads(2)
    p = Predictor.load("ionic_conductivity")
    ens = p.ensemble
    batch = mixtures(20_000)
    ens.predict(batch[:100])  # warm the embedding cache
    times = []
    for _ in range(5):
        t = time.perf_counter()
        ens.predict(batch)
        times.append(time.perf_counter() - t)
    best = min(times)
    one = mixtures(1, seed=1)
    ens.predict(one, gradient=True)
    lat = []
    for _ in range(200):
        t = time.perf_counter()
        ens.predict(one, gradient=True)
        lat.append(time.perf_counter() - t)
    rec = {"components": [{"smiles": "O=C1OCCO1", "amount": 1.506}, {"smiles": "[Li+].F[P-](F)(F)(F)(F)F", "amount": 0.3006}],
           "basis": "mass", "temperature_K": 298.15}
    lat_rec = []
    for _ in range(200):
        t = time.perf_counter()
        p.predict_records([rec], gradient=True)
        lat_rec.append(time.perf_counter() - t)
    out = {
        "members": len(ens.members),
        "batched_mixtures_per_s": round(len(batch) / best),
        "batch_seconds": round(best, 4),
        "one_mixture_with_gradient_ms_p50": round(1000 * float(np.median(lat)), 3),
        "one_mixture_with_gradient_ms_p99": round(1000 * float(np.percentile(lat, 99)), 3),
        "one_record_parse_predict_gradient_ms_p50": round(1000 * float(np.median(lat_rec)), 3),
    }
    print(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
