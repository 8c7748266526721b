"""One place that turns a user's description of an optimisation (CLI options or a service request) into an
Objective, runs it, and renders the result as JSON-ready data."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.optimize.ascent import Result, ascend, starts_for
from model.optimize.objective import Objective
from model.optimize.space import CompositionSpace

START_MODES = ("random", "spread", "given")


def build_objective(
    ensemble: Ensemble,
    salt: str,
    solvents: Sequence[str],
    salt_fraction: float | None = None,
    salt_fraction_range: Sequence[float] | None = None,
    salt_molality: float | None = None,
    solvent_ratio: Sequence[float] | None = None,
    lower: Sequence[float] | None = None,
    upper: Sequence[float] | None = None,
    exclude: Sequence[str] = (),
    temperature_K: float | None = None,
    temperature_range_K: Sequence[float] | None = None,
    aggregate: str = "worst",
    maximize: bool = True,
    beta: float = 0.0,
) -> Objective:
    if ensemble.property.name != "ionic_conductivity":
        raise DiffMixInputError(f"electrolyte design optimises ionic conductivity; this model predicts {ensemble.property.name}")
    solvents = [s.strip() for s in solvents if s.strip()]
    n = len(solvents)
    lo = np.zeros(n) if lower is None else np.asarray(lower, dtype=float)
    hi = np.ones(n) if upper is None else np.asarray(upper, dtype=float)
    if lo.shape != (n,) or hi.shape != (n,):
        raise DiffMixInputError(f"give one lower and one upper bound per solvent ({n} solvents)")
    hi = hi.copy()
    for ex in exclude:
        if ex not in solvents:
            raise DiffMixInputError(f"excluded component {ex!r} is not among the solvents")
        hi[solvents.index(ex)] = 0.0
        lo[solvents.index(ex)] = 0.0
    given = [v is not None for v in (salt_fraction, salt_fraction_range, salt_molality)]
    if sum(given) != 1:
        raise DiffMixInputError("give exactly one of salt fraction, salt fraction range, or salt molality")
    if salt_fraction_range is not None:
        if len(salt_fraction_range) != 2:
            raise DiffMixInputError("the salt fraction range is two numbers: LO HI")
        frange = (float(salt_fraction_range[0]), float(salt_fraction_range[1]))
    else:
        frange = (float(salt_fraction or 0.0),) * 2
    space = CompositionSpace(salt, solvents, frange if salt_molality is None else (0.01, 0.01), lo, hi,
                             None if solvent_ratio is None else np.asarray(solvent_ratio, dtype=float))
    if salt_molality is not None:
        if space.solvent_ratio is None:
            raise DiffMixInputError("a fixed salt molality needs a fixed solvent ratio; give a salt fraction instead")
        f = space.fraction_from_molality(float(salt_molality), space.solvent_ratio)
        space = CompositionSpace(salt, solvents, (f, f), lo, hi, space.solvent_ratio)
    if (temperature_K is None) == (temperature_range_K is None):
        raise DiffMixInputError("give either one temperature or a temperature range")
    if temperature_K is not None:
        temps, agg = (float(temperature_K),), "single"
    else:
        if len(temperature_range_K) != 2:
            raise DiffMixInputError("the temperature range is two numbers in kelvin: LO HI")
        temps, agg = Objective.temperature_grid(*map(float, temperature_range_K)), aggregate
    return Objective(ensemble, space, temps, agg, maximize, beta)


def optimise(objective: Objective, starts: int = 4, start_mode: str = "random", seed: int = 0,
             given_starts: np.ndarray | None = None, max_iter: int = 200, tol: float = 1e-5) -> Result:
    if start_mode not in START_MODES:
        raise DiffMixInputError(f"start mode {start_mode!r} is not one of {', '.join(START_MODES)}")
    if starts < 1 or starts > 256:
        raise DiffMixInputError("starts must be between 1 and 256")
    z0 = starts_for(objective, starts, start_mode, seed, given_starts)
    return ascend(objective, z0, max_iter=max_iter, tol=tol)


def point_json(objective: Objective, z: np.ndarray, value: float, std: float, gradient: np.ndarray | None = None) -> dict:
    space = objective.space
    out = {"fractions": space.report_fractions(z), "value": float(value), "std": float(std),
           "salt_molality_mol_kg": float(space.molality(z)[0])}
    if gradient is not None:
        n = len(space.solvents)
        g = {s: float(gradient[i]) for i, s in enumerate(space.solvents)}
        g["salt_fraction"] = float(gradient[n])
        out["gradient"] = g
    return out


def result_json(objective: Objective, result: Result) -> dict:
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
        "best": point_json(objective, result.best_point, result.best_value, result.best_std),
        "model_calls": result.model_calls,
    }
