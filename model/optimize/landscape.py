"""Property landscapes over a composition space: the ternary solvent grid and the 1-D salt-concentration curve."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.errors import DiffMixInputError
from model.optimize.objective import Objective
from model.optimize.simplex import grid
from model.optimize.space import CompositionSpace


@dataclass
class Landscape:
    z: np.ndarray  # [G, dim] points
    value: np.ndarray  # [G]
    std: np.ndarray
    gradient: np.ndarray  # [G, dim] feasible gradient (tangent to the simplex; zero along fixed directions)
    kind: str  # "ternary" or "salt"


def tangent(space: CompositionSpace, grad: np.ndarray) -> np.ndarray:
    """Gradient restricted to the directions the space lets move: on the solvent simplex Σ ds = 0."""
    g = grad.copy()
    n = len(space.solvents)
    if space.solvents_free:
        g[:, :n] -= g[:, :n].mean(axis=1, keepdims=True)
    else:
        g[:, :n] = 0.0
    if not space.salt_free:
        g[:, n] = 0.0
    return g


def _value_gradient(objective: Objective, z: np.ndarray, chunk: int = 8192
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vals, stds, grads = [], [], []
    sign = 1.0 if objective.maximize else -1.0
    beta = objective.beta
    objective.beta = 0.0  # the landscape shows the property itself, not the acquisition score
    try:
        for i in range(0, len(z), chunk):
            _, v, s, g = objective.evaluate(z[i : i + chunk])
            vals.append(v)
            stds.append(s)
            grads.append(sign * g)  # ∂value/∂z
    finally:
        objective.beta = beta
    return np.concatenate(vals), np.concatenate(stds), np.concatenate(grads)


def ternary(objective: Objective, steps: int = 100) -> Landscape:
    """The objective and its feasible gradient on a ternary grid of step 1/steps."""
    space = objective.space
    if len(space.solvents) != 3 or not space.solvents_free:
        raise DiffMixInputError("a ternary landscape needs exactly three free solvents")
    n = len(space.solvents)
    pts = grid(steps)
    z = np.zeros((len(pts), n + 1))
    z[:, :n] = pts
    z[:, n] = space.salt_range[0] if not space.salt_free else np.mean(space.salt_range)
    inside = space.is_feasible(z)
    z = z[inside]
    v, s, g = _value_gradient(objective, z)
    return Landscape(z, v, s, tangent(space, g), "ternary")


def salt_curve(objective: Objective, points: int = 200) -> Landscape:
    """The objective and its derivative along the free salt coordinate (fraction or molality), at ``points`` values."""
    space = objective.space
    if not space.salt_free:
        raise DiffMixInputError("a salt-concentration curve needs a free salt: --salt-fraction-range LO HI or --salt-molality-range LO HI")
    n = len(space.solvents)
    z = np.zeros((points, n + 1))
    z[:, :n] = space.solvent_ratio if space.solvent_ratio is not None else 1.0 / n
    z[:, n] = np.linspace(*space.salt_range, points)
    v, s, g = _value_gradient(objective, z)
    return Landscape(z, v, s, g, "salt")


def to_csv(land: Landscape, objective: Objective, path: str | Path) -> None:
    """The grid as CSV: decision variables (in the space's units), the cation fraction and molality, the
    property, its std and gradient."""
    space = objective.space
    mol = space.molality(land.z)
    frac = space.cation_fraction(torch.as_tensor(land.z, dtype=torch.float64))[:, 0].numpy()
    share = f"{space.solvent_basis}_share"
    header = [f"{share}[{s}]" for s in space.solvents] + [space.salt_variable, "salt_cation_fraction", "salt_molality_mol_kg"]
    header += ["value", "std"] + [f"d/d{share}[{s}]" for s in space.solvents] + [f"d/d{space.salt_variable}"]
    rows = np.column_stack([land.z, frac, mol, land.value, land.std, land.gradient])
    with open(path, "w") as f:
        f.write(",".join(header) + "\n")
        np.savetxt(f, rows, delimiter=",", fmt="%.8g")


def picture_grid(space: CompositionSpace, steps: int = 40) -> tuple[str, np.ndarray] | None:
    """Feasible points for a picture of the space, and its kind: 'ternary' (three free solvents; a free salt at
    the middle of its range), 'binary' (two free solvents, along the first one's share), 'salt' (the solvents fixed,
    along the salt's own unit). None when the space has more dimensions than a picture shows."""
    n = len(space.solvents)
    mid_salt = float(np.mean(space.salt_range)) if space.salt_free else float(space.salt_range[0])
    if space.solvents_free and n == 3:
        pts = grid(steps)
        kind = "ternary"
    elif space.solvents_free and n == 2:
        t = np.linspace(0.0, 1.0, 4 * steps + 1)
        pts = np.column_stack([t, 1.0 - t])
        kind = "binary"
    elif not space.solvents_free and space.salt_free:
        z = np.zeros((4 * steps + 1, n + 1))
        z[:, :n] = space.solvent_ratio if space.solvent_ratio is not None else 1.0 / n
        z[:, n] = np.linspace(*space.salt_range, 4 * steps + 1)
        return "salt", z
    else:
        return None
    z = np.zeros((len(pts), n + 1))
    z[:, :n] = pts
    z[:, n] = mid_salt
    return kind, z[space.is_feasible(z)]
