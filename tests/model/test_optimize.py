import json

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from diffmix.cli import app
from model.chem import canonical
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.nn.models import build
from model.optimize import landscape
from model.optimize.ascent import ascend
from model.optimize.design import DesignSpec
from model.optimize.problem import optimise, result_json
from model.optimize.proposals import propose
from model.optimize.simplex import grid, project
from model.optimize.space import CompositionSpace
from model.properties import get_property

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
PC, EC, DMC, EMC = "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC", "CCOC(=O)OC"


@st.composite
def bounded_problem(draw):
    n = draw(st.integers(2, 6))
    lo = np.array(draw(st.lists(st.floats(0, 0.3), min_size=n, max_size=n)))
    if lo.sum() > 0.9:
        lo = lo * 0.9 / lo.sum()
    hi = np.array([draw(st.floats(float(a), 1.0)) for a in lo])
    if hi.sum() < 1:
        hi = np.minimum(1.0, hi + (1 - hi.sum()) / n + 1e-3)
    v = np.array(draw(st.lists(st.floats(-3, 3), min_size=n, max_size=n)))
    return v, lo, hi


@settings(max_examples=200, deadline=None)
@given(bounded_problem(), st.integers(0, 2**31 - 1))
def test_projection_is_feasible_and_closest(problem, seed):
    v, lo, hi = problem
    p = project(v[None], lo, hi)[0]
    assert abs(p.sum() - 1) <= 1e-9
    assert np.all(p >= lo - 1e-12) and np.all(p <= hi + 1e-12)
    rng = np.random.default_rng(seed)  # no other feasible point is closer
    q = project(rng.normal(size=(50, len(v))), lo, hi)
    assert np.all(np.linalg.norm(q - v, axis=1) >= np.linalg.norm(p - v) - 1e-9)


class Concave:
    """f(s) = −‖s − target‖² on the solvent simplex (salt fixed): its maximum is the projection of target."""

    def __init__(self, space, target):
        self.space, self.target, self.calls = space, np.asarray(target, float), 0

    def evaluate(self, z, gradient=True):
        z = np.atleast_2d(z)
        self.calls += len(z)
        n = len(self.space.solvents)
        d = z[:, :n] - self.target
        g = np.zeros_like(z)
        g[:, :n] = -2 * d
        f = -(d**2).sum(1)
        return f, f, np.zeros(len(z)), g


def space3(**kw):
    return CompositionSpace(LIPF6, [PC, EC, DMC], (0.08, 0.08), **kw)


@pytest.mark.parametrize("target", [[0.2, 0.3, 0.5], [0.0, 0.7, 0.3], [1.4, -0.2, -0.2]])
def test_converges_to_known_maximum_of_concave_function(target):
    space = space3()
    obj = Concave(space, target)
    res = ascend(obj, space.random_points(4, np.random.default_rng(1)), tol=1e-10, max_iter=500, min_gain=0.0)
    expected = project(np.array([target]), np.zeros(3), np.ones(3))[0]
    for t in res.trajectories:
        assert np.allclose(t.points[-1][:3], expected, atol=1e-6)
        assert t.converged


@settings(max_examples=40, deadline=None)
@given(bounded_problem(), st.integers(0, 10_000))
def test_every_point_feasible_and_values_non_decreasing(problem, seed):
    target, lo, hi = problem
    n = len(lo)
    assume(np.sum(hi > lo) >= 2)
    solvents = [PC, EC, DMC, EMC, "CCOC(=O)OCC", "COCCOC"][:n]
    space = CompositionSpace(LIPF6, solvents, (0.05, 0.1), lo, hi)
    obj = Concave(space, target)
    rng = np.random.default_rng(seed)
    res = ascend(obj, rng.normal(size=(3, n + 1)), max_iter=60)  # arbitrary (infeasible) starts get projected
    for t in res.trajectories:
        pts = np.array(t.points)
        assert np.all(space.is_feasible(pts, tol=1e-9))
        assert np.all(np.diff(t.scores) >= 0)


