"""From a target composition to stock masses, and from weighed masses back to the composition that was made."""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from model.chem import canonical, salt_formula, species
from model.contract import Recipe
from robot.errors import RecipeError
from robot.lab import Stock

COMPOSITION_TOL = 2e-3  # largest mole-fraction error a recipe may have before it is refused


def components(stocks: list[Stock], salt: str | None) -> list[str]:
    """Component keys: the salt formula unit (its SMILES) then every solvent (canonical SMILES)."""
    keys = [] if salt is None else [salt]
    for s in stocks:
        for smi in s.solvent:
            c = canonical(smi)
            if c not in keys:
                keys.append(c)
    return keys


def moles_per_gram(stock: Stock, keys: list[str]) -> np.ndarray:
    """mol of each component in one gram of the stock."""
    out = np.zeros(len(keys))
    salt_mm = species(stock.salt).molar_mass if stock.salt else 0.0
    solvent_g = 1.0 / (1.0 + stock.molality * salt_mm / 1000.0)
    if stock.salt:
        if canonical(stock.salt) not in [canonical(k) for k in keys[:1]]:
            raise RecipeError(f"stock {stock.name} holds salt {stock.salt}, not the target's salt")
        out[0] = stock.molality * solvent_g / 1000.0
    for smi, w in stock.solvent.items():
        out[keys.index(canonical(smi))] += solvent_g * w / species(smi).molar_mass
    return out


def target_moles(recipe: Recipe, keys: list[str]) -> np.ndarray:
    """Component mole amounts (per mole of mixture) from a service recipe."""
    formula = salt_formula(recipe.salt)
    f = recipe.salt_cation_fraction
    n = np.zeros(len(keys))
    n[0] = formula.formula_units(f)
    share = formula.solvent_share(f)
    for smi, r in zip(recipe.solvents, recipe.solvent_ratio):
        c = canonical(smi)
        if r > 1e-9:  # shares below this are rounding, not a request
            if c not in keys:
                raise RecipeError(f"no stock holds solvent {smi}")
            n[keys.index(c)] += share * r
    return n


def _solve(recipe: Recipe, usable: list[Stock]) -> tuple[np.ndarray, float]:
    keys = components(usable, recipe.salt)
    a = np.column_stack([moles_per_gram(s, keys) for s in usable])  # [components, stocks]
    n = target_moles(recipe, keys)
    m, _ = nnls(a / n.sum(), n / n.sum())
    made = a @ m
    if made.sum() <= 0:
        return m, np.inf
    return m, float(np.max(np.abs(made / made.sum() - n / n.sum())))


def plan_masses(recipe: Recipe, stocks: list[Stock], total_volume_ml: float, min_volume_ml: float = 0.0) -> dict[str, float]:
    """Grams of each stock that make the recipe in about `total_volume_ml`; refuses what the stocks cannot make.

    A stock whose share would fall below the pumps' smallest dispense is left out and the rest re-solved, as long
    as the composition still comes out within COMPOSITION_TOL; only then is the recipe refused."""
    usable = [s for s in stocks if s.salt is None or canonical(s.salt) == canonical(recipe.salt)]
    dropped = False
    while True:
        try:
            m, err = _solve(recipe, usable)
        except RecipeError:
            if dropped:
                raise RecipeError(f"the stocks cannot make this composition with volumes the pumps can dispense "
                                  f"(≥ {min_volume_ml * 1000:.0f} µL each in a {total_volume_ml:g} mL sample)") from None
            raise
        if err > COMPOSITION_TOL:
            detail = "" if not np.isfinite(err) else f" (closest differs by {err:.4f} in mole fraction)"
            raise RecipeError(f"the stocks cannot make this composition{detail}")
        volumes = m / np.array([s.density_g_ml for s in usable])
        m = m * total_volume_ml / volumes.sum()
        volumes = volumes * total_volume_ml / volumes.sum()
        tiny = [i for i, v in enumerate(volumes) if 0 < v < min_volume_ml]
        if not tiny:
            return {s.name: float(g) for s, g in zip(usable, m) if g > 1e-9}
        drop = min(tiny, key=lambda i: volumes[i])
        usable = [s for i, s in enumerate(usable) if i != drop]
        dropped = True
        if not usable:
            raise RecipeError("the stocks cannot make this composition with volumes the pumps can dispense")


def composition_from_masses(masses: dict[str, float], stocks: list[Stock], salt: str) -> dict[str, float]:
    """Species mole fractions (ions separately, canonical SMILES) of what was actually weighed in."""
    used = [s for s in stocks if masses.get(s.name, 0) > 0]
    keys = components(used, salt)
    n = sum(moles_per_gram(s, keys) * masses[s.name] for s in used)
    out: dict[str, float] = {}
    for k, v in zip(keys, n):
        for part, count in species(k).parts:
            out[part] = out.get(part, 0.0) + v * count
    total = sum(out.values())
    return {k: float(v / total) for k, v in sorted(out.items()) if v > 0}
