"""The simulated lab's ground truth: the builtin physics, its perturbations, and plug-in functions."""

import math

import pytest

from robot import lab as labmod
from robot.errors import RecipeError
from robot.sim.electrolyte import conductivity_mS_cm
from robot.sim.truth import TruthError, from_table
from robot.sim.world import Fluid, World

LIPF6, EC, DMC, EMC, DEC = "[Li+].F[P-](F)(F)(F)(F)F", "O=C1OCCO1", "COC(=O)OC", "CCOC(=O)OC", "CCOC(=O)OCC"
LAB = "robot/labs/sim.toml"


def test_the_builtin_truth_is_the_calibrated_physics_and_its_perturbations_move_it():
    base = from_table(None)
    blend = {EC: 0.3, DMC: 0.7}
    assert base.kappa(blend, LIPF6, 1.0, 298.15) == pytest.approx(float(conductivity_mS_cm(blend, 1.0, 298.15)))
    paired = from_table({"pairing_scale": 1.3})
    assert paired.kappa(blend, LIPF6, 1.0, 298.15) < base.kappa(blend, LIPF6, 1.0, 298.15)
    thick = from_table({"viscosity_scale": {DMC: 1.5}})
    assert thick.kappa(blend, LIPF6, 1.0, 298.15) < base.kappa(blend, LIPF6, 1.0, 298.15)
    assert thick.kappa({EC: 1.0}, LIPF6, 1.0, 313.15) == pytest.approx(base.kappa({EC: 1.0}, LIPF6, 1.0, 313.15))


@pytest.mark.parametrize("solvent", [DMC, EMC, DEC])
def test_lipf6_in_a_linear_carbonate_alone_conducts_a_few_mS_cm(solvent):
    # published: a few mS/cm at 1 mol/kg, 25 °C (the unscreened pairing law gave ≈0.01)
    assert 2.0 < from_table(None).kappa({solvent: 1.0}, LIPF6, 1.0, 298.15) < 10.0


def test_a_plugin_truth_is_called_with_the_documented_arguments():
    t = from_table({"function": "tests.robot.truths:linear", "instrument_bias": 0.9, "noise": 0.01})
    assert t.kappa({DMC: 0.5, EC: 0.5}, LIPF6, 1.0, 298.15) == pytest.approx(7.0)
    assert (t.instrument_bias, t.noise) == (0.9, 0.01)


@pytest.mark.parametrize("table, message", [
    ({"function": "tests.robot.no_such_module:f"}, "cannot be imported"),
    ({"function": "tests.robot.truths:missing"}, "cannot be imported"),
    ({"function": "tests.robot.truths"}, "package.module:attr"),
    ({"function": "tests.robot.truths:two_arguments"}, "cannot be called as f(solvent_mass_fractions"),
    ({"model": "dragonfly"}, "only model"),
    ({"function": "tests.robot.truths:linear", "pairing_scale": 2.0}, "not both"),
    ({"pairing_scale": 50.0}, "0.2–5"),
    ({"instrument_bias": 0.0}, "instrument_bias"),
    ({"typo": 1}, "unknown keys"),
])
def test_a_bad_truth_is_refused_when_the_lab_file_is_loaded(tmp_path, table, message):
    with pytest.raises(RecipeError, match=message.replace("(", r"\(")):
        from_table(table)
    text = open(LAB).read() + "\n[truth]\n" + "\n".join(f"{k} = {_toml(v)}" for k, v in table.items()) + "\n"
    (tmp_path / "lab.toml").write_text(text)
    with pytest.raises(RecipeError, match="lab file"):
        labmod.load(tmp_path / "lab.toml")


def _toml(v):
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f'"{k}" = {x}' for k, x in v.items()) + " }"
    return repr(v)


@pytest.mark.parametrize("ref, message", [("tests.robot.truths:broken", "ZeroDivisionError: no κ"),
                                          ("tests.robot.truths:not_a_number", "nan")])
def test_a_truth_without_a_value_is_an_error_never_a_number(ref, message):
    t = from_table({"function": ref})
    with pytest.raises(TruthError, match=message):
        t.kappa({DMC: 1.0}, LIPF6, 1.0, 298.15)
    world = World(truth=t)
    world.reservoirs[1] = Fluid({DMC: 1.0}, 1.0)
    world.deliver(1, 1000.0)
    world.fill_cell()
    assert world.cell_conductivity_mS_cm() is None and message.split(":")[0] in world.truth_error
    z = world.impedance([1e5])
    assert abs(z[0]) > 1e4  # an open cell (a 10 mS/cm sample reads about 100 Ω): no conductivity is made up


