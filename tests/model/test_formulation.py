"""Formulation strings → what to weigh, and the records and commands that take them."""

import json

import pytest
from typer.testing import CliRunner

from diffmix.cli import app
from model.chem import species
from model.data.tables import SOLVENTS
from model.errors import DiffMixInputError
from model.formulation import parse
from model.mixture import from_amounts, from_record

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"


def test_molality_by_weight_is_exactly_what_is_weighed():
    f = parse("1 m LiPF6 in EC:EMC 3:7 (w/w)")
    assert f.solvent_mass_fractions == pytest.approx((0.3, 0.7)) and f.molality == 1.0 and f.assumption == ""
    grams = dict(f.components())
    assert grams[LIPF6] == pytest.approx(species(LIPF6).molar_mass / 1000)


def test_volume_ratio_uses_the_pure_densities_and_molarity_the_density_estimate():
    """LP30, 1 M LiPF6 in EC:DMC 1:1 by volume: ρ(EC) 1.321, ρ(DMC) 1.063 g/cm³ → w(EC) = 1.321/2.384; about 0.88
    mol/kg (the datasheet's 1.3 g/cm³ gives 1/(1.3 − 0.152) = 0.87)."""
    f = parse("1 M LiPF6 in EC:DMC 1:1 (v/v)")
    ec, dmc = SOLVENTS["EC"].density, SOLVENTS["DMC"].density
    assert f.solvent_mass_fractions[0] == pytest.approx(ec / (ec + dmc))
    assert 0.86 < f.molality < 0.90 and "mol/L" in f.assumption and "density" in f.assumption


@pytest.mark.parametrize("text", ["1 m LiFSI in DME", "0.8 mol/kg LiPF6 in EC:DMC:EMC 1:1:1 by volume",
                                  "1.2 M LiPF6 in ec:emc 3:7 wt", "1 mol/L LiBF4 in PC", "0.5 m NaPF6 in diglyme",
                                  "1 m LiPF6 in EC:DMC 1:1 (mol)"])
def test_the_ways_a_lab_writes_it(text):
    f = parse(text)
    assert abs(sum(f.solvent_mass_fractions) - 1) < 1e-12 and f.molality > 0


@pytest.mark.parametrize("text,match", [
    ("1 M LiPF6 in EC:EMC 3:7", r"say what the ratio 3:7 is"),
    ("1 M LiPF6 in EC:EMC", r"2 solvents need a ratio"),
    ("1 m LiPF6 in EC:EMC 3:7:1 (w/w)", r"2 solvents but 3 numbers"),
    ("1 mM LiPF6 in EC", r"is not 'CONCENTRATION UNIT SALT"),
    ("1 m EC in DMC", r"'EC' is not a salt"),
    ("1 m LiPF6 in EC:LiBF4 1:1 (w/w)", r"'LiBF4' is a salt"),
    ("1 m LiPF6 in EC:DMC 1:1 (by feel)", r"not a ratio basis"),
    ("1 m LiPF7 in EC", r"did you mean LiPF6"),
    ("1 M LiPF6 in CCCCCCO", r"needs the density of 'CCCCCCO'"),
])
def test_ambiguity_is_an_error_that_says_how_to_write_it(text, match):
    with pytest.raises(DiffMixInputError, match=match):
        parse(text)


def test_a_record_takes_a_formulation_and_a_temperature_in_celsius():
    m = from_record({"formulation": "1 m LiPF6 in EC:DMC 3:7 (w/w)", "temperature_C": 25})
    ref = from_amounts([("O=C1OCCO1", 0.3), ("COC(=O)OC", 0.7), (LIPF6, species(LIPF6).molar_mass / 1000)], "mass", 298.15)
    assert m.species == ref.species and m.x == pytest.approx(ref.x) and m.temperature_K == pytest.approx(298.15)
    with pytest.raises(DiffMixInputError, match="not both"):
        from_record({"formulation": "1 m LiPF6 in EC", "basis": "mass", "temperature_K": 298.15})
    with pytest.raises(DiffMixInputError, match="one of them, not both"):
        from_record({"formulation": "1 m LiPF6 in EC", "temperature_K": 298.15, "temperature_C": 25})


def test_diffmix_predict_formulation(tiny_models_dir):
    args = ["predict", "--property", "ionic_conductivity", "--model", str(tiny_models_dir / "ionic_conductivity"),
            "--formulation", "1 m LiPF6 in EC:DMC 3:7 (w/w)"]
    r = CliRunner().invoke(app, [*args, "--temperature-C", "25"])
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)
    assert row["prediction"] > 0 and row["temperature_C"] == 25.0
    r_k = CliRunner().invoke(app, [*args, "--temperature-K", "298.15"])
    assert json.loads(r_k.stdout)["prediction"] == pytest.approx(row["prediction"], rel=1e-9)
    bad = CliRunner().invoke(app, args)
    assert bad.exit_code == 2 and "--temperature-K or --temperature-C" in bad.output