def tiny_ensemble(seed=0, members=2) -> Ensemble:
    prop = get_property("ionic_conductivity")
    ms = []
    for k in range(members):
        torch.manual_seed(seed + k)
        ms.append(build("diffmix", "vft", log_scale=True, hidden=16, gnn_layers=2))
    return Ensemble(ms, prop, "diffmix", {"hidden": 16, "gnn_layers": 2})


def build_objective(ensemble, salt, solvents, **options):
    return DesignSpec.from_options(salt=salt, solvents=solvents, **options).objective_for(ensemble)


def test_gradient_ascent_agrees_with_brute_force_grid():
    obj = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    land = landscape.ternary(obj, steps=100)
    assert len(land.value) == 5151
    res = optimise(obj, starts=4, start_mode="spread")
    assert res.best_value >= land.value.max() * (1 - 0.005)


def test_salt_curve_and_gradient_sign():
    obj = build_objective(tiny_ensemble(), LIPF6, [DMC, EC], salt_fraction_range=(0.01, 0.2),
                          solvent_ratio=[0.7, 0.3], temperature_K=303.15)
    land = landscape.salt_curve(obj, points=50)
    # the curve's derivative agrees with finite differences of the curve itself
    fd = np.gradient(land.value, land.z[:, -1])
    assert np.allclose(land.gradient[1:-1, -1], fd[1:-1], rtol=0.05, atol=1e-3 * np.abs(land.value).max())


def test_deterministic_for_a_seed():
    obj1 = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    obj2 = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    a = result_json(obj1, optimise(obj1, 4, "random", seed=7))
    b = result_json(obj2, optimise(obj2, 4, "random", seed=7))
    assert json.dumps(a) == json.dumps(b)


def test_temperature_range_worst_case_is_below_each_temperature():
    ens = tiny_ensemble()
    worst = build_objective(ens, LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_range_K=(253.15, 333.15))
    z = worst.space.spread_points(3)
    _, v_worst, _, _ = worst.evaluate(z, gradient=False)
    for t in worst.temperatures_K:
        single = build_objective(ens, LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=t)
        # float32 model: the same mixture may differ in its last bits with the batch it is computed in
        v_single = single.evaluate(z, gradient=False)[1]
        assert np.all(v_worst <= v_single + 1e-6 * np.abs(v_single))


def test_fractions_sum_to_one_and_salt_key():
    obj = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    out = result_json(obj, optimise(obj, 2, "spread"))
    for t in out["trajectories"]:
        for p in t["points"]:
            assert abs(sum(p["fractions"].values()) - 1) < 1e-9
            assert p["fractions"][LIPF6] == pytest.approx(0.08)


def test_molality_round_trip():
    space = CompositionSpace(LIPF6, [DMC, EC], (0.01, 0.2), solvent_ratio=np.array([0.7, 0.3]))
    by_molality = CompositionSpace(LIPF6, [DMC, EC], (0.5, 2.0), solvent_ratio=np.array([0.7, 0.3]), salt_basis="molality")
    z = by_molality.project(np.array([[0.7, 0.3, 1.0]]))
    f = float(by_molality.cation_fraction(torch.as_tensor(z))[0, 0])
    assert space.molality(np.array([[0.7, 0.3, f]]))[0] == pytest.approx(1.0)
    assert by_molality.molality(z)[0] == 1.0
    assert by_molality.species_dict(z[0]) == pytest.approx(space.species_dict(np.array([0.7, 0.3, f])))