def test_the_instrument_reads_the_truth_times_its_bias_and_the_thermostat_follows_the_plan():
    world = World(truth=from_table({"function": "tests.robot.truths:linear", "instrument_bias": 0.8}), settle_s=0.01)
    world.reservoirs[1] = Fluid({DMC: 1.0}, 1.0)
    world.deliver(1, 1000.0)
    world.fill_cell()
    assert world.cell_conductivity_mS_cm() == pytest.approx(0.8 * 12.0)
    world.set_temperature(283.15)
    import time

    time.sleep(0.2)
    t = world.read_reference_temperature_K()
    assert abs(t - 283.15) < 0.2 and not math.isclose(world.temperature_K, 283.15, abs_tol=1e-9)


def test_a_relocating_feature_raises_the_truth_where_it_is_centred_and_leaves_it_far_away():
    base = from_table({"pairing_scale": 1.1})
    feature = {"kind": "relocate", "center": {EC: 0.2, DMC: 0.8}, "molality": 1.8, "width": 0.2, "height": 0.5}
    moved = from_table({"pairing_scale": 1.1, "feature": feature})
    at = ({EC: 0.2, DMC: 0.8}, LIPF6, 1.8, 298.15)
    assert moved.kappa(*at) == pytest.approx(1.5 * base.kappa(*at))
    far = ({EC: 1.0}, LIPF6, 0.5, 298.15)
    assert moved.kappa(*far) == pytest.approx(base.kappa(*far), rel=1e-6)
    assert "relocate feature" in moved.description


def test_a_bump_is_a_narrow_peak_on_a_flat_floor():
    bump = from_table({"feature": {"kind": "bump", "center": {EC: 0.5, DMC: 0.5}, "molality": 1.0, "width": 0.1,
                                   "peak_mS_cm": 12.0, "floor_mS_cm": 4.0}})
    assert bump.kappa({EC: 0.5, DMC: 0.5}, LIPF6, 1.0, 298.15) == pytest.approx(12.0)
    assert bump.kappa({EC: 0.9, DMC: 0.1}, LIPF6, 1.0, 298.15) == pytest.approx(4.0, abs=1e-3)
    assert bump.kappa({EC: 0.1, EMC: 0.9}, LIPF6, 0.3, 320.0) == pytest.approx(4.0, abs=1e-3)  # flat: nothing else


def test_outliers_read_low_at_their_rate():
    import numpy as np

    t = from_table({"noise": 0.0, "outlier_rate": 0.2, "outlier_factor": 0.7, "instrument_bias": 0.9})
    rng = np.random.default_rng(0)
    factors = np.array([t.reading_factor(rng) for _ in range(2000)])
    assert set(np.round(factors, 9)) == {0.9, 0.63}
    assert 0.17 < np.mean(factors < 0.8) < 0.23
    # the serial world reads the cell through the same factor
    world = World(truth=from_table({"outlier_rate": 0.5, "outlier_factor": 0.7}), seed=1)
    world.fill_cell()
    assert world.reading_factor in (1.0, 0.7)


@pytest.mark.parametrize("table, message", [
    ({"outlier_rate": 0.9}, "outlier_rate = 0.9 must be within 0–0.5"),
    ({"feature": {"kind": "hill"}}, "kind = 'hill': choose one of relocate, bump"),
    ({"feature": {"kind": "bump", "center": {EC: 1.0}, "molality": 1.0, "width": 0.2, "peak_mS_cm": 5}},
     "needs floor_mS_cm"),
    ({"feature": {"kind": "bump", "center": {EC: 1.0}, "molality": 1.0, "width": 0.2, "peak_mS_cm": 5,
                  "floor_mS_cm": 6}}, "needs 0 ≤ floor_mS_cm < peak_mS_cm"),
    ({"feature": {"kind": "relocate", "center": {EC: 0.5}, "molality": 1.0, "width": 0.2, "height": 1}},
     "must be ≥ 0 and sum to 1"),
    ({"feature": {"kind": "relocate", "center": {EC: 1.0}, "width": 0.2, "height": 1}}, "needs molality"),
    ({"feature": {"kind": "relocate", "center": {EC: 1.0}, "molality": 1, "width": 0.2, "height": 1, "peak_mS_cm": 3}},
     "unknown keys \\['peak_mS_cm'\\]"),
])
def test_a_bad_feature_or_outlier_setting_is_refused_and_named(table, message):
    with pytest.raises(RecipeError, match=message):
        from_table(table)
