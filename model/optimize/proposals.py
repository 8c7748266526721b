"""Choosing a batch of compositions for the robot from gradient-ascent trajectories.

Each proposal is where a trajectory ended. Trajectories from different starts often converge to the same
optimum, and measuring one composition four times teaches little, so end points closer than ``min_distance``
(max-norm on the decision variables) to an already chosen or already measured point are replaced by the
latest point of any trajectory that is far enough from all of them: the ascent path itself, which is what the
paper's Clio runs validated (Figure 4d/f). The "random" strategy (a baseline for comparing campaigns) draws
feasible points uniformly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model.optimize.ascent import ascend, starts_for
from model.optimize.objective import Objective
from model.optimize.space import CompositionSpace

STRATEGIES = ("gradient", "random")


@dataclass
class Proposal:
    """A point chosen for the robot, with the objective's value, std and feasible gradient there."""

    z: np.ndarray
    value: float
    std: float
    gradient: np.ndarray

    def experiment(self, objective: Objective) -> dict[str, Any]:
        """The fields of the experiment that makes this point: species composition, the robot's recipe, the
        optimiser's point, the temperature, the prediction and its gradient by solvent and salt fraction."""
        space = objective.space
        grad = {s: float(g) for s, g in zip(space.solvents, self.gradient[:-1])} | {"salt_fraction": float(self.gradient[-1])}
        return {"composition": space.species_dict(self.z), "recipe": space.recipe(self.z).model_dump(mode="json"),
                "point": [float(v) for v in self.z], "temperature_K": float(np.mean(objective.temperatures_K)),
                "predicted": self.value, "predicted_std": self.std, "gradient": grad}


def snap(space: CompositionSpace, z: np.ndarray, resolution: float) -> np.ndarray:
    """Solvent shares below `resolution` become zero (a lab cannot dispense traces), then back onto the space."""
    z = np.atleast_2d(np.asarray(z, dtype=float)).copy()
    n = len(space.solvents)
    if resolution > 0 and space.solvents_free:
        s = z[:, :n]
        small = (s < resolution) & (space.solvent_lower[None, :] <= 0)
        s[small] = 0.0
        z[:, :n] = s / s.sum(axis=1, keepdims=True)
    return space.project(z)


def _far(z: np.ndarray, others: list[np.ndarray], d: float) -> bool:
    return all(np.max(np.abs(z - o)) >= d for o in others)


def propose(objective: Objective, n: int, seed: int, strategy: str = "gradient",
            avoid: list[np.ndarray] | None = None, min_distance: float = 0.01, max_iter: int = 200,
            resolution: float = 0.01) -> list[Proposal]:
    """`resolution`: solvent shares below it are set to zero so every proposal can be dispensed."""
    chosen = _propose(objective, n, seed, strategy, avoid, min_distance, max_iter)
    if not chosen:
        return chosen
    z = snap(objective.space, np.array([p.z for p in chosen]), resolution)
    _, v, s, g = objective.evaluate(z)
    return [Proposal(z[i], float(v[i]), float(s[i]), g[i]) for i in range(len(chosen))]


def _propose(objective: Objective, n: int, seed: int, strategy: str, avoid: list[np.ndarray] | None, min_distance: float,
             max_iter: int) -> list[Proposal]:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    avoid = list(avoid or [])
    rng = np.random.default_rng(seed)
    if strategy == "random":
        z = objective.space.random_points(n, rng)
        _, v, s, g = objective.evaluate(z)
        return [Proposal(z[i], float(v[i]), float(s[i]), g[i]) for i in range(n)]
    res = ascend(objective, starts_for(objective, n, "random", seed), max_iter=max_iter)
    chosen: list[Proposal] = []
    taken = list(avoid)
    for t in res.trajectories:
        end = t.points[-1]
        if _far(end, taken, min_distance):
            chosen.append(Proposal(end, t.values[-1], t.stds[-1], t.gradients[-1]))
            taken.append(end)
    # fill from the trajectories, newest points first, round-robin over trajectories
    depth = 2
    while len(chosen) < n and any(len(t.points) >= depth for t in res.trajectories):
        for t in res.trajectories:
            if len(chosen) >= n or len(t.points) < depth:
                continue
            p = t.points[-depth]
            if _far(p, taken, min_distance):
                chosen.append(Proposal(p, t.values[-depth], t.stds[-depth], t.gradients[-depth]))
                taken.append(p)
        depth += 1
    if len(chosen) < n:  # the paths are exhausted: explore feasible random points far from the rest
        for z in objective.space.random_points(50 * n, rng):
            if len(chosen) >= n:
                break
            if _far(z, taken, min_distance):
                _, v, s, g = objective.evaluate(z[None])
                chosen.append(Proposal(z, float(v[0]), float(s[0]), g[0]))
                taken.append(z)
    return chosen[:n]