def test_mass_basis_and_molality_are_what_a_lab_weighs():
    """1 mol/kg LiPF6 in EC:DMC 30:70 by mass: the species fractions follow from the masses a lab weighs, the
    round trip through a measured composition returns the point, and the recipe the robot gets says the same."""
    from model.chem import species as sp

    space = CompositionSpace(LIPF6, [EC, DMC], (0.5, 1.5), solvent_basis="mass", salt_basis="molality")
    z = np.array([0.3, 0.7, 1.0])
    m_ec, m_dmc = 0.3 / sp(EC).molar_mass, 0.7 / sp(DMC).molar_mass  # mol in 1 g of blend
    n_salt = 1.0e-3  # mol of salt per g of blend
    total = m_ec + m_dmc + 2 * n_salt
    x = space.species_dict(z)
    assert x[canonical(EC)] == pytest.approx(m_ec / total) and x[canonical(DMC)] == pytest.approx(m_dmc / total)
    assert x[canonical("[Li+]")] == pytest.approx(n_salt / total)
    assert np.allclose(space.point_of(x), z)
    assert np.allclose(space.mass_fractions(z), [[0.3, 0.7]])
    recipe = space.recipe(z)
    assert recipe.salt_molality_mol_kg == pytest.approx(1.0)
    assert recipe.solvent_ratio == pytest.approx([m_ec / (m_ec + m_dmc), m_dmc / (m_ec + m_dmc)])


def test_gradients_are_in_the_labs_units():
    """d/d(mass share) and d/d(molality) agree with finite differences of the objective in those units."""
    obj = build_objective(tiny_ensemble().to(torch.float64), LIPF6, [PC, EC, DMC], salt_molality_range=(0.5, 1.5),
                          bounds_basis="mass", temperature_K=298.15)
    z = np.array([[0.2, 0.3, 0.5, 1.1]])
    _, v, _, g = obj.evaluate(z, gradient=True)
    for i, h in ((1, 1e-6), (3, 1e-6)):
        zp, zm = z.copy(), z.copy()
        zp[0, i] += h
        zm[0, i] -= h
        _, vp, _, _ = obj.evaluate(zp, gradient=False)
        _, vm, _, _ = obj.evaluate(zm, gradient=False)
        assert g[0, i] == pytest.approx((vp[0] - vm[0]) / (2 * h), rel=1e-5, abs=1e-9)


def test_mass_bounds_hold_in_mass():
    obj = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_molality=1.0, bounds_basis="mass",
                          lower=[0, 0.2, 0], upper=[0.1, 1, 1], temperature_K=298.15)
    for strategy in ("random", "gradient"):
        props = propose(obj, 4, seed=2, strategy=strategy)
        assert len(props) == 4
        for p in props:
            w = obj.space.mass_fractions(p.z)[0]
            assert w[0] <= 0.1 + 1e-9 and w[1] >= 0.2 - 1e-9 and abs(w.sum() - 1) < 1e-9
            assert p.experiment(obj)["recipe"]["salt_molality_mol_kg"] == pytest.approx(1.0)
            assert set(p.experiment(obj)["gradient"]) == {PC, EC, DMC, "salt_molality"}


@pytest.mark.parametrize("kw,match", [
    (dict(lower=[0.5, 0.5, 0.5]), r"lower bounds \(mole fraction of the solvent blend\) sum"),
    (dict(upper=[0.2, 0.2, 0.2]), r"upper bounds .* sum"),
    (dict(exclude=[PC, EC]), "free components"),
    (dict(salt_fraction=0.6), "leave room"),
    (dict(bounds_basis="mass", lower=[0.5, 0.5, 0.5]), r"^space: .*lower bounds \(mass fraction of the solvent blend\)"),
    (dict(bounds_basis="mass", lower=[0.3, 0, 0], upper=[0.2, 1, 1]), r"\(mass fraction of the solvent blend\) must satisfy"),
])
def test_clear_errors(kw, match):
    args = dict(salt_fraction=0.08, temperature_K=303.15)
    args.update(kw)
    with pytest.raises(DiffMixInputError, match=match):
        build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], **args)


def test_unknown_smiles_is_a_clear_cli_error(tmp_path):
    tiny_ensemble().save(tmp_path / "m")
    r = CliRunner().invoke(app, ["optimize", "--model", str(tmp_path / "m"), "--salt", LIPF6, "--salt-fraction", "0.08",
                                 "--solvents", f"{PC},C1CC,{DMC}", "--temperature-K", "303.15"])
    assert r.exit_code == 2 and "invalid SMILES 'C1CC'" in r.output


