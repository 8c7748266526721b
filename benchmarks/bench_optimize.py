"""Gradient ascent vs the 5,151-point grid, random search and Bayesian optimisation (BoTorch) on the same model.

    .venv/bin/python -m benchmarks.bench_optimize            (needs `pip install -e .[bench]` for BoTorch)

For each of the paper's Figure 4 spaces at 303.15 K: the grid maximum, the best point of 4 gradient-ascent
trajectories, its gap to the grid maximum, model calls (mixtures evaluated; a gradient evaluation counts as one
call) and wall time; the calls random search and BoTorch need to come within 0.5 % of the grid maximum; and the
best measured CALiSol-23 point near 303 K in the same solvents.
"""

from __future__ import annotations

import json
import os
import time

import numpy as np
import torch

from diffmix.settings import Settings
from model.data.tables import name_of
from model.optimize.design import DesignSpec
from model.optimize.landscape import ternary
from model.optimize.plots import ternary_plot
from model.optimize.problem import optimise
from model.predict import Predictor

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
PC, EC, DMC, EMC, DEC, FEC = "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC", "O=C1OCC(F)O1"
SPACES = {
    "fig4a PC:FEC:EC x=0.08": ([PC, FEC, EC], 0.08),
    "fig4b PC:EC:EMC x=0.08": ([PC, EC, EMC], 0.08),
    "fig4c EMC:DMC:DEC x=0.12": ([EMC, DMC, DEC], 0.12),
    "PC:EC:DMC x=0.08": ([PC, EC, DMC], 0.08),
}
TOL = 0.005


def gradient_calls_to(obj, target):
    """Model calls the 4-start ascent makes before its best value first comes within 0.5 % of the grid maximum."""
    seen = {"calls": 0, "hit": None}
    original = obj.evaluate

    def tracked(z, gradient=True):
        out = original(z, gradient)
        v = out[1]
        hits = np.flatnonzero(v >= target)
        if seen["hit"] is None and len(hits):
            seen["hit"] = seen["calls"] + int(hits[0]) + 1
        seen["calls"] += len(np.atleast_2d(z))
        return out

    obj.evaluate = tracked
    try:
        optimise(obj, starts=4, start_mode="random", seed=0)
    finally:
        obj.evaluate = original
    return seen["hit"]


def random_search_calls(obj, target, rng, cap=20000, batch=64):
    calls = 0
    while calls < cap:
        z = obj.space.random_points(batch, rng)
        _, v, _, _ = obj.evaluate(z, gradient=False)
        hits = np.flatnonzero(v >= target)
        if len(hits):
            return calls + int(hits[0]) + 1
        calls += batch
    return None


def botorch_calls(obj, target, seed, cap=60):
    """Calls BoTorch (SingleTaskGP + qLogEI) needs to come within target; the solvent simplex is parameterised by
    its first n−1 shares u (Σu ≤ 1 as a linear constraint), the salt fraction is fixed."""
    from botorch.acquisition.logei import qLogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    torch.manual_seed(seed)
    f = obj.space.salt_range[0]
    n = len(obj.space.solvents)

    def value(u):
        s = np.column_stack([u, 1 - u.sum(axis=1)])
        z = np.column_stack([np.clip(s, 0, 1), np.full(len(u), f)])
        return obj.evaluate(obj.space.project(z), gradient=False)[1]

    rng = np.random.default_rng(seed)
    x = rng.dirichlet(np.ones(n), size=2 * n - 1)[:, : n - 1]
    y = value(x)
    if y.max() >= target:
        return int(np.argmax(y >= target)) + 1
    bounds = torch.tensor([[0.0] * (n - 1), [1.0] * (n - 1)], dtype=torch.float64)
    constraint = [(torch.arange(n - 1), -torch.ones(n - 1, dtype=torch.float64), -1.0)]  # Σu ≤ 1
    while len(y) < cap:
        X = torch.tensor(x, dtype=torch.float64)
        Y = torch.tensor((y - y.mean()) / (y.std() + 1e-9), dtype=torch.float64).unsqueeze(-1)
        gp = SingleTaskGP(X, Y)
        fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
        acq = qLogExpectedImprovement(gp, best_f=Y.max())
        cand, _ = optimize_acqf(acq, bounds, q=1, num_restarts=5, raw_samples=128, inequality_constraints=constraint)
        u = cand.detach().numpy()
        v = value(u)
        x = np.vstack([x, u])
        y = np.concatenate([y, v])
        if v[0] >= target:
            return len(y)
    return None


