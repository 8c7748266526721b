"""Small fixtures the tests build themselves."""

from __future__ import annotations

import numpy as np

from model.data.dataset import MixtureTable
from model.mixture import Mixture

SOLVENTS = ["O=C1OCCO1", "COC(=O)OC", "CC1COC(=O)O1", "CCOC(=O)OC", "CCOC(=O)OCC", "COCCOC"]
IONS = ["[Li+]", "F[P-](F)(F)(F)(F)F"]


def synthetic_excess_table(n: int = 400, seed: int = 0) -> MixtureTable:
    """Binary mixtures with a known Redlich–Kister excess (A0 depends on the pair, A1 antisymmetric)."""
    rng = np.random.default_rng(seed)
    mixtures, y, systems = [], [], []
    for _ in range(n):
        a, b = rng.choice(len(SOLVENTS), 2, replace=False)
        x1 = rng.uniform(0.05, 0.95)
        t = rng.uniform(280, 330)
        a0 = -300 - 100 * (a + b)
        a1 = 40 * (a - b)
        y.append(x1 * (1 - x1) * (a0 + a1 * (2 * x1 - 1)) * (1 + 0.002 * (t - 298)))
        mixtures.append(Mixture((SOLVENTS[a], SOLVENTS[b]), (x1, 1 - x1), t))
        systems.append(f"{min(a, b)}-{max(a, b)}")
    return MixtureTable.from_mixtures(mixtures, y, {"system": systems, "doi": [s[0] for s in systems]})


def synthetic_conductivity_table(n: int = 400, seed: int = 0) -> MixtureTable:
    """Electrolytes LiPF6 in two-solvent blends with a VFT-shaped conductivity."""
    rng = np.random.default_rng(seed)
    mixtures, y, systems = [], [], []
    for _ in range(n):
        a, b = rng.choice(4, 2, replace=False)
        xs = rng.uniform(0.02, 0.12)
        w = rng.uniform(0.1, 0.9)
        x = [xs, xs, (1 - 2 * xs) * w, (1 - 2 * xs) * (1 - w)]
        t = rng.uniform(250, 340)
        kappa = 300 * xs * np.exp(-700 / (t - 150)) * (1 + 0.5 * a + 0.25 * b)
        species = (IONS[0], IONS[1], SOLVENTS[a], SOLVENTS[b])
        order = np.argsort(species)
        mixtures.append(Mixture(tuple(species[i] for i in order), tuple(x[i] for i in order), t))
        y.append(kappa)
        systems.append(f"{min(a, b)}-{max(a, b)}")
    return MixtureTable.from_mixtures(mixtures, y, {"system": systems, "doi": systems})


def make_keys(url):
    from db import crud
    from db.session import make_engine, make_sessionmaker

    engine = make_engine(url)
    keys = {}
    with make_sessionmaker(engine)() as s:
        for role in ("operator", "robot", "analyst", "admin"):
            keys[role] = crud.create_api_key(s, role)[1]
        keys["robot2"] = crud.create_api_key(s, "robot", "second robot")[1]
    engine.dispose()
    return keys