def test_optimize_cli_json_and_plot(tmp_path):
    tiny_ensemble().save(tmp_path / "m")
    r = CliRunner().invoke(app, ["optimize", "--model", str(tmp_path / "m"), "--property", "ionic_conductivity",
                                 "--salt", LIPF6, "--salt-fraction", "0.08", "--solvents", f"{PC},{EC},{DMC}",
                                 "--temperature-K", "303.15", "--starts", "4", "--seed", "3", "--json",
                                 "--plot", str(tmp_path / "p.png")])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert len(out["trajectories"]) == 4 and set(out["best"]) >= {"fractions", "value", "std"}
    assert (tmp_path / "p.png").stat().st_size > 10_000
    r = CliRunner().invoke(app, ["landscape", "--model", str(tmp_path / "m"), "--salt", LIPF6,
                                 "--salt-fraction-range", "0.01", "0.2", "--solvents", f"{DMC},{EC}",
                                 "--solvent-ratio", "0.7,0.3", "--temperature-K", "303.15",
                                 "--csv", str(tmp_path / "l.csv"), "--plot", str(tmp_path / "l.png")])
    assert r.exit_code == 0, r.output
    assert len((tmp_path / "l.csv").read_text().splitlines()) == 201


def test_grid_has_5151_points():
    g = grid(100)
    assert g.shape == (5151, 3) and np.allclose(g.sum(1), 1)


def test_proposals_snap_traces_to_zero_and_stay_feasible():
    from model.optimize.proposals import propose

    obj = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    props = propose(obj, 4, seed=1, resolution=0.01)
    assert len(props) == 4
    for p in props:
        s = p.z[:3]
        assert np.all((s == 0) | (s >= 0.01 - 1e-12)) and abs(s.sum() - 1) < 1e-12
        _, v, _, _ = obj.evaluate(p.z[None], gradient=False)
        assert p.value == pytest.approx(v[0])  # the prediction stored is the one at the snapped point


SPEC = dict(salt=LIPF6, solvents=[PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)


def test_design_spec_round_trips_through_json_and_is_frozen():
    spec = DesignSpec.from_options(**SPEC, lower=[0, 0.1, 0], beta=0.5)
    stored = json.loads(spec.model_dump_json())
    assert stored["version"] == 1 and stored["space"]["lower"] == [0, 0.1, 0] and stored["objective"]["beta"] == 0.5
    assert DesignSpec.parse(stored) == spec
    with pytest.raises(Exception, match="frozen"):
        spec.space.salt = "[Na+].[Cl-]"


@pytest.mark.parametrize("change,match", [
    (dict(salt_molality=1.0), "exactly one of salt_fraction"),
    (dict(temperature_range_K=(280.0, 300.0)), "either temperature_K or temperature_range_K"),
    (dict(lower=[0.1, 0.1]), "one lower value per solvent"),
    (dict(exclude=["CCO"]), "not among the solvents"),
    (dict(salt_fraction=None, salt_molality_range=(0.5, 30.0)), r"salt_molality_range.*mol/kg"),
    (dict(salt_fraction=None, salt_molality=25.0), r"space.salt_molality"),
    (dict(bounds_basis="weight"), r"space.bounds_basis"),
    (dict(aggregate="median"), "objective.aggregate"),
    (dict(beta=-1.0), "objective.beta"),
])
def test_design_spec_names_the_wrong_field(change, match):
    with pytest.raises(DiffMixInputError, match=match):
        DesignSpec.from_options(**{**SPEC, **change})


def test_an_unknown_field_is_refused_not_ignored():
    data = json.loads(DesignSpec.from_options(**SPEC).model_dump_json())
    data["space"]["salt_fractoin"] = 0.1
    with pytest.raises(DiffMixInputError, match="salt_fractoin"):
        DesignSpec.parse(data)


def test_every_field_of_the_design_is_a_cli_option():
    from model.optimize.cli import SPACE_OPTIONS

    assert set(SPACE_OPTIONS) == set(DesignSpec.option_fields()) | {"model"}


def test_a_fixed_molality_with_a_fixed_ratio_leaves_nothing_to_optimise():
    # a fixed molality fixes the salt, and it needs a fixed solvent ratio to be converted: both parts are fixed
    spec = DesignSpec.from_options(salt=LIPF6, solvents=[DMC, EC], salt_molality=1.0, solvent_ratio=[0.7, 0.3],
                                   temperature_K=298.15)
    with pytest.raises(DiffMixInputError, match="nothing to optimise"):
        spec.space.composition_space()


def _captured_figure(monkeypatch):
    """Keep the figure a plot function closes, to look at what it drew."""
    import matplotlib.pyplot as plt

    figs = []
    real = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: figs.append(fig) or real(fig))
    return figs


