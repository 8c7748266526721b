"""One whole campaign against a simulated lab, in process: `diffmix campaign simulate` and benchmarks/bench_loop.py.

It runs the very code a service campaign runs for each batch (model/optimize/loop.py: the posterior on the
measurements so far, then the strategy's next batch), and measures each proposal the way the simulated lab's
world does (robot/sim/world.py, robot/sim/truth.py): each stock is dispensed with the pumps' error, so the made
composition is not quite the planned one (the posterior learns from the made one, as the balance reports it); the
truth there, at the temperature the thermostat settled to (the planned one ± the bath's error), is read through the
instrument's bias, noise and outliers. The serial emulators, the HTTP service and the agent are left out: they change
how long a campaign takes, not what it learns (`make demo` runs the same loop through all of them).

A campaign is scored as a lab would judge it: by the truth at the recipe whose *measured* reading was best
(``score``; a lab cannot know the truth, and under noise the best true κ among all measured points flatters every
strategy), and by the truth at the recipe the final posterior recommends (``recommended_truth``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.optimize import minimize

from model.optimize.design import DesignSpec
from model.optimize.loop import LEARNS, next_batch, posterior_for
from model.optimize.objective import Objective
from model.optimize.posterior import Hyper, Observation, Posterior
from model.optimize.proposals import Proposal, propose
from model.optimize.space import CompositionSpace
from robot.sim.truth import Truth, TruthError

THERMOSTAT_SD_K = 0.03  # as robot/sim/world.World
DISPENSE_ERROR = 0.01  # relative 1σ of each stock's dispensed amount, as robot/sim/world.World.pump_volume_error


def mass_fractions(space: CompositionSpace, z: np.ndarray) -> dict[str, float]:
    """The solvents' mass fractions (keyed by the SMILES the space was written with) at a point."""
    w = space.mass_fractions(z)[0]
    return {s: float(v) for s, v in zip(space.solvents, w) if v > 0}


def truth_at(space: CompositionSpace, truth: Truth, z: np.ndarray, temperature_K: float) -> float:
    """The world's noise-free κ at a point."""
    return truth.kappa(mass_fractions(space, z), space.salt, float(space.molality(z)[0]), temperature_K)


