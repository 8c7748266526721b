"""Choosing a batch of compositions for the robot from gradient-ascent trajectories.

Each proposal is where a trajectory ended. Trajectories from different starts often converge to the same
optimum, and measuring one composition four times teaches little, so end points closer than ``min_distance``
(max-norm on the decision variables) to an already chosen or already measured point are replaced by the
latest point of any trajectory that is far enough from all of them: the ascent path itself, which is what the
paper's Clio runs validated (Figure 4d/f). The "random" strategy (a baseline for comparing campaigns) draws
feasible points uniformly.

The "learning" strategy needs the objective to carry a campaign posterior (model/optimize/posterior.py: DiffMix's
posterior averaged with a prior-free GP by the measurements' evidence). Each point of its batch comes from one
source of a small portfolio (``batch_plan``, ``Source``): ``exploit``, where the posterior mean is best (found by the
same projected gradient ascent, from the best points of a random pool, of the blends on the simplex's edges and faces,
and of a cloud around the best measurements; these may lie as close as ``REFINE_DISTANCE`` to a point already measured,
so the loop can refine its incumbent: a lab's optimum is a flat top); ``explore``, the upper confidence bound
(mean + UCB_BETA · std); ``prior-free``, the prior-free GP's bound alone, in every batch after the first, so a region
DiffMix is sure of is still measured; and ``space-filling``, the pool's point farthest from every other, in the first
batch and while the lab agrees with DiffMix. Points are chosen greedily: each joins the posterior as a fantasy
(pending) observation before the next is chosen, so its neighbourhood loses the variance the measurement will remove
and the batch spreads out by itself. Pending experiments of the campaign enter the same way before the batch starts.
The portfolio was chosen on the loop benchmark's world families (benchmarks/RESULTS.md;
docs/decisions/2026-12-08-a-loop-its-prior-cannot-trap.md). "botorch" is the standard baseline without physics
(model/optimize/baseline.py).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

import numpy as np

from model.optimize.ascent import ascend, starts_for
from model.optimize.objective import Objective
from model.optimize.posterior import CachedPair, Posterior
from model.optimize.space import CompositionSpace

STRATEGIES = ("learning", "gradient", "random", "botorch")
UCB_BETA = 1.0  # the learning strategy's exploring points: posterior mean + UCB_BETA · posterior std
PRIOR_FREE_BETA = 2.0  # its prior-free points: the prior-free GP's mean + PRIOR_FREE_BETA · its std
REFINE_DISTANCE = 0.01  # how close an exploiting point may come to a measured one (max-norm on z)
POOL_RANDOM = 768  # random feasible points scored on the bound
POOL_LOCAL = 64  # points scattered around the two best measurements
POOL_EDGE, POOL_FACE = 16, 8  # random points on each binary edge and each ternary face of the solvent simplex
LOCAL_SD = 0.05  # their spread: in share units, and in units of the salt variable's range
LEARNING_STARTS = 4  # the pool's best points (by posterior mean) the ascent starts from
LEARNING_MAX_ITER = 30  # the posterior mean's ascent (the bound changes with every batch; the pool decides it)


class Source(StrEnum):
    """What chose a proposal: a learning batch's portfolio (``batch_plan``), or the strategy that is not learning."""

    exploit = "exploit"  # the campaign posterior's best mean
    explore = "explore"  # its upper confidence bound
    prior_free = "prior-free"  # the prior-free GP's upper confidence bound (DiffMix left out)
    space_filling = "space-filling"  # farthest from every other point (the first batch)
    gradient = "gradient"  # DiffMix's gradient ascent (open loop)
    random = "random"
    botorch = "botorch"


@dataclass
class Proposal:
    """A point chosen for the robot, with the objective's value, std and feasible gradient there, and its source."""

    z: np.ndarray
    value: float
    std: float
    gradient: np.ndarray
    source: Source = Source.gradient

    def experiment(self, objective: Objective) -> dict[str, Any]:
        """The fields of the experiment that makes this point: species composition, the robot's recipe, the
        optimiser's point, the temperature, the prediction and its gradient by solvent and salt (in the space's units)."""
        space = objective.space
        grad = {s: float(g) for s, g in zip(space.solvents, self.gradient[:-1])} | {space.salt_variable: float(self.gradient[-1])}
        return {"composition": space.species_dict(self.z), "recipe": space.recipe(self.z).model_dump(mode="json"),
                "point": [float(v) for v in self.z], "temperature_K": float(np.mean(objective.temperatures_K)),
                "predicted": self.value, "predicted_std": self.std, "gradient": grad, "source": str(self.source)}


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
    if objective.posterior is not None:  # a proposal's std is that of the measurement the robot will make
        s = objective.posterior.measurement_std(v, s)
    return [Proposal(z[i], float(v[i]), float(s[i]), g[i], chosen[i].source) for i in range(len(chosen))]


