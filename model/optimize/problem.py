"""Run an objective (built from a ``DesignSpec``) by batch gradient ascent and render the result as JSON-ready
data; shared by the CLI and the service."""

from __future__ import annotations

from typing import Any

import numpy as np

from model.errors import DiffMixInputError
from model.lab_view import describe
from model.optimize.ascent import Result, ascend, starts_for
from model.optimize.objective import Objective

START_MODES = ("random", "spread", "given")


def optimise(objective: Objective, starts: int = 4, start_mode: str = "random", seed: int = 0,
             given_starts: np.ndarray | None = None, max_iter: int = 200, tol: float = 1e-5) -> Result:
    """Batch gradient ascent of ``objective`` from ``starts`` start points chosen by ``start_mode``."""
    if start_mode not in START_MODES:
        raise DiffMixInputError(f"start mode {start_mode!r} is not one of {', '.join(START_MODES)}")
    if starts < 1 or starts > 256:
        raise DiffMixInputError("starts must be between 1 and 256")
    z0 = starts_for(objective, starts, start_mode, seed, given_starts)
    return ascend(objective, z0, max_iter=max_iter, tol=tol)


def point_json(objective: Objective, z: np.ndarray, value: float, std: float, gradient: np.ndarray | None = None) -> dict[str, Any]:
    """One point for people: fractions, value, std, molality and (if given) the gradient by solvent and salt."""
    space = objective.space
    out: dict[str, Any] = {"fractions": space.report_fractions(z), "value": float(value), "std": float(std),
           "salt_molality_mol_kg": float(space.molality(z)[0])}
    if gradient is not None:
        n = len(space.solvents)
        g = {s: float(gradient[i]) for i, s in enumerate(space.solvents)}
        g[space.salt_variable] = float(gradient[n])
        out["gradient"] = g
    return out


def result_json(objective: Objective, result: Result) -> dict[str, Any]:
    """Every trajectory and the best point, JSON-ready."""
    return {
        "property": objective.ensemble.property.name,
        "unit": objective.ensemble.property.unit,
        "temperatures_K": list(objective.temperatures_K),
        "aggregate": objective.aggregate,
        "maximize": objective.maximize,
        "trajectories": [
            {"points": [point_json(objective, p, v, s, g) for p, v, s, g in zip(t.points, t.values, t.stds, t.gradients)],
             "converged": t.converged, "reason": t.reason}
            for t in result.trajectories
        ],
        "best": {**point_json(objective, result.best_point, result.best_value, result.best_std),
                 "lab": describe(objective.space.recipe(result.best_point))},
        "model_calls": result.model_calls,
    }