def true_optimum(space: CompositionSpace, truth: Truth, temperature_K: float, maximize: bool = True,
                 samples: int = 3000, seed: int = 0, starts: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    """The world's best point on the space: the best of random feasible points (and of ``starts``, where a narrow
    feature is known to lie), polished by Nelder–Mead on the projection (the truth is cheap and smooth)."""
    sign = 1.0 if maximize else -1.0
    rng = np.random.default_rng(seed)
    pts = space.random_points(samples, rng)
    if starts is not None and len(starts):
        pts = np.vstack([space.project(np.atleast_2d(starts)), pts])

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
    """The simulated lab as the in-process loop sees it: its truth, its pumps' and its thermostat's error."""

    truth: Truth
    rng: np.random.Generator
    thermostat_sd_K: float = THERMOSTAT_SD_K
    dispense_error: float = DISPENSE_ERROR

    def make(self, space: CompositionSpace, z: np.ndarray) -> np.ndarray:
        """The point the robot makes of the planned one: each solvent's mass and the salt's amount off by the pumps'
        relative error (the balance then reports what was made)."""
        if self.dispense_error <= 0:
            return np.asarray(z, dtype=float)
        n = len(space.solvents)
        w = space.mass_fractions(z)[0] * (1.0 + self.dispense_error * self.rng.standard_normal(n))
        w = np.clip(w, 0.0, None)
        x = w / space.solvent_molar_mass  # mass → mole shares
        molality = float(space.molality(z)[0]) * (1.0 + self.dispense_error * float(self.rng.standard_normal()))
        mean_mm = float(x @ space.solvent_molar_mass / x.sum())
        fraction = float(space.formula.cation_fraction(molality, mean_mm))
        return space.to_basis(x, fraction)

    def measure(self, space: CompositionSpace, z: np.ndarray, planned_K: float) -> tuple[float, float, float]:
        """(measured κ, the truth there, the temperature measured at) of what is made at z (no dispensing error:
        ``make`` first)."""
        t = planned_K + self.thermostat_sd_K * float(self.rng.standard_normal())
        true = truth_at(space, self.truth, z, t)
        return true * self.truth.reading_factor(self.rng), true, t


def run(spec: DesignSpec, objective: Objective, truth: Truth, strategy: str, budget: int, batch: int, seed: int,
        optimum: float | None = None, surrogate: str = "gp",
        open_loop: dict[int, list[Proposal]] | None = None) -> Iterator[dict[str, Any]]:
    """Yield one row per experiment (measured or failed), then ``{"summary": …}``. ``surrogate`` chooses the
    posterior design of the learning strategies (model/optimize/loop.py). The batches of a strategy that does not
    learn depend on the space, the seed and the budget alone, not on the lab: ``open_loop``, a dict kept by the
    caller for one (space, strategy, seed, batch), stores them by batch number so many worlds reuse them.

    Each row says the truth at the recipe with the best measured reading so far (``score``), the honest score."""
    space = objective.space
    lab = Lab(truth, np.random.default_rng(seed + 7919))
    planned = float(np.mean(objective.temperatures_K))
    sign = 1.0 if objective.maximize else -1.0
    observations: list[Observation] = []
    made: list[np.ndarray] = []
    hyper: Hyper | None = None
    free_hyper: Hyper | None = None
    best_reading, score = -math.inf, None
    index = 0
    for b in range(1, math.ceil(budget / batch) + 1):
        n = min(batch, budget - index)
        if n <= 0:
            break
        if strategy in LEARNS and strategy != "botorch":
            post = posterior_for(objective, observations, start=hyper, surrogate=surrogate, seed=seed + b,
                                 free_start=free_hyper)
            hyper, free_hyper = (post.hyper, post.free_hyper) if surrogate == "gp" else (None, None)
        else:  # BoTorch reads the measurements off the posterior and fits its own GP; no DiffMix posterior is fitted
            post = Posterior(objective, observations, fit=False, prior_free=False)
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
            row: dict[str, Any] = {"index": index, "batch": b, "source": str(p.source),
                                   "solvent_mass_fractions": mass_fractions(space, p.z),
                                   "molality": float(space.molality(p.z)[0]), "predicted": p.value, "std": p.std}
            try:
                z_made = lab.make(space, p.z)
                measured, true, t = lab.measure(space, z_made, planned)
                if sign * measured > best_reading:  # the lab's pick: the recipe whose reading was best
                    best_reading, score = sign * measured, truth_at(space, truth, p.z, planned)
            except TruthError as e:
                row |= {"temperature_K": planned, "failed": str(e), "score": score}
                yield row
                continue
            observations.append(Observation(z_made, t, measured))
            row |= {"made": {"solvent_mass_fractions": mass_fractions(space, z_made),
                             "molality": float(space.molality(z_made)[0])},
                    "temperature_K": t, "measured": measured, "truth": true, "score": score}
            if optimum is not None and score is not None:
                row["regret"] = abs(optimum - score) / abs(optimum)
            yield row
    final_post = Posterior(objective, observations, hyper=hyper, free_hyper=free_hyper) if observations else None
    final = final_post.diagnostics().as_dict() if final_post is not None else {}
    recommended = recommend(objective, final_post, strategy) if final_post is not None else None
    yield {"summary": {"strategy": strategy, "surrogate": surrogate, "budget": budget, "batch": batch, "seed": seed,
                       "measured": len(observations), "score": score,
                       "recommended": mass_fractions(space, recommended) if recommended is not None else None,
                       "recommended_molality": float(space.molality(recommended)[0]) if recommended is not None else None,
                       "recommended_truth": _truth_or_none(space, truth, recommended, planned),
                       "true_optimum": optimum, "truth": truth.description, "design": spec.model_dump(mode="json"),
                       "posterior": final, "in_process": True}}


def recommend(objective: Objective, posterior: Posterior, strategy: str) -> np.ndarray:
    """The recipe a campaign recommends after its last batch: the best point of its final posterior's mean (the
    learning strategy's campaign posterior; for the others, the prior-free GP on their measurements), found by the
    learning strategy's own exploiting search."""
    post = posterior if strategy == "learning" else posterior.prior_free_only()
    # a learning batch of one is one exploiting point: the mean's best, which may lie on a measured point
    return propose(replace(objective, posterior=post), 1, seed=0, strategy="learning")[0].z


def _truth_or_none(space: CompositionSpace, truth: Truth, z: np.ndarray | None, temperature_K: float) -> float | None:
    if z is None:
        return None
    try:
        return truth_at(space, truth, z, temperature_K)
    except TruthError:
        return None
