"""The loop benchmark's worlds, by family, frozen in benchmarks/worlds/loop_worlds.json so that every model and every
strategy is measured on the same labs (a world chosen against today's model would move with each retrain).

    .venv/bin/python -m benchmarks.loop_worlds [--worlds 10] [--out benchmarks/worlds/loop_worlds.json]

Families (each world a lab file's ``[truth]`` table, robot/sim/truth.py):
- ``perturbed``: the builtin physics perturbed at random (ion pairing, each solvent's viscosity, an instrument bias)
  whose optimum differs from the shipped model's (bench_loop.choose_worlds);
- ``relocated``: a perturbed world whose optimum is moved, by a broad multiplicative bell (σ 0.15–0.3 in mass
  fraction), to where DiffMix predicts at or below its 60th percentile with a std below its median: alternately on a
  binary edge and inside the simplex, at 1.5–2.0 mol/kg where the salt is free; the new optimum is 10–25 % above
  the perturbed world's;
- ``bump``: a narrow bell (σ 0.15–0.25) on a flat floor at half its height, centred where DiffMix predicts within
  its lowest 10 %;
- ``noisy``: a perturbed world read with 3 % noise, and 5 % of the readings at 0.7× (a bubble in the cell).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks.bench_loop import SPACES, T_K, _objective, choose_worlds, world_table

FAMILIES = ("perturbed", "relocated", "bump", "noisy")
OUT = Path(__file__).resolve().parent / "worlds" / "loop_worlds.json"
POOL = 3000


def _pool(obj, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random points and binary-edge points of the space with DiffMix's mean and calibrated std there."""
    from model.optimize.proposals import _face_points

    space = obj.space
    z = np.vstack([space.random_points(POOL, rng), _face_points(space, rng), _face_points(space, rng)])
    _, mean, std, _ = obj.evaluate(z, gradient=False)
    return z, mean, std


def _center(obj, z: np.ndarray) -> tuple[dict[str, float], float]:
    from diffmix.simulate import mass_fractions

    return mass_fractions(obj.space, z), float(obj.space.molality(z)[0])


def _optimum(obj, table: dict, start: np.ndarray) -> tuple[list[float], float]:
    from diffmix.simulate import true_optimum
    from robot.sim.truth import from_table

    z, best = true_optimum(obj.space, from_table(table), T_K, samples=1500, starts=start[None])
    return z.tolist(), best


def relocated(obj, k: int, rng: np.random.Generator) -> list[dict]:
    from diffmix.simulate import true_optimum, truth_at
    from robot.sim.truth import from_table

    space = obj.space
    z, mean, std = _pool(obj, rng)
    ok = (mean <= np.percentile(mean, 60)) & (std <= np.median(std))
    if space.salt_free:
        m = space.molality(z)
        ok &= (m >= 1.5) & (m <= 2.0)
    nonzero = (z[:, :len(space.solvents)] > 1e-9).sum(1)
    edge, inside = np.flatnonzero(ok & (nonzero == 2)), np.flatnonzero(ok & (z[:, :len(space.solvents)] >= 0.1).all(1))
    out = []
    for i in range(k):
        among = edge if (i % 2 == 0 and len(edge)) else inside
        c = z[int(rng.choice(among))]
        table = world_table(rng)
        base = from_table(table)
        _, base_best = true_optimum(space, base, T_K, samples=800)
        target = float(rng.uniform(1.10, 1.25)) * base_best
        height = target / truth_at(space, base, c, T_K) - 1.0
        center, molality = _center(obj, c)
        table["feature"] = {"kind": "relocate", "center": center, "molality": molality,
                            "width": float(rng.uniform(0.15, 0.3)), "height": height}
        z_opt, best = _optimum(obj, table, c)
        out.append({"table": table, "optimum": best, "z_optimum": z_opt, "kind": "edge" if among is edge else "interior",
                    "diffmix_percentile": float((mean <= mean[np.all(z == c, 1)][0]).mean() * 100)})
    return out


def bump(obj, k: int, rng: np.random.Generator) -> list[dict]:
    z, mean, _ = _pool(obj, rng)
    low = np.flatnonzero(mean <= np.percentile(mean, 10))
    out = []
    for _ in range(k):
        c = z[int(rng.choice(low))]
        peak = float(rng.uniform(11.0, 15.0))
        center, molality = _center(obj, c)
        table = {"model": "builtin", "noise": 0.005,
                 "feature": {"kind": "bump", "center": center, "molality": molality,
                             "width": float(rng.uniform(0.15, 0.25)), "peak_mS_cm": peak, "floor_mS_cm": peak / 2}}
        z_opt, best = _optimum(obj, table, c)
        out.append({"table": table, "optimum": best, "z_optimum": z_opt})
    return out


def noisy(obj, k: int, rng: np.random.Generator) -> list[dict]:
    out = []
    for _ in range(k):
        table = world_table(rng) | {"noise": 0.03, "outlier_rate": 0.05, "outlier_factor": 0.7}
        z0 = obj.space.random_points(1, rng)[0]
        z_opt, best = _optimum(obj, table, z0)
        out.append({"table": table, "optimum": best, "z_optimum": z_opt})
    return out


def build(k: int) -> dict:
    """Every family's k worlds on every space."""
    from tqdm import tqdm

    worlds: dict[str, dict[str, list[dict]]] = {f: {} for f in FAMILIES}
    for i, name in enumerate(tqdm(SPACES, desc="spaces")):
        _, obj = _objective(SPACES[name])
        worlds["perturbed"][name] = choose_worlds(name, k, seed=17 + i)
        worlds["relocated"][name] = relocated(obj, k, np.random.default_rng(101 + i))
        worlds["bump"][name] = bump(obj, k, np.random.default_rng(202 + i))
        worlds["noisy"][name] = noisy(obj, k, np.random.default_rng(303 + i))
    return {"temperature_K": T_K, "worlds": worlds}


def load(path: Path = OUT) -> dict[str, dict[str, list[dict]]]:
    """The frozen worlds by family and space."""
    return json.loads(Path(path).read_text())["worlds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--worlds", type=int, default=10, help="worlds per family and space")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    if args.worlds < 1:
        ap.error("--worlds: give at least 1")
    data = build(args.worlds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(data, indent=1))
    for fam, by_space in data["worlds"].items():
        print(fam, {s: len(w) for s, w in by_space.items()})


if __name__ == "__main__":
    main()