def _propose(objective: Objective, n: int, seed: int, strategy: str, avoid: list[np.ndarray] | None, min_distance: float,
             max_iter: int) -> list[Proposal]:
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}")
    avoid = list(avoid or [])
    rng = np.random.default_rng(seed)
    if strategy == "learning":
        return _learning(objective, n, rng, avoid, min_distance, max_iter)
    if strategy == "botorch":
        from model.optimize.baseline import botorch_batch

        z = botorch_batch(objective, n, seed)
        _, v, s, g = objective.evaluate(z)
        return [Proposal(z[i], float(v[i]), float(s[i]), g[i], Source.botorch) for i in range(len(z))]
    if strategy == "random":
        z = objective.space.random_points(n, rng)
        _, v, s, g = objective.evaluate(z)
        return [Proposal(z[i], float(v[i]), float(s[i]), g[i], Source.random) for i in range(n)]
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
                chosen.append(Proposal(z, float(v[0]), float(s[0]), g[0], Source.random))
                taken.append(z)
    return chosen[:n]


def _learning(objective: Objective, n: int, rng: np.random.Generator, avoid: list[np.ndarray], min_distance: float,
              max_iter: int) -> list[Proposal]:
    """A batch on the campaign's posterior, each point from one source of the portfolio (``batch_plan``): its mean's
    best points (an ascent from the best points of a large random pool), the upper confidence bound, the prior-free
    GP's bound and, before any measurement, points far from the rest. Each chosen point joins the posterior as a
    pending observation before the next is chosen (the pool's prior is computed once; each costs only the GPs).
    ``avoid``: the points already measured."""
    post = objective.posterior
    if post is None:
        raise ValueError("the learning strategy needs the campaign's posterior on the objective")
    space = objective.space
    temps = np.asarray(objective.temperatures_K)
    pool = np.vstack([space.random_points(POOL_RANDOM, rng), _face_points(space, rng)])
    if post.observations:  # around the best measured points as well
        best = sorted(post.observations, key=lambda o: -o.measured if objective.maximize else o.measured)[:2]
        near = np.vstack([o.z for o in best])
        jitter = near[rng.integers(0, len(near), POOL_LOCAL)] \
            + rng.normal(0, LOCAL_SD, (POOL_LOCAL, space.dim)) * _distance_scale(space)
        pool = np.vstack([pool, space.project(jitter)])

    def bound(p: Posterior, cached: CachedPair, beta: float) -> np.ndarray:
        mean, std = p.predict_cached(cached)
        return _aggregate_bound(objective, mean.reshape(-1, len(temps)), std.reshape(-1, len(temps)), beta)

    cached = post.at(np.repeat(pool, len(temps), axis=0), np.tile(temps, len(pool)))
    # the exploiting points start from the posterior mean's maximum, found precisely by an ascent from the pool's best
    tops = _distinct(pool[np.argsort(-bound(post, cached, 0.0))], LEARNING_STARTS, min_distance)
    res = ascend(replace(objective, beta=0.0), tops, max_iter=min(max_iter, LEARNING_MAX_ITER), tol=1e-3)
    climbed = np.array([t.points[-1] for t in res.trajectories])
    pool = np.vstack([climbed, pool])
    cached = post.at(np.repeat(climbed, len(temps), axis=0), np.tile(temps, len(climbed))).join(cached)
    scale = _distance_scale(space)
    chosen: list[Proposal] = []
    queued = list(post.pending_z)  # never a point already waiting in the queue
    for source in batch_plan(n, len(post.observations), trusted=not post.evidence.disagrees):
        batch = queued + [p.z for p in chosen]
        if source == Source.space_filling:  # the pool's point farthest from everything measured, queued or chosen
            others = np.array(avoid + batch)
            score = _nearest(pool / scale, others / scale) if len(others) else np.zeros(len(pool))
        elif source == Source.prior_free:
            score = bound(post.prior_free_only(), cached, PRIOR_FREE_BETA)
        else:
            score = bound(post, cached, 0.0 if source == Source.exploit else UCB_BETA)
        # an exploiting point may refine a measured one, never repeat a pending one; the others keep away
        near_measured = min(REFINE_DISTANCE, min_distance) if source == Source.exploit else min_distance
        pick = next((int(i) for i in np.argsort(-score)
                     if _far(pool[i], avoid, near_measured) and _far(pool[i], batch, min_distance)), None)
        if pick is None:
            break
        z = pool[pick]
        _, v, sd, g = objective.evaluate(z[None])  # the posterior mean and std, as a proposal reports them
        chosen.append(Proposal(z, float(v[0]), float(sd[0]), g[0], source))
        post = post.with_pending(np.repeat(z[None], len(temps), axis=0), temps)
    return chosen