def test_ternary_arrows_point_the_way_each_share_grows_and_measured_points_share_the_colour_scale(tmp_path, monkeypatch):
    from model.optimize import plots

    figs = _captured_figure(monkeypatch)
    obj = build_objective(tiny_ensemble(), LIPF6, [PC, EC, DMC], salt_fraction=0.08, temperature_K=303.15)
    land = landscape.ternary(obj, steps=20)
    measured = np.array([[0.2, 0.3, 0.5], [0.1, 0.6, 0.3]])
    values = np.array([land.value.min() - 1.0, land.value.max()])
    plots.ternary_plot(land, obj.space, "mS/cm", "ionic_conductivity", 303.15, tmp_path / "t.png",
                       measured=measured, measured_values=values)
    ax = figs[0].axes[0]
    texts = {t.get_text(): t.get_rotation() for t in ax.texts}
    # the top corner (DMC) is reached going up the right edge: that edge's text, rotated −60°, must say '←' (up-left)
    assert texts["← mole share of DMC"] == pytest.approx(300) and texts["mole share of EC →"] == 0
    assert texts["← mole share of PC"] == pytest.approx(60)  # down-left, toward the PC corner
    dots = next(c for c in ax.collections if c.get_label().startswith("measured"))
    assert np.allclose(dots.get_facecolors(), dots.cmap(dots.norm(values)))
    contour_norm = [c for c in ax.collections if c is not dots][0].norm
    assert dots.norm.vmin == contour_norm.vmin == pytest.approx(values[0])  # one scale for both


def test_salt_scan_shows_the_other_salt_unit_and_labels_its_band(tmp_path, monkeypatch):
    from model.optimize import plots

    figs = _captured_figure(monkeypatch)
    obj = build_objective(tiny_ensemble(), LIPF6, [EC, DMC], salt_fraction_range=(0.02, 0.12),
                          solvent_ratio=(0.5, 0.5), temperature_K=303.15)
    plots.salt_plot(landscape.salt_curve(obj, points=30), obj.space, "mS/cm", "ionic_conductivity", 303.15,
                    tmp_path / "s.png")
    ax = figs[0].axes[0]
    (top,) = ax.child_axes
    assert "molality (mol/kg" in top.get_xlabel()
    assert "±1σ (ensemble spread)" in [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("salt, message", [
    ({"salt_fraction": 8}, "8 is not a cation mole fraction: give a fraction between 0 and 1 (8 % is 0.08)"),
    ({"salt_fraction_range": [3, 12]}, "a fraction, not a percentage: 8 % is 0.08"),
])
def test_a_salt_fraction_given_as_a_percentage_says_so(salt, message):
    from model.optimize.design import DesignSpec

    with pytest.raises(Exception, match=message.replace("(", "\\(").replace(")", "\\)")):
        DesignSpec.parse({"space": {"salt": "LiPF6", "solvents": ["EC", "DMC"], **salt}, "temperature_K": 298.15})