def five_solvents(ens) -> dict:
    """PC:EC:DMC:EMC:DEC at x(Li+) = 0.08 (a 4-D simplex, no grid): the reference optimum is the best of 16 ascents."""
    solvents = [PC, EC, DMC, EMC, DEC]
    obj = DesignSpec.from_options(salt=LIPF6, solvents=solvents, salt_fraction=0.08, temperature_K=303.15).objective_for(ens)
    ref = optimise(obj, starts=16, start_mode="random", seed=123)
    target = ref.best_value * (1 - TOL)
    obj.calls = 0
    t = time.perf_counter()
    res = optimise(obj, starts=4, start_mode="random", seed=0)
    wall = time.perf_counter() - t
    out = {
        "reference_best_mS_cm": round(ref.best_value, 4),
        "reference_solvent_ratio": {name_of(s): round(float(v), 3) for s, v in zip(solvents, ref.best_point[:5])},
        "gradient_best_mS_cm": round(res.best_value, 4),
        "gradient_calls_to_0.5pct": gradient_calls_to(obj, target),
        "gradient_wall_s": round(wall, 3),
        "random_search_calls_to_0.5pct": [random_search_calls(obj, target, np.random.default_rng(s)) for s in range(5)],
    }
    try:
        out["botorch_calls_to_0.5pct"] = ("skipped" if os.environ.get("SKIP_BOTORCH")
                                          else [botorch_calls(obj, target, s, cap=80) for s in range(3)])
    except ImportError:
        out["botorch_calls_to_0.5pct"] = "botorch not installed"
    return out


def measured_best(solvents, t=303.15, dt=3.0):
    from model.data.calisol import load
    from model.data.loaders import data_dir

    df, mixtures, _ = load(data_dir(Settings().data_dir) / "calisol23.csv")
    allowed = set(solvents) | {"[Li+]", "F[P-](F)(F)(F)(F)F"}
    best = None
    for row, m in zip(df.itertuples(), mixtures):
        if row.salt != "LiPF6" or abs(row.T - t) > dt or not set(m.species) <= allowed:
            continue
        if best is None or row.kappa > best[0]:
            best = (row.kappa, {name_of(k): round(v, 3) for k, v in m.fractions().items()}, row.doi, row.T)
    return best


def main():
    torch.set_num_threads(2)
    ens = Predictor.load("ionic_conductivity").ensemble
    report = {}
    for label, (solvents, f) in SPACES.items():
        obj = DesignSpec.from_options(salt=LIPF6, solvents=solvents, salt_fraction=f, temperature_K=303.15).objective_for(ens)
        obj.evaluate(obj.space.spread_points(4))  # warm the embedding cache
        t = time.perf_counter()
        land = ternary(obj)
        t_land = time.perf_counter() - t
        grid_max = float(land.value.max())
        grid_arg = land.z[int(np.argmax(land.value))]
        target = grid_max * (1 - TOL)
        obj.calls = 0
        t = time.perf_counter()
        res = optimise(obj, starts=4, start_mode="random", seed=0)
        t_opt = time.perf_counter() - t
        calls_gd = res.model_calls
        calls_gd_target = gradient_calls_to(obj, target)
        rs = [random_search_calls(obj, target, np.random.default_rng(s)) for s in range(5)]
        try:
            bo = "skipped" if os.environ.get("SKIP_BOTORCH") else [botorch_calls(obj, target, s) for s in range(3)]
        except ImportError:
            bo = "botorch not installed"
        png = f"benchmarks/plots/optimize_{label.split()[0]}.png"
        ternary_plot(land, obj.space, "mS/cm", "ionic_conductivity", 303.15, png, res.trajectories)
        report[label] = {
            "grid_max_mS_cm": round(grid_max, 4),
            "grid_argmax_solvent_ratio": {name_of(s): round(float(v), 2) for s, v in zip(solvents, grid_arg[:3])},
            "gradient_best_mS_cm": round(res.best_value, 4),
            "gradient_best_solvent_ratio": {name_of(s): round(float(v), 3) for s, v in zip(solvents, res.best_point[:3])},
            "gap_percent": round(100 * (grid_max - res.best_value) / grid_max, 3),
            "gradient_model_calls_to_convergence": calls_gd,
            "gradient_calls_to_0.5pct": calls_gd_target,
            "gradient_iterations": [len(tr.points) for tr in res.trajectories],
            "gradient_wall_s": round(t_opt, 3),
            "landscape_5151_with_gradients_wall_s": round(t_land, 3),
            "random_search_calls_to_0.5pct": rs,
            "botorch_calls_to_0.5pct": bo,
            "all_points_feasible": bool(all(np.all(obj.space.is_feasible(np.array(tr.points))) for tr in res.trajectories)),
            "monotone": bool(all(np.all(np.diff(tr.scores) >= 0) for tr in res.trajectories)),
            "best_measured_calisol_near_303K": measured_best(solvents),
            "plot": png,
        }
        print(label, json.dumps(report[label]), flush=True)
    if not os.environ.get("ONLY_TERNARY"):
        report["five solvents PC:EC:DMC:EMC:DEC x=0.08"] = five_solvents(ens)
        print("five solvents PC:EC:DMC:EMC:DEC x=0.08", json.dumps(report["five solvents PC:EC:DMC:EMC:DEC x=0.08"]),
              flush=True)
    return report


if __name__ == "__main__":
    main()
