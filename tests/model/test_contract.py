"""The robot contract (model/contract.py): what a robot receives and sends, validated the same on both sides."""

import pytest
from pydantic import ValidationError

from model.contract import Recipe, Result

LIPF6, EC, DMC = "[Li+].F[P-](F)(F)(F)(F)F", "O=C1OCCO1", "COC(=O)OC"


def result_body(**change):
    body = {"spectrum": {"frequency_Hz": [1e5, 1e4], "z_real_ohm": [100.0, 101.0], "z_imag_ohm": [-1.0, -2.0]},
            "resistance_ohm": 100.0, "cell_constant_per_cm": 1.0, "temperature_K": 303.15,
            "conductivity_mS_cm": 10.0, "method": "min-phase", "measured_composition": {"[Li+]": 0.5, "X": 0.5}}
    return {**body, **change}


def test_recipe_molality_by_hand():
    # LiPF6 at cation fraction 0.08 in DMC: 0.08 mol of formula units per mole of mixture, 1 − 2·0.08 = 0.84 mol
    # of DMC (90.08 g/mol) → 0.08 · 1000 / (0.84 · 90.08) = 1.0573 mol/kg
    r = Recipe.make(LIPF6, [DMC], 0.08, [1.0])
    assert r.salt_molality_mol_kg == pytest.approx(0.08 * 1000 / (0.84 * 90.08), rel=2e-4)
    assert r.version == 1


@pytest.mark.parametrize("change,match", [
    ({"solvent_ratio": [0.5]}, "1 numbers for 2 solvents"),
    ({"solvent_ratio": [0.5, 0.6]}, "sum to 1"),
    ({"salt_cation_fraction": 0.0}, "greater than 0"),
    ({"version": 2}, "version"),
    ({"z": [0.5, 0.5, 0.08]}, "Extra inputs are not permitted"),
])
def test_recipe_refuses_what_a_robot_cannot_make(change, match):
    good = Recipe.make(LIPF6, [EC, DMC], 0.08, [0.3, 0.7]).model_dump()
    with pytest.raises(ValidationError, match=match):
        Recipe.model_validate({**good, **change})


def test_a_served_recipe_parses_back_unchanged():
    r = Recipe.make(LIPF6, [EC, DMC], 0.08, [0.3, 0.7], {"x": 1.0})
    assert Recipe.model_validate_json(r.model_dump_json()) == r


@pytest.mark.parametrize("change,match", [
    ({"conductivity_mS_cm": 1.0}, "does not equal 1000·K/R"),
    ({"measured_composition": {"[Li+]": 0.4, "X": 0.4}}, "summing to 1"),
    ({"spectrum": {"frequency_Hz": [1.0], "z_real_ohm": [1.0, 2.0], "z_imag_ohm": [0.0]}}, "same length"),
    ({"method": "guess"}, "method"),
    ({"version": 2}, "version"),
])
def test_result_refuses_an_inconsistent_measurement(change, match):
    Result.model_validate(result_body())  # the unchanged body is good
    with pytest.raises(ValidationError, match=match):
        Result.model_validate(result_body(**change))


def test_openapi_documents_the_contract(tmp_path, tiny_models_dir):
    from db.migrate import upgrade
    from diffmix.settings import Settings
    from service.app import create_app

    url = f"sqlite:///{tmp_path / 'o.db'}"
    upgrade(url)
    schema = create_app(Settings(database_url=url, models_dir=tiny_models_dir)).openapi()
    parts = schema["components"]["schemas"]
    assert parts["ExperimentOut"]["properties"]["recipe"] == {"$ref": "#/components/schemas/Recipe"}
    body = schema["paths"]["/v1/experiments/{experiment_id}/result"]["post"]["requestBody"]
    assert body["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Result"}
    assert "z" not in parts["Recipe"]["properties"] and "version" in parts["Result"]["properties"]


@pytest.mark.parametrize("change,match", [
    ({"spectrum": {"frequency_Hz": [0.0, 1e4], "z_real_ohm": [1.0, 2.0], "z_imag_ohm": [0.0, 0.0]}}, "greater than 0"),
    ({"spectrum": {"frequency_Hz": [-5.0, 1e4], "z_real_ohm": [1.0, 2.0], "z_imag_ohm": [0.0, 0.0]}}, "greater than 0"),
    ({"started_at": "2026-12-01T10:00:00Z", "finished_at": "2026-12-01T09:00:00Z"}, "is after finished_at"),
    ({"started_at": "2026-12-01T10:00:00"}, "timezone"),
    ({"resistance_ohm": True}, "valid number"),
    ({"temperature_K": "303.15"}, "valid number"),
    ({"spectrum": {"frequency_Hz": [1e5], "z_real_ohm": [1.0], "z_imag_ohm": [0.0],
                   "sweeps": [{"purpose": "wide", "frequency_Hz": [1.0], "z_real_ohm": [float("nan")],
                               "z_imag_ohm": [0.0]}]}}, "finite number"),
    ({"spectrum": {"frequency_Hz": [1e5], "z_real_ohm": [1.0], "z_imag_ohm": [0.0], "sweeps": [{"deep": [[[[1]]]]}]}},
     "Extra inputs are not permitted"),
    ({"measured_composition": {"[Li+]": float("nan"), "X": 0.5}}, "finite number"),
    ({"quality_flags": ["bad\x00flag"]}, "NUL"),
    ({"instrument_ids": {"pump": "\ud800"}}, "surrogate"),
])
def test_result_refuses_meaningless_values(change, match):
    with pytest.raises(ValidationError, match=match):
        Result.model_validate(result_body(**change))


def test_limits_name_what_is_implausible():
    from model.contract import Limits

    limits = Limits()
    assert limits.check("resistance_ohm", 1e308) and limits.check("cell_constant_per_cm", 1.3e306)
    assert limits.check("resistance_ohm", 100.0) is None and limits.check("cell_constant_per_cm", 1.12) is None
