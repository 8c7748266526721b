"""One whole campaign against a simulated lab, in process: `diffmix campaign simulate` and benchmarks/bench_loop.py.

It runs the very code a service campaign runs for each batch (model/optimize/loop.py: the posterior on the
measurements so far, then the strategy's next batch), and measures each proposal the way the simulated lab's
world does (robot/sim/truth.py): the truth at the made composition and at the temperature the thermostat
settled to (the planned one ± the bath's error), read through the instrument's bias and noise. The serial
emulators, the HTTP service and the agent are left out: they change how long a campaign takes, not what it
learns (`make demo` runs the same loop through all of them).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import minimize

from model.optimize.design import DesignSpec
from model.optimize.loop import LEARNS, next_batch, posterior_for
from model.optimize.objective import Objective
from model.optimize.posterior import Hyper, Observation, Posterior
from model.optimize.proposals import Proposal
from model.optimize.space import CompositionSpace
from robot.sim.truth import Truth, TruthError

THERMOSTAT_SD_K = 0.03  # as robot/sim/world.World


def mass_fractions(space: CompositionSpace, z: np.ndarray) -> dict[str, float]:
    """The solvents' mass fractions (keyed by the SMILES the space was written with) at a point."""
    w = space.mass_fractions(z)[0]
    return {s: float(v) for s, v in zip(space.solvents, w) if v > 0}


def truth_at(space: CompositionSpace, truth: Truth, z: np.ndarray, temperature_K: float) -> float:
    """The world's noise-free κ at a point."""
    return truth.kappa(mass_fractions(space, z), space.salt, float(space.molality(z)[0]), temperature_K)


def true_optimum(space: CompositionSpace, truth: Truth, temperature_K: float, maximize: bool = True,
                 samples: int = 3000, seed: int = 0) -> tuple[np.ndarray, float]:
    """The world's best point on the space: the best of random feasible points, polished by Nelder–Mead on the
    projection (the truth is cheap and smooth)."""
    sign = 1.0 if maximize else -1.0
    rng = np.random.default_rng(seed)
    pts = space.random_points(samples, rng)

    def value(z: np.ndarray) -> float:
        try:
            return sign * truth_at(space, truth, z, temperature_K)
        except TruthError:
            return -math.inf

    vals = np.array([value(z) for z in pts])
    best_z, best_v = pts[int(np.argmax(vals))], float(np.max(vals))
    for start in pts[np.argsort(-vals)[:3]]:
        res = minimize(lambda u: -value(space.project(u)[0]), start, method="Nelder-Mead",
                       options={"xatol": 1e-4, "fatol": 1e-6, "maxiter": 400})
        z = space.project(res.x)[0]
        if value(z) > best_v:
            best_z, best_v = z, value(z)
    return best_z, sign * best_v


@dataclass
class Lab:
    """The simulated lab as the in-process loop sees it: its truth and its thermostat's error."""

    truth: Truth
    rng: np.random.Generator
    thermostat_sd_K: float = THERMOSTAT_SD_K

    def measure(self, space: CompositionSpace, z: np.ndarray, planned_K: float) -> tuple[float, float, float]:
        """(measured κ, the truth there, the temperature measured at)."""
        t = planned_K + self.thermostat_sd_K * float(self.rng.standard_normal())
        true = truth_at(space, self.truth, z, t)
        noise = self.truth.noise * float(self.rng.standard_normal())
        return true * self.truth.instrument_bias * (1.0 + noise), true, t


def run(spec: DesignSpec, objective: Objective, truth: Truth, strategy: str, budget: int, batch: int, seed: int,
        optimum: float | None = None, surrogate: str = "gp",
        open_loop: dict[int, list[Proposal]] | None = None) -> Iterator[dict[str, Any]]:
    """Yield one row per experiment (measured or failed), then ``{"summary": …}``. ``surrogate`` chooses the
    posterior design of the learning strategies (model/optimize/loop.py). The batches of a strategy that does not
    learn depend on the space, the seed and the budget alone, not on the lab: ``open_loop``, a dict kept by the
    caller for one (space, strategy, seed, batch), stores them by batch number so many worlds reuse them."""
    space = objective.space
    lab = Lab(truth, np.random.default_rng(seed + 7919))
    planned = float(np.mean(objective.temperatures_K))
    sign = 1.0 if objective.maximize else -1.0
    observations: list[Observation] = []
    made: list[np.ndarray] = []
    hyper: Hyper | None = None
    best = -math.inf
    index = 0
    curve: list[float] = []
    for b in range(1, math.ceil(budget / batch) + 1):
        n = min(batch, budget - index)
        if n <= 0:
            break
        if strategy in LEARNS:
            post = posterior_for(objective, observations, start=hyper, surrogate=surrogate, seed=seed + b)
            hyper = post.hyper if surrogate == "gp" else None
        else:
            post = Posterior(objective, [])
        reuse = open_loop if strategy not in LEARNS else None  # a learning strategy's batches depend on the lab
        if reuse is not None and b in reuse:
            chosen = reuse[b]
        else:
            chosen, _ = next_batch(objective, post, strategy, n, seed=seed * 100_003 + index, avoid=list(made))
            if reuse is not None:
                reuse[b] = chosen
        for p in chosen:
            index += 1
            made.append(p.z)
            row: dict[str, Any] = {"index": index, "batch": b, "solvent_mass_fractions": mass_fractions(space, p.z),
                                   "molality": float(space.molality(p.z)[0]), "predicted": p.value, "std": p.std}
            try:
                measured, true, t = lab.measure(space, p.z, planned)
            except TruthError as e:
                row |= {"temperature_K": planned, "failed": str(e)}
                curve.append(best)
                yield row
                continue
            observations.append(Observation(p.z, t, measured))
            best = max(best, sign * true)
            curve.append(best)
            row |= {"temperature_K": t, "measured": measured, "truth": true, "best_truth_so_far": sign * best}
            if optimum is not None:
                row["regret"] = abs(optimum - sign * best) / abs(optimum)
            yield row
    final = post_summary(objective, observations, hyper)
    yield {"summary": {"strategy": strategy, "surrogate": surrogate, "budget": budget, "batch": batch, "seed": seed,
                       "measured": len(observations), "best_truth": sign * best if observations else None,
                       "true_optimum": optimum, "truth": truth.description, "design": spec.model_dump(mode="json"),
                       "posterior": final, "in_process": True}}


def post_summary(objective: Objective, observations: list[Observation], hyper: Hyper | None) -> dict[str, Any]:
    """The posterior's diagnostics after the last measurement."""
    if not observations:
        return {}
    return Posterior(objective, observations, hyper=hyper).diagnostics().as_dict()