def batch_plan(n: int, measured: int, trusted: bool = True) -> list[Source]:
    """Which source makes each point of a learning batch of n, in order (benchmarks/RESULTS.md, the loop benchmark).

    Before any measurement, half the batch exploits DiffMix and half fills the space: the first batch is as much for
    information as for gain. After it, one point a batch is always the prior-free GP's, and one more goes where
    nothing has been measured while the lab agrees with DiffMix (``trusted``): a region DiffMix is sure of and wrong
    about shows no disagreement until something is measured there. Once the lab disagrees, that point follows the
    campaign posterior's upper confidence bound instead (it is then mostly the prior-free GP's). The rest exploit."""
    if n <= 0:
        return []
    if measured == 0:
        k = (n + 1) // 2
        return [Source.exploit] * k + [Source.space_filling] * (n - k)
    free = [Source.prior_free] if n >= 2 else []
    wide = ([Source.space_filling] if trusted else [Source.explore]) if n >= 3 else []
    return [Source.exploit] * (n - len(free) - len(wide)) + wide + free


def _distance_scale(space: CompositionSpace) -> np.ndarray:
    """Units in which the decision variables are comparable: shares as they are, the salt in its range."""
    return np.array([*([1.0] * len(space.solvents)), max(space.salt_range[1] - space.salt_range[0], 1e-9)])


def _nearest(points: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Each point's Euclidean distance to the nearest of ``others``."""
    d: np.ndarray = np.sqrt(((points[:, None, :] - others[None, :, :]) ** 2).sum(-1)).min(1)
    return d


def _face_points(space: CompositionSpace, rng: np.random.Generator) -> np.ndarray:
    """Random points on the binary edges and ternary faces of the solvent simplex (salt anywhere in its range).

    Uniform points in a simplex of five solvents almost never lie on its faces, yet a lab's best blend often does
    (EC:DMC, PC:DMC): on the loop benchmark every five-solvent campaign that stalled had a binary optimum."""
    n = len(space.solvents)
    parts = [space.random_points(per, rng, among=sub) for size, per in ((2, POOL_EDGE), (3, POOL_FACE)) if n > size
             for sub in itertools.combinations(range(n), size)] if space.solvents_free else []
    return np.vstack(parts) if parts else np.zeros((0, space.dim))


def _aggregate_bound(objective: Objective, mean: np.ndarray, std: np.ndarray, beta: float) -> np.ndarray:
    """The upper confidence bound [S] from per-temperature mean and std [S, nT], aggregated as the objective does."""
    sign = 1.0 if objective.maximize else -1.0
    if mean.shape[1] == 1 or objective.aggregate in ("single", "mean"):
        m, s = mean.mean(1), std.mean(1)
    else:
        pick = (mean.argmin(1) if objective.maximize else mean.argmax(1))[:, None]
        m, s = np.take_along_axis(mean, pick, 1)[:, 0], np.take_along_axis(std, pick, 1)[:, 0]
    bound: np.ndarray = sign * m + beta * s
    return bound


def _distinct(points: np.ndarray, k: int, d: float) -> np.ndarray:
    """The first k of ``points`` that are at least d apart."""
    out: list[np.ndarray] = []
    for p in points:
        if _far(p, out, d):
            out.append(p)
            if len(out) == k:
                break
    return np.array(out)
