"""A blend against its binary sub-blends: the plausibility check of a conductivity model on multi-solvent blends.

200 random EC/PC/DMC/EMC/DEC blends of three to five solvents with LiPF6 at
0.5–1.5 mol/kg and 0–40 °C; each blend's prediction against its binary sub-blends (every pair of its solvents in
the blend's own proportion) at the same molality and temperature. A blend should not fall below 0.7× its lowest
binary nor rise above 1.3× its highest.

``benchmarks/blend_plausibility.py`` prints it for a model; ``tests/model/test_blends.py`` asserts it for the
shipped one.
"""

from __future__ import annotations

import itertools

import numpy as np

from model.chem import species
from model.mixture import Mixture, from_amounts
from model.predict import Predictor

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
SOLVENTS = {"EC": "O=C1OCCO1", "PC": "CC1COC(=O)O1", "DMC": "COC(=O)OC", "EMC": "CCOC(=O)OC", "DEC": "CCOC(=O)OCC"}
LOW, HIGH = 0.7, 1.3


def blends(n: int = 200, seed: int = 0) -> list[tuple[dict[str, float], float, float]]:
    """n random (mass fractions of 3–5 solvents, molality, temperature in K)."""
    rng = np.random.default_rng(seed)
    out = []
    names = list(SOLVENTS)
    for _ in range(n):
        k = int(rng.integers(3, 6))
        pick = rng.choice(names, size=k, replace=False)
        w = rng.dirichlet(np.ones(k))
        out.append(({str(s): float(v) for s, v in zip(pick, w)}, float(rng.uniform(0.5, 1.5)),
                    float(rng.uniform(273.15, 313.15))))
    return out


def mixture(mass: dict[str, float], molality: float, T: float) -> Mixture:
    comps = [(SOLVENTS[s], w) for s, w in mass.items()] + [(LIPF6, molality * species(LIPF6).molar_mass / 1000)]
    return from_amounts(comps, "mass", T)


def check(predictor: Predictor, n: int = 200, seed: int = 0) -> dict:
    """Ratios of each blend's prediction to its lowest and highest binary sub-blend."""
    rows, subs = [], []
    for mass, b, T in blends(n, seed):
        rows.append(mixture(mass, b, T))
        pairs = [{a: mass[a] / (mass[a] + mass[c]), c: mass[c] / (mass[a] + mass[c])}
                 for a, c in itertools.combinations(mass, 2)]
        subs.append([mixture(p, b, T) for p in pairs])
    kappa = predictor.ensemble.predict(rows).mean
    flat = [m for s in subs for m in s]
    sub_kappa = predictor.ensemble.predict(flat).mean
    lo_ratio, hi_ratio, j = [], [], 0
    for s, k in zip(subs, kappa):
        v = sub_kappa[j : j + len(s)]
        j += len(s)
        lo_ratio.append(float(k / v.min()))
        hi_ratio.append(float(k / v.max()))
    lo, hi = np.array(lo_ratio), np.array(hi_ratio)
    bad = (lo < LOW) | (hi > HIGH)
    return {"blends": n, "implausible": int(bad.sum()), "below_0.7x_lowest_binary": int((lo < LOW).sum()),
            "above_1.3x_highest_binary": int((hi > HIGH).sum()), "min_ratio_to_lowest": float(lo.min()),
            "max_ratio_to_highest": float(hi.max()), "median_ratio_to_lowest": float(np.median(lo))}
