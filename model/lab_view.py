"""A recipe as a chemist reads it: names beside SMILES, solvent shares by mass and by mole, the salt's cation
fraction, its molality and an estimated molarity with the density assumption stated.

Used by every output meant for people (the console, the CLI's tables, the results CSV); the robot's own Recipe
stays in mole fractions and molality.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.chem import canonical, salt_formula, species
from model.contract import Recipe
from model.data.calisol import blend_density, molality_to_molarity
from model.data.tables import SALT_EFFECTIVE_DENSITY, density_of, name_of


def describe(recipe: Recipe) -> dict[str, Any]:
    """Names and lab units of one recipe. ``molarity_mol_L`` is None when a solvent's density is unknown (the
    note says which)."""
    ratio = np.asarray(recipe.solvent_ratio, float)
    mm = np.array([species(s).molar_mass for s in recipe.solvents])
    w = ratio * mm / float(np.dot(ratio, mm))
    salt_name = name_of(recipe.salt)
    densities = [density_of(s) for s in recipe.solvents]
    molarity, note = None, ""
    if all(d is not None for d in densities):
        rho = float(blend_density(w, np.array(densities, float)))
        molarity = float(molality_to_molarity(np.array(recipe.salt_molality_mol_kg), np.array(species(recipe.salt).molar_mass),
                                              np.array(rho)))
        note = (f"mol/L estimated with an ideal solvent-blend density of {rho:.3f} g/cm³ (pure solvents near 25 °C) and "
                f"the salt's apparent molar volume M/{SALT_EFFECTIVE_DENSITY:g} cm³/mol")
    else:
        unknown = [name_of(s) for s, d in zip(recipe.solvents, densities) if d is None]
        note = f"no mol/L estimate: the species table has no density for {', '.join(unknown)}"
    return {
        "salt": {"name": salt_name, "smiles": recipe.salt, "cation_fraction": recipe.salt_cation_fraction,
                 "molality_mol_kg": recipe.salt_molality_mol_kg, "molarity_mol_L": molarity, "molarity_note": note},
        "solvents": [{"name": name_of(s), "smiles": s, "mass_fraction": float(wi), "mole_fraction": float(ri)}
                     for s, wi, ri in zip(recipe.solvents, w, ratio)],
        "text": formulation_text(salt_name, recipe.salt_molality_mol_kg, [name_of(s) for s in recipe.solvents], w),
        "cation_fraction_text": f"{salt_name}: {recipe.salt_cation_fraction:.4f}",
    }


def formulation_text(salt: str, molality: float, solvents: list[str], mass_fractions: np.ndarray) -> str:
    """'1.00 m LiPF6 in EC:DMC 30:70 (w/w)': the way a lab writes it (shares in percent by mass)."""
    keep = [(n, f) for n, f in zip(solvents, mass_fractions) if f > 5e-4]
    if len(keep) == 1:
        return f"{molality:.2f} m {salt} in {keep[0][0]}"
    names = ":".join(n for n, _ in keep)
    shares = ":".join(f"{100 * f:.0f}" for _, f in keep)
    return f"{molality:.2f} m {salt} in {names} {shares} (w/w)"


def describe_composition(composition: dict[str, float], salt: str, solvents: list[str]) -> dict[str, Any]:
    """``describe`` of a composition as species mole fractions (ions separately, e.g. what the balance says was
    made) of the given salt in the given solvents. A species outside them is an error, not ignored."""
    x = {canonical(k): float(v) for k, v in composition.items()}
    keys = [canonical(s) for s in solvents]
    formula = salt_formula(salt)
    unknown = sorted(set(x) - set(keys) - set(formula.ions))
    if unknown:
        raise ValueError(f"composition has species outside {name_of(salt)} in {', '.join(map(name_of, solvents))}: "
                         f"{', '.join(unknown)}")
    ratio = np.array([x.get(k, 0.0) for k in keys])
    return describe(Recipe.make(salt, list(solvents), x.get(formula.cation, 0.0), list(ratio / ratio.sum())))
