"""Batched projected gradient ascent on a composition space.

All starts advance together: every model call evaluates the whole batch. Each start keeps its own step size,
found by Armijo backtracking along the projected path z(α) = Π(z + α g) — accept when
f(z(α)) ≥ f(z) + c·g·(z(α) − z), else halve α — and doubled after an accepted step, so no per-problem tuning is
needed and the value never decreases. A start stops when the projected-gradient step ‖Π(z + g) − z‖ (the
gradient on the feasible tangent space, zero at a constrained optimum) falls below ``tol``, when its step size
collapses (no improving step exists at machine precision), or after ``max_iter`` iterations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from model.optimize.objective import Objective


@dataclass
class Trajectory:
    points: list[np.ndarray] = field(default_factory=list)
    values: list[float] = field(default_factory=list)  # the property (ensemble mean, aggregated over T)
    stds: list[float] = field(default_factory=list)
    scores: list[float] = field(default_factory=list)  # what is maximised (sign·value + β·std)
    gradients: list[np.ndarray] = field(default_factory=list)
    converged: bool = False
    reason: str = ""


@dataclass
class Result:
    trajectories: list[Trajectory]
    best_point: np.ndarray
    best_value: float
    best_std: float
    model_calls: int


def starts_for(objective: Objective, k: int, how: str, seed: int, given: np.ndarray | None = None) -> np.ndarray:
    """Start points: given (projected onto the space), spread over it, or drawn at random with ``seed``."""
    space = objective.space
    if how == "given":
        if given is None or len(given) == 0:
            raise ValueError("give the start points")
        return space.project(np.asarray(given, dtype=float))
    if how == "spread":
        return space.spread_points(k)
    return space.random_points(k, np.random.default_rng(seed))


def ascend(objective: Objective, starts: np.ndarray, max_iter: int = 200, tol: float = 1e-5,
           step0: float = 0.05, armijo: float = 1e-4, min_step: float = 1e-9, min_gain: float = 1e-10) -> Result:
    """Projected gradient ascent with backtracking (Armijo) from every start at once; one trajectory each."""
    space = objective.space
    z = space.project(starts)
    S = len(z)
    score, value, std, grad = objective.evaluate(z)
    step = np.full(S, step0)
    trajs = [Trajectory() for _ in range(S)]
    active = np.ones(S, dtype=bool)

    def record(i: int) -> None:
        t = trajs[i]
        t.points.append(z[i].copy())
        t.values.append(float(value[i]))
        t.stds.append(float(std[i]))
        t.scores.append(float(score[i]))
        t.gradients.append(grad[i].copy())

    for i in range(S):
        record(i)
    for _ in range(max_iter):
        pg = space.project(z + grad) - z  # projected gradient (unit step)
        pg_norm = np.linalg.norm(pg, axis=1)
        for k in np.flatnonzero(active & (pg_norm < tol)):
            active[k] = False
            trajs[k].converged, trajs[k].reason = True, "projected gradient below tolerance"
        if not active.any():
            break
        pending = active.copy()
        new_z, new_score, new_value, new_std, new_grad = z.copy(), score.copy(), value.copy(), std.copy(), grad.copy()
        while pending.any():
            rows = np.flatnonzero(pending)
            cand = space.project(z[rows] + step[rows, None] * grad[rows])
            s, v, sd, g = objective.evaluate(cand)
            ok = s >= score[rows] + armijo * np.sum(grad[rows] * (cand - z[rows]), axis=1)
            moved = np.linalg.norm(cand - z[rows], axis=1) > 0
            for j, r in enumerate(rows):
                if ok[j] and moved[j] and s[j] >= score[r]:
                    new_z[r], new_score[r], new_value[r], new_std[r], new_grad[r] = cand[j], s[j], v[j], sd[j], g[j]
                    pending[r] = False
                    step[r] *= 2.0
                    if s[j] - score[r] <= min_gain * max(1.0, abs(score[r])):
                        active[r] = False
                        trajs[r].converged, trajs[r].reason = True, "no further improvement"
                else:
                    step[r] *= 0.5
                    if step[r] < min_step:
                        pending[r] = False
                        active[r] = False
                        trajs[r].converged, trajs[r].reason = True, "no improving step (step size collapsed)"
        improved = np.flatnonzero((new_score != score) & active)
        z, score, value, std, grad = new_z, new_score, new_value, new_std, new_grad
        for k in improved:
            record(int(k))
    for k in np.flatnonzero(active):
        trajs[k].reason = f"stopped after {max_iter} iterations"
    best_i = int(np.argmax([t.scores[-1] for t in trajs]))
    bt = trajs[best_i]
    return Result(trajs, bt.points[-1], bt.values[-1], bt.stds[-1], objective.calls)
