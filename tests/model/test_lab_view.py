"""A recipe as a chemist reads it: names, mass fractions, molality and an estimated molarity."""

import numpy as np
import pytest

from model.chem import species
from model.contract import Recipe
from model.formulation import parse
from model.lab_view import describe, describe_composition

LIPF6, EC, EMC = "[Li+].F[P-](F)(F)(F)(F)F", "O=C1OCCO1", "CCOC(=O)OC"


def _recipe_of(text):
    """The robot's recipe for a formulation string (mass fractions → mole ratio, molality → cation fraction)."""
    f = parse(text)
    mm = np.array([species(s).molar_mass for s in f.solvents])
    ratio = np.array(f.solvent_mass_fractions) / mm
    ratio /= ratio.sum()
    blend = float(ratio @ mm)
    n_salt = f.molality * blend / 1000  # mol salt per mol of solvent blend
    x_li = n_salt / (1 + 2 * n_salt)  # LiPF6: two ions per formula unit
    return Recipe.make(f.salt, list(f.solvents), x_li, list(ratio))


def test_molarity_round_trips_through_the_formulation_strings_density_estimate():
    d = describe(_recipe_of("1.2 M LiPF6 in EC:EMC 3:7 (w/w)"))
    assert d["salt"]["molarity_mol_L"] == pytest.approx(1.2, rel=1e-6)
    assert [s["name"] for s in d["solvents"]] == ["EC", "EMC"]
    assert [s["mass_fraction"] for s in d["solvents"]] == pytest.approx([0.3, 0.7])
    assert d["text"] == f"{d['salt']['molality_mol_kg']:.2f} m LiPF6 in EC:EMC 30:70 (w/w)"
    assert d["cation_fraction_text"].startswith("LiPF6: 0.0") and "density" in d["salt"]["molarity_note"]


def test_molality_is_the_recipes_own_and_a_pure_solvent_is_written_plainly():
    r = _recipe_of("1 m LiPF6 in EC")
    d = describe(r)
    assert d["salt"]["molality_mol_kg"] == pytest.approx(1.0) and d["text"] == "1.00 m LiPF6 in EC"
    # 1 mol/kg in EC (1.321 g/cm³) is a little over 1.1 mol/L by the same estimate
    assert 1.0 < d["salt"]["molarity_mol_L"] < 1.25


def test_a_solvent_without_a_density_gives_no_molarity_and_says_why():
    d = describe(Recipe.make(LIPF6, [EC, "CCCCCCCC(=O)OC"], 0.05, [0.5, 0.5]))
    assert d["salt"]["molarity_mol_L"] is None and "no density" in d["salt"]["molarity_note"]


def test_a_measured_composition_is_described_and_a_stranger_species_is_an_error():
    r = Recipe.make(LIPF6, [EC, EMC], 0.06, [0.4, 0.6])
    x_li = 0.06
    comp = {EC: 0.4 * (1 - 2 * x_li), EMC: 0.6 * (1 - 2 * x_li), "[Li+]": x_li, "F[P-](F)(F)(F)(F)F": x_li}
    d = describe_composition(comp, LIPF6, [EC, EMC])
    assert d["salt"]["molality_mol_kg"] == pytest.approx(r.salt_molality_mol_kg)
    with pytest.raises(ValueError, match="outside"):
        describe_composition({**comp, "O": 0.01}, LIPF6, [EC, EMC])
