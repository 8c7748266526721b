import math
from dataclasses import asdict

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from model import laws
from model.data.dataset import Batcher, MoleculeSet
from model.ensemble import Ensemble
from model.mixture import Mixture
from model.nn.models import build
from model.properties import CONDUCTIVITY_MIN_T_K, VOGEL_T_MAX_K, get_property
from model.splits import make_split
from model.train import TrainConfig, fit_member, hyperparameters, loss_fn, offset_log, predict_rows, resolve_config
from tests.helpers import IONS, SOLVENTS, synthetic_conductivity_table, synthetic_excess_table

VOCAB = SOLVENTS + IONS
MOLS = MoleculeSet(VOCAB)


def make(kind, prop="excess_molar_enthalpy", **kw):
    p = get_property(prop)
    torch.manual_seed(0)
    return build(kind, p.law, log_scale=p.log_scale, target_scale=500.0, **kw).double().eval()


def random_batch(seed, c, b=5):
    g = torch.Generator().manual_seed(seed)
    idx = torch.stack([torch.randperm(len(VOCAB), generator=g)[:c] for _ in range(b)])
    x = torch.rand(b, c, generator=g, dtype=torch.float64) + 0.01
    x = x / x.sum(1, keepdim=True)
    t = 200 + 250 * torch.rand(b, generator=g, dtype=torch.float64)
    p = torch.full((b,), 101.325, dtype=torch.float64)
    return idx, x, t, p


INVARIANT = [("diffmix", "excess_molar_enthalpy"), ("diffmix", "ionic_conductivity"),
             ("gnn_only", "excess_molar_volume"), ("linear_mixing", "excess_molar_enthalpy")]
CARRIERS = {"carrier_density": True}
NO_PAIRS = {"pair_pool": False}
NERNST_EINSTEIN = {"prefactor_power": 1.0}
BLEND = {"blend_order": 2}
NO_SOLVENT_PAIRS = {"solvent_pairs": False}
LIKE_PAIRS = {"like_pairs": True}
FROM_BINARIES = {"binary_blend": True, "like_pairs": True}
WALDEN = {"walden": 1.0, "like_pairs": True}
SOLVENT_TERMS = {"walden": 1.0, "permittivity": True, "like_pairs": True}


@pytest.mark.parametrize("kind,prop,kw", [(k, p, {}) for k, p in INVARIANT] + [("diffmix", "ionic_conductivity", CARRIERS),
                                                             ("diffmix", "ionic_conductivity", NO_PAIRS),
                                                             ("diffmix", "ionic_conductivity", NERNST_EINSTEIN),
                                                             ("diffmix", "ionic_conductivity", BLEND),
                                                             ("diffmix", "ionic_conductivity", NO_SOLVENT_PAIRS),
                                                             ("diffmix", "ionic_conductivity", LIKE_PAIRS),
                                                             ("diffmix", "ionic_conductivity", FROM_BINARIES),
                                                             ("diffmix", "ionic_conductivity", WALDEN),
                                                             ("diffmix", "ionic_conductivity", SOLVENT_TERMS)])
@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.integers(2, 6))
def test_permutation_invariance(kind, prop, kw, seed, c):
    m = make(kind, prop, **kw)
    idx, x, t, p = random_batch(seed, c)
    perm = torch.randperm(c, generator=torch.Generator().manual_seed(seed + 1))
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        a = m.mix(emb, idx, x, t, p)
        b = m.mix(emb, idx[:, perm], x[:, perm], t, p)
    assert torch.allclose(a, b, rtol=1e-10, atol=1e-10)


def test_empty_slots_change_nothing():
    m = make("diffmix")
    idx, x, t, p = random_batch(3, 3)
    pad_idx = torch.cat([idx, torch.full((idx.shape[0], 2), -1)], dim=1)
    pad_x = torch.cat([x, torch.zeros(x.shape[0], 2, dtype=x.dtype)], dim=1)
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        assert torch.allclose(m.mix(emb, idx, x, t, p), m.mix(emb, pad_idx, pad_x, t, p))


def test_fingerprint_model_is_not_permutation_invariant():
    m = make("fingerprint", max_components=2)
    idx, x, t, p = random_batch(1, 2)
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        a = m.mix(emb, idx, x, t, p)
        b = m.mix(emb, idx.flip(1), x.flip(1), t, p)
    assert not torch.allclose(a, b)


@pytest.mark.parametrize("order", [0, 4, 9, 14])
def test_rk_coefficients_have_parity_and_pure_components_have_zero_excess(order):
    m = make("diffmix", order=order)
    idx, x, t, p = random_batch(7, 3)
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        g1 = m.coefficients(emb, idx, x, t, p)
        for k in range(order + 1):
            assert torch.allclose(g1[..., k].transpose(1, 2), (-1) ** k * g1[..., k])
        pure = torch.zeros_like(x)
        pure[:, 0] = 1.0
        assert torch.all(m.mix(emb, idx, pure, t, p) == 0)


@pytest.mark.parametrize("kw", [{}, CARRIERS, FROM_BINARIES])
@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), c=st.integers(2, 6), scale=st.floats(-50, 50))
def test_vft_constraints_hold_for_any_input(kw, seed, c, scale):
    m = make("diffmix", "ionic_conductivity", **kw)
    with torch.no_grad():
        for prm in m.coeff.parameters():
            prm.mul_(scale)  # push the network anywhere: the constraints must still hold
        idx, x, t, p = random_batch(seed, c)
        t = torch.full_like(t, CONDUCTIVITY_MIN_T_K)  # the lowest temperature the conductivity model accepts
        log_a, b, t0 = m.vft_coefficients(m.encode(MOLS).double(), idx, x, t, p)
        kappa = m.mix(m.encode(MOLS).double(), idx, x, t, p)
    # T0 ≤ VOGEL_T_MAX_K (sigmoid may saturate to exactly 1 in floating point), so strictly below T
    assert torch.all(b >= 0) and torch.all(t0 >= 0) and torch.all(t0 <= VOGEL_T_MAX_K) and torch.all(t0 < t)
    assert torch.all(kappa >= 0) and torch.all(torch.isfinite(log_a))


@pytest.mark.parametrize("prop,kw", [("excess_molar_enthalpy", {}), ("ionic_conductivity", {}),
                                     ("ionic_conductivity", CARRIERS), ("ionic_conductivity", BLEND),
                                     ("ionic_conductivity", FROM_BINARIES)])
def test_composition_gradient_matches_finite_differences(prop, kw):
    m = make("diffmix", prop, **kw)
    ens = Ensemble([m, make("diffmix", prop, **kw)], get_property(prop), "diffmix", {})
    ens.to(torch.float64)
    if prop == "ionic_conductivity":
        mix = Mixture(tuple(sorted([IONS[0], IONS[1], SOLVENTS[0], SOLVENTS[1], SOLVENTS[2]])),
                      (0.3, 0.06, 0.5, 0.06, 0.08), 300.0)  # sorted, so the ions are not last
    else:
        mix = Mixture((SOLVENTS[1], SOLVENTS[0]), (0.35, 0.65), 300.0)
    pred = ens.predict([mix], gradient=True)
    h = 1e-6
    for i, s in enumerate(mix.species):
        up, dn = list(mix.x), list(mix.x)
        up[i] += h
        dn[i] -= h
        f_up = ens.predict([Mixture(mix.species, tuple(up), 300.0)]).mean[0]
        f_dn = ens.predict([Mixture(mix.species, tuple(dn), 300.0)]).mean[0]
        assert pred.gradient[0][s] == pytest.approx((f_up - f_dn) / (2 * h), rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("kind", ["diffmix", "gnn_only", "fingerprint", "linear_mixing"])
def test_short_training_lowers_the_loss(kind):
    table = synthetic_excess_table(300)
    prop = get_property("excess_molar_enthalpy")
    split = make_split(table, "random", 0)
    cfg = TrainConfig(max_epochs=25, patience=25, batch_size=64, lr=3e-3, hidden=32)
    model, hyper, info = fit_member(table, split, prop, kind, cfg, seed=0, progress=False)
    first, last = info["history"][0]["val_mae"], min(h["val_mae"] for h in info["history"])
    assert last < 0.7 * first


def test_vft_training_fits_synthetic_conductivity():
    table = synthetic_conductivity_table(300)
    prop = get_property("ionic_conductivity")
    split = make_split(table, "random", 0)
    cfg = TrainConfig(max_epochs=40, patience=40, batch_size=64, lr=3e-3, hidden=32)
    model, _, info = fit_member(table, split, prop, "diffmix", cfg, seed=0, progress=False)
    pred = predict_rows(model, Batcher(table), split.test)
    rel = np.mean(np.abs(pred - table.y[split.test]) / table.y[split.test])
    assert rel < 0.3, rel
    assert info["history"][-1]["train_loss"] < info["history"][0]["train_loss"]


def test_checkpoint_round_trip_is_bit_exact(tmp_path):
    table = synthetic_excess_table(100)
    members = [make("diffmix").float(), make("diffmix").float()]
    ens = Ensemble(members, get_property("excess_molar_enthalpy"), "diffmix",
                   {"hidden": 64, "gnn_layers": 3, "order": 4, "target_scale": 500.0}, {"split": "random"})
    ens.save(tmp_path / "m")
    back = Ensemble.load(tmp_path / "m")
    for a, b in zip(ens.members, back.members):
        sa, sb = a.state_dict(), b.state_dict()
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa)
    mixtures = [Mixture((SOLVENTS[0], SOLVENTS[1]), (0.2, 0.8), 300.0)]
    assert np.array_equal(ens.predict(mixtures).mean, back.predict(mixtures).mean)
    assert not list(tmp_path.glob("m/*.pt")) and not list(tmp_path.glob("m/*.pkl"))
    del table


def test_vft_coefficient_head_depth_is_recorded_and_restored(tmp_path):
    prop = get_property("ionic_conductivity")
    table = synthetic_conductivity_table(60)
    hyper = hyperparameters("diffmix", prop, table, np.arange(len(table)), TrainConfig())
    assert hyper["coeff_layers"] == 2

    def linears(m):
        return [layer.out_features for layer in m.coeff if isinstance(layer, torch.nn.Linear)]

    torch.manual_seed(0)
    deep = build("diffmix", prop.law, log_scale=True, **hyper).eval()
    assert linears(deep) == [128, 64, 3]
    # a checkpoint written before the option existed has no "coeff_layers" and must load as the one-layer head
    assert linears(build("diffmix", prop.law, log_scale=True, hidden=64, gnn_layers=3)) == [64, 3]
    Ensemble([deep], prop, "diffmix", hyper, {"split": "random"}).save(tmp_path / "k")
    back = Ensemble.load(tmp_path / "k")
    assert linears(back.members[0]) == [128, 64, 3]
    sa, sb = deep.state_dict(), back.members[0].state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


def test_like_pairs_is_the_trained_default_and_a_checkpoint_without_it_loads_the_earlier_design(tmp_path):
    prop = get_property("ionic_conductivity")
    table = synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    assert hyperparameters("diffmix", prop, table, rows, TrainConfig())["like_pairs"] is True
    assert "like_pairs" not in hyperparameters("diffmix", prop, table, rows, TrainConfig(like_pairs=False))
    # the shipped models before 2026-12-02 have no "like_pairs" in their hyperparameters: ψ(h_a, h_b) over a ≠ b
    assert build("diffmix", prop.law, log_scale=True, hidden=16, gnn_layers=1).like_pairs is False
    # and its saved train_config (calibrate_std trains members like it) reads back as that design too
    assert TrainConfig.from_saved({"max_epochs": 7}).like_pairs is False
    resolved = resolve_config(table, prop, "diffmix", TrainConfig(max_epochs=7))
    assert TrainConfig.from_saved(asdict(resolved)) == resolved


def test_the_anchored_bounded_head_is_the_trained_default_and_a_run_before_it_loads_the_ln_a_head(tmp_path):
    prop = get_property("ionic_conductivity")
    table = synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    hyper = hyperparameters("diffmix", prop, table, rows, TrainConfig())
    assert (hyper["anchor_temperature_K"], hyper["max_prefactor"]) == (298.15, 3000.0)
    # 0 turns either off: the ln A head, the unbounded prefactor
    off = hyperparameters("diffmix", prop, table, rows, TrainConfig(anchor_temperature_K=0.0, max_prefactor=0.0))
    assert "anchor_temperature_K" not in off and "max_prefactor" not in off
    # a run records the numbers it resolved, so it retrains (calibrate_std) as the head it was trained with
    cfg = resolve_config(table, prop, "diffmix", TrainConfig())
    assert (cfg.anchor_temperature_K, cfg.max_prefactor) == (298.15, 3000.0)
    assert resolve_config(table, prop, "diffmix", cfg) == cfg
    # a run saved before the head had a default (None, or no key at all) was the ln A head, unbounded
    for saved in ({"max_epochs": 7}, {"max_epochs": 7, "anchor_temperature_K": None, "max_prefactor": None}):
        back = TrainConfig.from_saved(saved)
        assert (back.anchor_temperature_K, back.max_prefactor) == (0.0, 0.0)
        assert "anchor_temperature_K" not in hyperparameters("diffmix", prop, table, rows, back)
    # other models have no VFT head: the default resolves to off, and a number given for them is refused
    gnn = resolve_config(table, prop, "gnn_only", TrainConfig())
    assert (gnn.anchor_temperature_K, gnn.max_prefactor) == (0.0, 0.0)
    excess = resolve_config(synthetic_excess_table(40), get_property("excess_molar_enthalpy"), "diffmix", TrainConfig())
    assert excess.max_prefactor == 0.0
    for bad in (-1.0, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="max_prefactor must be a finite number ≥ 0"):
            resolve_config(table, prop, "diffmix", TrainConfig(max_prefactor=bad))
    # and a checkpoint whose hyperparameters name neither builds the ln A head, unbounded
    old = build("diffmix", prop.law, log_scale=True, hidden=16, gnn_layers=1, like_pairs=True)
    assert old.anchor_temperature_K is None and old.max_prefactor is None


@pytest.mark.parametrize("option,value", [("pair_pool", False), ("carrier_density", True), ("prefactor_power", 1.0),
                                          ("blend_order", 1), ("binary_blend", True), ("walden", 1.0),
                                          ("permittivity", True)])
def test_vft_study_options_are_recorded_only_when_set_and_restored(tmp_path, option, value):
    # recorded only when they differ from the default, so checkpoints written before an option existed load unchanged
    prop = get_property("ionic_conductivity")
    table = synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    assert option not in hyperparameters("diffmix", prop, table, rows, TrainConfig())
    hyper = hyperparameters("diffmix", prop, table, rows, TrainConfig(**{option: value}))
    assert hyper[option] == value
    torch.manual_seed(0)
    m = build("diffmix", prop.law, log_scale=True, **hyper).eval()
    Ensemble([m], prop, "diffmix", hyper, {"split": "random"}).save(tmp_path / "k")
    back = Ensemble.load(tmp_path / "k").members[0]
    assert getattr(back, option) == value
    sa, sb = m.state_dict(), back.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def test_vft_head_without_pair_pooling_has_no_pair_network():
    m = build("diffmix", "vft", log_scale=True, pair_pool=False)
    assert m.pair is None and m.coeff[0].in_features == 2 * 64 + 1  # two poolings and the pressure


def test_molecule_charges_mark_the_ions_of_a_salt():
    assert MoleculeSet(["[Li+]", "F[P-](F)(F)(F)(F)F", "O=C1OCCO1", "[Mg+2]"]).charges.tolist() == [1, -1, 0, 2]


def test_carrier_density_prefactor_is_proportional_to_the_ions_mole_fraction():
    m = make("diffmix", "ionic_conductivity", **CARRIERS)
    with torch.no_grad():
        m.coeff[-1].weight.zero_()
        m.coeff[-1].bias.zero_()  # the network's correction A' is now the same constant for every mixture
        emb = m.encode(MOLS).double()
        assert emb.shape[1] == 65 and emb[:, -1].tolist() == [0.0] * len(SOLVENTS) + [1.0, 1.0]
        li, pf6 = VOCAB.index(IONS[0]), VOCAB.index(IONS[1])
        idx = torch.tensor([[0, 1, li, pf6]] * 3 + [[0, 1, -1, -1]])
        x_salt = torch.tensor([0.01, 0.04, 0.08, 0.0], dtype=torch.float64)
        x = torch.stack([(1 - 2 * x_salt) / 2, (1 - 2 * x_salt) / 2, x_salt, x_salt], dim=1)
        t, p = torch.full((4,), 298.15, dtype=torch.float64), torch.full((4,), 101.325, dtype=torch.float64)
        log_a, _, _ = m.vft_coefficients(emb, idx, x, t, p)
        kappa = m.mix(emb, idx, x, t, p)
    # ln A = ln A'(init) + ln(x_Li+ + x_PF6−): doubling the salt doubles the carriers
    assert torch.allclose(log_a[:3], m.log_prefactor_init + torch.log(2 * x_salt[:3]), rtol=0, atol=1e-12)
    assert kappa[2] / kappa[1] == pytest.approx(2.0, rel=1e-12)
    assert kappa[3] < 1e-9 * kappa[0]  # a salt-free blend does not conduct


def test_the_blend_law_builds_a_blends_coefficients_from_its_solvents_and_pairs():
    """c(blend) = Σ s_j c(salt in j alone) + RK pair terms: one solvent → its own coefficients exactly; a binary's
    pair terms are the ternary's, so with the pair network silenced a ternary is the share-weighted mean of the
    salt in each solvent alone (at the same ion fractions)."""
    m = make("diffmix", "ionic_conductivity", **BLEND)
    li, pf6 = VOCAB.index(IONS[0]), VOCAB.index(IONS[1])
    t, p = torch.full((1,), 298.15, dtype=torch.float64), torch.full((1,), 101.325, dtype=torch.float64)
    f = 0.06
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        coeffs = lambda idx, x: torch.stack(m.vft_coefficients(emb, torch.tensor([idx]), torch.tensor([x], dtype=torch.float64), t, p))
        raw = lambda idx, x: m._raw_coefficients(emb[:, :-1], torch.tensor([idx]), torch.tensor([x], dtype=torch.float64), t, p)
        blend = lambda idx, x: m._blend_coefficients(emb[:, :-1], emb[:, -1:], torch.tensor([idx]), torch.tensor([x], dtype=torch.float64), t, p)
        one = [0, li, pf6]
        assert torch.allclose(blend(one, [1 - 2 * f, f, f]), raw(one, [1 - 2 * f, f, f]), atol=1e-12)
        m.blend_pair[-1].weight.zero_()
        m.blend_pair[-1].bias.zero_()
        s = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
        x = [*(s * (1 - 2 * f)).tolist(), f, f]
        pure = [raw([j, li, pf6], [1 - 2 * f, f, f]) for j in range(3)]
        expected = sum(sj * cj for sj, cj in zip(s, pure))
        assert torch.allclose(blend([0, 1, 2, li, pf6], x), expected, atol=1e-12)
        assert torch.all(torch.isfinite(coeffs([0, 1, 2, li, pf6], x)))


def test_a_blend_from_binaries_is_the_pair_weighted_mean_of_its_binary_sub_blends():
    """binary_blend: the VFT coefficients of a blend of ≥ 3 solvents are Σ w_jk c_jk with w_jk ∝ s_j s_k, c_jk those
    of the binary j:k at the same ion fractions; one or two solvents are the plain head's answer (the same weights,
    which the option does not add to), and a ternary goes to its binary as the third solvent vanishes."""
    m = make("diffmix", "ionic_conductivity", **FROM_BINARIES)
    plain = make("diffmix", "ionic_conductivity", like_pairs=True)
    assert m.state_dict().keys() == plain.state_dict().keys()
    li, pf6 = VOCAB.index(IONS[0]), VOCAB.index(IONS[1])
    f = 0.06
    with torch.no_grad():
        coeffs = lambda model, idx, x: torch.stack(model.vft_coefficients(
            model.encode(MOLS).double(), torch.tensor([idx]), torch.tensor([x], dtype=torch.float64),
            torch.full((1,), 290.0, dtype=torch.float64), torch.full((1,), 101.325, dtype=torch.float64)))[:, 0]
        for idx, x in (([0, li, pf6], [1 - 2 * f, f, f]), ([2, 0, li, pf6], [0.3, 0.58, f, f])):
            assert torch.allclose(coeffs(m, idx, x), coeffs(plain, idx, x), rtol=0, atol=0)
        s = torch.tensor([0.2, 0.3, 0.5], dtype=torch.float64)
        x = [*(s * (1 - 2 * f)).tolist(), f, f]
        expected, total = 0.0, 0.0
        for j, k in ((0, 1), (0, 2), (1, 2)):
            sub = (s[j] / (s[j] + s[k]), s[k] / (s[j] + s[k]))
            c_jk = coeffs(plain, [j, k, li, pf6], [float(sub[0]) * (1 - 2 * f), float(sub[1]) * (1 - 2 * f), f, f])
            expected, total = expected + s[j] * s[k] * c_jk, total + s[j] * s[k]
        ternary = coeffs(m, [0, 1, 2, li, pf6], x)
        assert torch.allclose(ternary, expected / total, rtol=1e-12, atol=1e-12)
        assert not torch.allclose(ternary, coeffs(plain, [0, 1, 2, li, pf6], x), atol=1e-6)
        # every coefficient lies within its three binaries' range
        binaries = torch.stack([coeffs(plain, [j, k, li, pf6], [0.44, 0.44, f, f]) for j, k in ((0, 1), (0, 2), (1, 2))])
        even = coeffs(m, [0, 1, 2, li, pf6], [(1 - 2 * f) / 3] * 3 + [f, f])
        assert torch.all(even >= binaries.amin(0) - 1e-9) and torch.all(even <= binaries.amax(0) + 1e-9)
        # the third solvent vanishing: continuous to the binary 0:1
        eps = 1e-9
        near = coeffs(m, [0, 1, 2, li, pf6], [0.4 * (1 - 2 * f), 0.6 * (1 - 2 * f) - eps, eps, f, f])
        assert torch.allclose(near, coeffs(plain, [0, 1, li, pf6], [0.4 * (1 - 2 * f), 0.6 * (1 - 2 * f), f, f]),
                              atol=1e-6)
    with pytest.raises(ValueError, match="two blend laws"):
        make("diffmix", "ionic_conductivity", binary_blend=True, blend_order=1)


def test_nernst_einstein_prefactor_divides_the_vft_law_by_temperature():
    plain = make("diffmix", "ionic_conductivity")
    ne = make("diffmix", "ionic_conductivity", prefactor_power=1.0)
    ne.load_state_dict(plain.state_dict())  # the same network: only the fixed factor differs
    idx, x, t, p = random_batch(5, 3)
    with torch.no_grad():
        emb = plain.encode(MOLS).double()
        ratio = ne.mix(emb, idx, x, t, p) / plain.mix(emb, idx, x, t, p)
        coeffs = [torch.equal(a, b) for a, b in zip(ne.vft_coefficients(emb, idx, x, t, p),
                                                    plain.vft_coefficients(emb, idx, x, t, p))]
    assert torch.allclose(ratio, 298.15 / t, rtol=1e-12, atol=0) and all(coeffs)


def test_a_bounded_prefactor_never_exceeds_its_bound_and_leaves_ordinary_prefactors_nearly_alone():
    bounded = make("diffmix", "ionic_conductivity", max_prefactor=3000.0)
    raw_log_a = torch.tensor([-5.0, 0.0, 10.0, 30.0], dtype=torch.float64)  # the head's outputs, before the bound
    o = torch.stack([raw_log_a, torch.zeros(4, dtype=torch.float64), torch.zeros(4, dtype=torch.float64)], dim=-1)
    log_a = bounded._physical(o)[:, 0]
    unbounded = make("diffmix", "ionic_conductivity")._physical(o)[:, 0]
    assert (log_a < math.log(3000.0)).all()  # κ < A ≤ 3,000 mS/cm however far from training an input is
    assert log_a[-1] == pytest.approx(math.log(3000.0), abs=1e-6)  # an exploding head saturates at the bound
    # a typical prefactor (about 100 mS/cm: raw output 0) moves by under 4 %
    assert abs(float(log_a[1] - unbounded[1])) < 0.04 and bool((log_a <= unbounded).all())
    # and κ follows: the bound holds at any temperature
    idx, x, t, p = random_batch(5, 3)
    with torch.no_grad():
        emb = bounded.encode(MOLS).double()
        kappa = bounded.mix(emb, idx, x, torch.full_like(t, 2000.0), p)
    assert bool((kappa < 3000.0).all())
    with pytest.raises(ValueError, match="positive number of mS/cm"):
        make("diffmix", "ionic_conductivity", max_prefactor=0.0)


def test_an_anchored_head_gives_the_level_at_its_temperature_and_starts_on_the_plain_heads_curve():
    plain = make("diffmix", "ionic_conductivity")
    anchored = make("diffmix", "ionic_conductivity", anchor_temperature_K=298.15)
    anchored.load_state_dict(plain.state_dict())  # the same network: only the meaning of its first output differs
    g = torch.Generator().manual_seed(3)
    level = torch.randn(6, 1, generator=g, dtype=torch.float64)
    o = torch.cat([level, 2.0 * torch.randn(6, 2, generator=g, dtype=torch.float64)], dim=-1)
    log_a, b, t0 = anchored._physical(o).unbind(-1)
    at_anchor = laws.log_vft(torch.full((6,), 298.15, dtype=torch.float64), log_a, b, t0)
    # ln κ(T_a) is the first output (plus the start) whatever B and T0 the other two outputs give
    assert torch.allclose(at_anchor - level.squeeze(-1), at_anchor[:1] - level[0], atol=1e-9)
    assert float(at_anchor.std()) > 0.5  # the level itself moves with the first output
    # at a zero output it is the plain head's starting curve (same A, B, T0), so training starts where it did
    zero = torch.zeros(1, 3, dtype=torch.float64)
    assert torch.allclose(anchored._physical(zero), plain._physical(zero), rtol=1e-12, atol=1e-12)
    # a sharp bound (3,000 mS/cm, sharpness 4) leaves the level alone until A nears the bound, where the first
    # bound (sharpness 1) takes A / A_max off ln κ at every temperature: a tenth for A = 300 mS/cm
    sharp = make("diffmix", "ionic_conductivity", anchor_temperature_K=298.15, max_prefactor=3000.0, bound_sharpness=4.0)
    first = make("diffmix", "ionic_conductivity", anchor_temperature_K=298.15, max_prefactor=3000.0)
    free_log_a = anchored._physical(o)[:, 0]
    below = free_log_a < math.log(300.0)
    assert int(below.sum()) >= 2 and not bool(below.all())
    for bounded in (sharp, first):
        shift = free_log_a - bounded._physical(o)[:, 0]
        assert bool((shift >= 0).all()) and bool((bounded._physical(o)[:, 0] < math.log(3000.0) + 1e-9).all())
    assert float((free_log_a - sharp._physical(o)[:, 0])[below].max()) < 3e-4
    assert torch.allclose((free_log_a - first._physical(o)[:, 0])[below], torch.log1p(free_log_a[below].exp() / 3000.0),
                          rtol=1e-9)
    # recorded with its bound, and a sharpness without a bound to shape is refused before any training
    prop, table = get_property("ionic_conductivity"), synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    hyper = hyperparameters("diffmix", prop, table, rows, TrainConfig(max_prefactor=3000.0, bound_sharpness=4.0))
    assert hyper["bound_sharpness"] == 4.0 and "bound_sharpness" not in hyperparameters(
        "diffmix", prop, table, rows, TrainConfig(max_prefactor=3000.0))
    with pytest.raises(ValueError, match="--max-prefactor"):
        resolve_config(table, prop, "diffmix", TrainConfig(max_prefactor=0.0, bound_sharpness=4.0))
    with pytest.raises(ValueError, match="anchor_temperature_K shapes the DiffMix conductivity model's VFT head"):
        resolve_config(table, prop, "gnn_only", TrainConfig(anchor_temperature_K=298.15))
    with pytest.raises(ValueError, match="max_prefactor shapes the"):
        resolve_config(synthetic_excess_table(40), get_property("excess_molar_enthalpy"), "diffmix",
                       TrainConfig(max_prefactor=3000.0))
    with pytest.raises(ValueError, match="bound_sharpness must be a positive number"):
        make("diffmix", "ionic_conductivity", max_prefactor=3000.0, bound_sharpness=0.0)
    for bad in (150.0, float("nan")):
        with pytest.raises(ValueError, match="above the largest Vogel temperature"):
            make("diffmix", "ionic_conductivity", anchor_temperature_K=bad)


def test_walden_prefactor_divides_by_the_blends_ideally_mixed_tabulated_viscosity():
    from model.data.tables import viscosity_of

    plain = make("diffmix", "ionic_conductivity", like_pairs=True)
    walden = make("diffmix", "ionic_conductivity", **WALDEN)
    walden.load_state_dict(plain.state_dict())  # the same network: only the viscosity factor differs
    ec, dmc, li, pf6 = (VOCAB.index(s) for s in ("O=C1OCCO1", "COC(=O)OC", *IONS))
    idx = torch.tensor([[ec, dmc, li, pf6], [dmc, ec, pf6, li], [dmc, li, pf6, -1]])
    x = torch.tensor([[0.3, 0.5, 0.1, 0.1], [0.5, 0.3, 0.1, 0.1], [0.8, 0.1, 0.1, 0.0]], dtype=torch.float64)
    t, p = torch.full((3,), 280.0, dtype=torch.float64), torch.full((3,), 101.325, dtype=torch.float64)
    with torch.no_grad():
        emb = walden.encode(MOLS).double()
        ratio = walden.mix(emb, idx, x, t, p) / plain.mix(plain.encode(MOLS).double(), idx, x, t, p)
    # κ_walden / κ = η_blend⁻¹ with ln η_blend = Σ s_j ln η_j over the solvents' mole shares (the ions do not count)
    eta_ec, eta_dmc = viscosity_of("O=C1OCCO1"), viscosity_of("COC(=O)OC")
    expected = torch.tensor([eta_ec ** -0.375 * eta_dmc ** -0.625] * 2 + [1 / eta_dmc], dtype=torch.float64)
    assert torch.allclose(ratio, expected, rtol=1e-10, atol=0)
    assert (eta_ec, eta_dmc, viscosity_of("COC(C)=O")) == (1.90, 0.59, 0.364)  # Xu 2004 Table 1; CRC (methyl acetate)
    # a solvent the tables lack (decanol) gets the tabulated solvents' median viscosity, not a silent zero (the
    # domain report names it: test_domain); ions need none
    from model.data.tables import TYPICAL_VISCOSITY_MPA_S
    odd = MoleculeSet(["[Li+]", "CCCCCCCCCCO"])
    assert odd.log_viscosity[0] == 0.0 and torch.isnan(odd.log_viscosity[1])
    cols = walden.solvent_laws.columns(odd, torch.float64)
    assert cols[:, 1].tolist() == [0.0, pytest.approx(math.log(TYPICAL_VISCOSITY_MPA_S), rel=1e-12)]
    assert 0.5 < TYPICAL_VISCOSITY_MPA_S < 1.0 and walden.solvent_laws.reads == ("viscosity",)
    assert torch.isfinite(walden.encode(odd)).all()
    with pytest.raises(ValueError, match="exponent"):
        make("diffmix", "ionic_conductivity", walden=-1.0)
    # GNN-only gets the same knowledge for a comparison on equal terms: its ln κ moves by the same −ln η_blend
    gnn, gnn_walden = make("gnn_only", "ionic_conductivity"), make("gnn_only", "ionic_conductivity", walden=1.0)
    gnn_walden.load_state_dict(gnn.state_dict())
    with torch.no_grad():
        gnn_ratio = gnn_walden(MOLS, idx, x, t, p) / gnn(MOLS, idx, x, t, p)
    assert torch.allclose(gnn_ratio, expected, rtol=1e-10, atol=0)
    with pytest.raises(ValueError, match="not one"):
        make("gnn_only", "excess_molar_enthalpy", walden=1.0)
    prop, table = get_property("ionic_conductivity"), synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    assert hyperparameters("gnn_only", prop, table, rows, TrainConfig(walden=1.0))["walden"] == 1.0
    assert "walden" not in hyperparameters("gnn_only", prop, table, rows, TrainConfig())
    with pytest.raises(ValueError, match="terms of a conductivity model"):
        resolve_config(synthetic_excess_table(40), get_property("excess_molar_enthalpy"), "diffmix", TrainConfig(walden=1.0))
    with pytest.raises(ValueError, match="terms of a conductivity model"):
        resolve_config(table, prop, "linear_mixing", TrainConfig(permittivity=True))


def test_ion_pairing_lowers_conductivity_as_the_blends_permittivity_falls():
    from model.data.tables import permittivity_of
    from model.nn.solvent import PAIRING_START

    plain = make("diffmix", "ionic_conductivity", like_pairs=True)
    paired = make("diffmix", "ionic_conductivity", like_pairs=True, permittivity=True)
    paired.load_state_dict(plain.state_dict() | {"solvent_laws.pairing": paired.solvent_laws.pairing.detach()})
    ec, dmc, li, pf6 = (VOCAB.index(s) for s in ("O=C1OCCO1", "COC(=O)OC", *IONS))
    idx = torch.tensor([[ec, dmc, li, pf6], [ec, dmc, li, pf6]])
    x = torch.tensor([[0.2, 0.6, 0.1, 0.1], [0.6, 0.2, 0.1, 0.1]], dtype=torch.float64)
    t, p = torch.full((2,), 298.15, dtype=torch.float64), torch.full((2,), 101.325, dtype=torch.float64)
    with torch.no_grad():
        log_ratio = torch.log(paired(MOLS, idx, x, t, p) / plain(MOLS, idx, x, t, p))
    eps_ec, eps_dmc = permittivity_of("O=C1OCCO1"), permittivity_of("COC(=O)OC")
    eps = torch.tensor([0.25 * eps_ec + 0.75 * eps_dmc, 0.75 * eps_ec + 0.25 * eps_dmc], dtype=torch.float64)
    assert torch.allclose(log_ratio, -PAIRING_START / eps, rtol=1e-10, atol=0)  # β = 10 at the start
    assert log_ratio[0] < log_ratio[1] < 0  # the DMC-rich blend pairs more of its ions
    assert (eps_ec, eps_dmc) == (89.78, 3.107)  # Xu 2004 Table 1
    # β is learned and stays positive: a gradient step can shrink it but not turn pairing into its opposite
    assert [n for n, _ in paired.named_parameters() if n.startswith("solvent_laws")] == ["solvent_laws.pairing"]
    from model.data.tables import TYPICAL_PERMITTIVITY
    assert paired.solvent_laws.columns(MoleculeSet(["[Li+]", "CCCCCCCCCCO"]), torch.float64)[1, 2] == TYPICAL_PERMITTIVITY
    assert paired.solvent_laws.reads == ("relative permittivity",)


def solvent_option_round_trip(tmp_path, kind: str, option: str, needs: dict):
    """A solvent-law option that refines another (``needs``): refused alone by the model and by the training config
    (naming what it needs), recorded in the hyperparameters only when set, and restored from a saved ensemble; returns
    the restored member's ``solvent_laws``."""
    with pytest.raises(ValueError, match="set (permittivity|walden > 0)"):
        make(kind, "ionic_conductivity", **{option: True})
    prop, table = get_property("ionic_conductivity"), synthetic_conductivity_table(60)
    with pytest.raises(ValueError, match="set (permittivity|walden > 0)"):
        resolve_config(table, prop, kind, TrainConfig(**{option: True}))
    rows = np.arange(len(table))
    hyper = hyperparameters(kind, prop, table, rows, TrainConfig(**needs, **{option: True}))
    assert hyper[option] is True
    assert option not in hyperparameters(kind, prop, table, rows, TrainConfig(**needs))
    m = build(kind, prop.law, log_scale=True, **hyper).eval()
    Ensemble([m], prop, kind, hyper, {"split": "random"}).save(tmp_path / "k")
    return Ensemble.load(tmp_path / "k").members[0].solvent_laws


def test_the_salts_own_permittivity_frees_ions_in_a_linear_carbonate_as_the_salt_content_grows(tmp_path):
    from model.data.tables import permittivity_of
    from model.nn.solvent import PAIRING_START, SALT_DIELECTRIC_START

    plain = make("diffmix", "ionic_conductivity", like_pairs=True)
    raised = make("diffmix", "ionic_conductivity", like_pairs=True, permittivity=True, salt_dielectric=True)
    own = {n: p.detach() for n, p in raised.named_parameters() if n.startswith("solvent_laws")}
    raised.load_state_dict(plain.state_dict() | own)
    dmc, li, pf6 = (VOCAB.index(s) for s in ("COC(=O)OC", *IONS))
    idx = torch.tensor([[dmc, li, pf6, -1], [dmc, li, pf6, -1]])
    x = torch.tensor([[0.9, 0.05, 0.05, 0.0], [0.8, 0.1, 0.1, 0.0]], dtype=torch.float64)
    t, p = torch.full((2,), 298.15, dtype=torch.float64), torch.full((2,), 101.325, dtype=torch.float64)
    with torch.no_grad():
        log_ratio = torch.log(raised(MOLS, idx, x, t, p) / plain(MOLS, idx, x, t, p))
    salt_per_solvent = torch.tensor([0.05 / 0.9, 0.1 / 0.8], dtype=torch.float64)
    eps = permittivity_of("COC(=O)OC") + SALT_DIELECTRIC_START * salt_per_solvent
    assert torch.allclose(log_ratio, -PAIRING_START / eps, rtol=1e-10, atol=0)
    assert log_ratio[0] < log_ratio[1] < 0  # more salt, more dipolar pairs, a higher ε: fewer ions lost to pairing
    assert sorted(own) == ["solvent_laws.pairing", "solvent_laws.salt_increment"]
    assert solvent_option_round_trip(tmp_path, "diffmix", "salt_dielectric", {"permittivity": True}).salt_dielectric


def test_mass_action_association_frees_nearly_every_ion_in_a_polar_blend_and_few_in_a_linear_carbonate(tmp_path):
    from model.data.tables import permittivity_of
    from model.nn.solvent import ASSOCIATION_BETA_START, ASSOCIATION_LOG_K0_START, free_ion_log_fraction

    # the free-ion fraction solves K r α² = 1 − α (known answers), stays in (0, 1], is 1 without salt, and keeps a
    # finite gradient where K is far beyond float range (an ether of ε ≈ 2 at β ≈ 200)
    log_k = torch.tensor([0.0, math.log(8.0), 250.0], dtype=torch.float64, requires_grad=True)
    r = torch.tensor([0.5, 0.5, 0.1], dtype=torch.float64)
    alpha = torch.exp(free_ion_log_fraction(log_k, r))
    assert alpha[0].item() == pytest.approx(math.sqrt(3) - 1, rel=1e-12)  # 0.5 α² + α − 1 = 0
    assert alpha[1].item() == pytest.approx((math.sqrt(17) - 1) / 8, rel=1e-12)  # 4 α² + α − 1 = 0
    assert alpha[2].item() == pytest.approx(1 / math.sqrt(0.1) * math.exp(-125), rel=1e-6)  # 1 / √(K r) when K r ≫ 1
    alpha.sum().backward()
    assert torch.isfinite(log_k.grad).all() and (log_k.grad < 0).all()  # a stronger association frees fewer ions
    assert free_ion_log_fraction(torch.tensor([40.0]), torch.tensor([0.0])).item() == 0.0

    plain = make("diffmix", "ionic_conductivity", like_pairs=True)
    mass = make("diffmix", "ionic_conductivity", like_pairs=True, permittivity=True, ion_association=True)
    own = {n: q.detach() for n, q in mass.named_parameters() if n.startswith("solvent_laws")}
    mass.load_state_dict(plain.state_dict() | own)
    assert sorted(own) == ["solvent_laws.log_k0", "solvent_laws.pairing"]
    ec, dmc, li, pf6 = (VOCAB.index(s) for s in ("O=C1OCCO1", "COC(=O)OC", *IONS))
    idx = torch.tensor([[ec, li, pf6, -1], [ec, dmc, li, pf6], [dmc, li, pf6, -1], [ec, dmc, -1, -1]])
    x = torch.tensor([[0.9, 0.05, 0.05, 0.0], [0.45, 0.45, 0.05, 0.05], [0.9, 0.05, 0.05, 0.0], [0.5, 0.5, 0.0, 0.0]],
                     dtype=torch.float64)
    t, p = torch.full((4,), 298.15, dtype=torch.float64), torch.full((4,), 101.325, dtype=torch.float64)
    with torch.no_grad():
        log_ratio = torch.log(mass(MOLS, idx, x, t, p) / plain(MOLS, idx, x, t, p))
    eps_ec, eps_dmc = permittivity_of("O=C1OCCO1"), permittivity_of("COC(=O)OC")
    eps = torch.tensor([eps_ec, 0.5 * (eps_ec + eps_dmc), eps_dmc, 1.0], dtype=torch.float64)
    k = torch.exp(ASSOCIATION_LOG_K0_START + ASSOCIATION_BETA_START / eps)
    salt = torch.tensor([0.05 / 0.9, 0.05 / 0.9, 0.05 / 0.9, 0.0], dtype=torch.float64)
    expected = torch.log(2 / (1 + torch.sqrt(1 + 4 * k * salt)))
    assert torch.allclose(log_ratio, expected, rtol=1e-6, atol=1e-12)  # the parameters are float32
    # polar EC and its 1:1 blend with DMC free most ions and differ little; DMC alone pairs most of them; no salt, no term
    assert log_ratio[0] > log_ratio[1] > math.log(0.5) > math.log(0.1) > log_ratio[2]
    assert log_ratio[3] == 0.0
    assert solvent_option_round_trip(tmp_path, "gnn_only", "ion_association", {"permittivity": True}).ion_association


def test_a_learned_walden_exponent_starts_at_the_fixed_rule_and_moves_with_its_gradient(tmp_path):
    from model.data.tables import viscosity_of

    fixed = make("diffmix", "ionic_conductivity", like_pairs=True, walden=1.0)
    learned = make("diffmix", "ionic_conductivity", like_pairs=True, walden=1.0, walden_learned=True)
    learned.load_state_dict(fixed.state_dict() | {"solvent_laws.walden_log_factor": torch.zeros(())})
    ec, dmc, li, pf6 = (VOCAB.index(s) for s in ("O=C1OCCO1", "COC(=O)OC", *IONS))
    idx = torch.tensor([[ec, dmc, li, pf6]])
    x = torch.tensor([[0.4, 0.4, 0.1, 0.1]], dtype=torch.float64)
    t, p = torch.full((1,), 298.15, dtype=torch.float64), torch.full((1,), 101.325, dtype=torch.float64)
    assert torch.allclose(learned(MOLS, idx, x, t, p), fixed(MOLS, idx, x, t, p), rtol=1e-12)  # the same at the start
    # κ ∝ η_blend^−α: ∂ ln κ / ∂ ln α = −α ln η_blend, here ln η_blend = ½ (ln 1.90 + ln 0.59) > 0, so a larger α lowers κ
    torch.log(learned(MOLS, idx, x, t, p)).sum().backward()
    log_eta = 0.5 * (math.log(viscosity_of("O=C1OCCO1")) + math.log(viscosity_of("COC(=O)OC")))
    assert learned.solvent_laws.walden_log_factor.grad.item() == pytest.approx(-log_eta, rel=1e-6)
    with torch.no_grad():
        learned.solvent_laws.walden_log_factor.fill_(math.log(0.5))
        half = torch.log(learned(MOLS, idx, x, t, p) / fixed(MOLS, idx, x, t, p))
    assert half.item() == pytest.approx(0.5 * log_eta, rel=1e-6)  # α = 0.5 takes half the viscosity's term back
    laws = solvent_option_round_trip(tmp_path, "gnn_only", "walden_learned", {"walden": 1.0})
    assert laws.walden_log_factor is not None


def test_every_solvent_of_the_tables_has_a_tabulated_viscosity():
    from model.data.tables import PERMITTIVITY, VISCOSITY_MPA_S
    from model.data.tables import SOLVENTS as TABLE

    assert set(VISCOSITY_MPA_S) == set(TABLE) == set(PERMITTIVITY)
    assert all(2.0 < eps < 130 for eps, _ in PERMITTIVITY.values())  # from the aromatics to vinylene carbonate
    assert all(0.1 < eta < 50 for eta, _ in VISCOSITY_MPA_S.values())  # mPa·s: liquids between ether and sulfone


def test_loss_is_finite_on_conductivity_batch():
    table = synthetic_conductivity_table(50)
    m = build("gnn_only", "vft", log_scale=True)
    batch = Batcher(table).batch(np.arange(50))
    assert torch.isfinite(loss_fn(m, batch, get_property("ionic_conductivity"), TrainConfig()))


def test_offset_log_is_the_log_of_the_shifted_value_and_stays_finite():
    v = torch.tensor([1e-12, 1e-3, 0.5, 1.0, 30.0], dtype=torch.float64)
    assert torch.allclose(offset_log(torch.log(v), 1.0), torch.log(v + 1.0), rtol=0, atol=1e-12)
    assert torch.equal(offset_log(torch.log(v), 0.0), torch.log(v))
    lv = torch.tensor([-1e4, 0.0], dtype=torch.float64, requires_grad=True)  # e^-10000 underflows to 0
    out = offset_log(lv, 1.0)
    out.sum().backward()
    assert out[0] == 0.0 and torch.isfinite(lv.grad).all()
    assert lv.grad[0] == 0.0 and lv.grad[1] == pytest.approx(0.5)  # d ln(e^u + 1)/du = e^u / (e^u + 1)


class _TooHigh:
    """A stand-in conductivity model whose every prediction is `factor` × the measured value (for the loss alone)."""

    def __init__(self, y: torch.Tensor, factor: float):
        self.y, self.factor = y, factor

    def log_forward(self, mols, idx, x, T, P):
        return torch.log(self.factor * self.y)


def test_conductivity_is_fitted_in_ln_of_kappa_plus_the_fit_offset():
    table = synthetic_conductivity_table(60)
    batch = Batcher(table).batch(np.arange(60))
    prop = get_property("ionic_conductivity")
    assert prop.log_offset == 1.0
    model, y = _TooHigh(batch.y, 1.5), batch.y
    huber = torch.nn.functional.smooth_l1_loss
    # ln κ: every row is off by the same ln 1.5, however small its κ
    in_ln = loss_fn(model, batch, prop, TrainConfig(log_offset=0.0))
    assert in_ln.item() == pytest.approx(huber(torch.full_like(y, np.log(1.5)), torch.zeros_like(y), beta=0.05).item())
    # ln(κ + 1 mS/cm), the default: a low-κ row's 50 % error costs less than a high-κ row's
    default = loss_fn(model, batch, prop, TrainConfig())
    expected = huber(torch.log(1.5 * y + 1.0), torch.log(y + 1.0), beta=0.05)
    assert default.item() == pytest.approx(expected.item(), rel=1e-6) and default < in_ln
    with pytest.raises(ValueError, match="log_offset"):
        loss_fn(model, batch, prop, TrainConfig(log_offset=-1.0))


@pytest.mark.parametrize("V,H", [(10, 64), (40, 1)])  # the dense product and the gathered pairs
def test_pair_pool_is_the_sum_over_distinct_species_pairs(V, H):
    from model.nn.models import pair_pool

    g = torch.Generator().manual_seed(V)
    table = torch.randn(V, V, H, generator=g, dtype=torch.float64)
    idx = torch.tensor([[0, 3, 7, -1], [5, 1, -1, -1], [2, 2, 4, 9]])  # a padded row, and a species listed twice
    x = torch.tensor([[0.2, 0.3, 0.5, 0.0], [0.6, 0.4, 0.0, 0.0], [0.1, 0.2, 0.3, 0.4]], dtype=torch.float64)
    expected = torch.zeros(3, H, dtype=torch.float64)
    for r in range(3):
        comp: dict[int, float] = {}
        for i, xi in zip(idx[r].tolist(), x[r].tolist()):
            if i >= 0:
                comp[i] = comp.get(i, 0.0) + xi  # a species listed twice is one species
        for a, xa in comp.items():
            for b, xb in comp.items():
                if a != b:
                    expected[r] += xa * xb * table[a, b]
    assert torch.allclose(pair_pool(table, idx, x), expected, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind,prop", INVARIANT + [("fingerprint", "excess_molar_enthalpy"), ("blend", "ionic_conductivity"),
                                                   ("from_binaries", "ionic_conductivity"), ("walden", "ionic_conductivity"),
                                                   ("gnn_walden", "ionic_conductivity")])
def test_vectorised_members_match_the_member_loop(kind, prop, monkeypatch):
    import model.ensemble as ensemble_module

    p = get_property(prop)
    members = []
    extra = {"fingerprint": {"max_components": 6}, "blend": BLEND, "from_binaries": FROM_BINARIES, "walden": WALDEN,
             "gnn_walden": {"walden": 1.0, "permittivity": True}}.get(kind, {})
    kind = {"blend": "diffmix", "from_binaries": "diffmix", "walden": "diffmix", "gnn_walden": "gnn_only"}.get(kind, kind)
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(build(kind, p.law, log_scale=p.log_scale, target_scale=500.0, **extra).double())
    ens = Ensemble(members, p, kind, {}).to(torch.float64)
    mixtures = [Mixture((SOLVENTS[0], SOLVENTS[1], SOLVENTS[2]), (0.2, 0.5, 0.3), 300.0),
                Mixture((SOLVENTS[1], SOLVENTS[3]), (0.35, 0.65), 280.0),
                Mixture((IONS[0], SOLVENTS[4], SOLVENTS[0], IONS[1], SOLVENTS[2], SOLVENTS[1]),
                        (0.05, 0.2, 0.3, 0.05, 0.1, 0.3), 310.0)]
    fast = ens.predict(mixtures, gradient=True)
    monkeypatch.setattr(ensemble_module, "VECTORISED_MAX_BATCH", 0)
    slow = ens.predict(mixtures, gradient=True)
    assert np.allclose(fast.members, slow.members, rtol=1e-12, atol=1e-12)
    for gf, gs in zip(fast.gradient, slow.gradient):
        assert gf.keys() == gs.keys()
        assert all(gf[s] == pytest.approx(gs[s], rel=1e-10, abs=1e-12) for s in gf)


def test_concurrent_small_batch_predictions_equal_serial_ones():
    """The service predicts from a thread pool: the vectorised path must not share mutable state across threads."""
    from concurrent.futures import ThreadPoolExecutor

    p = get_property("ionic_conductivity")
    members = []
    for seed in range(3):
        torch.manual_seed(seed)
        members.append(build("diffmix", p.law, log_scale=True))
    ens = Ensemble(members, p, "diffmix", {})
    jobs = [[Mixture((IONS[0], IONS[1], SOLVENTS[i % 4], SOLVENTS[4]), (0.08, 0.08, 0.04 * (i + 1), 0.8 - 0.04 * (i + 1)),
                     250.0 + 5 * i)] for i in range(16)]
    serial = [ens.predict(j, gradient=True) for j in jobs]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda j: ens.predict(j, gradient=True), jobs * 40))
    for k, got in enumerate(concurrent):
        want = serial[k % len(jobs)]
        assert np.array_equal(got.members, want.members)
        assert got.gradient == want.gradient


@pytest.mark.parametrize("beta", [0.0, 0.005, 0.05, 10.0])
def test_huber_beta_sets_where_the_excess_loss_turns_from_quadratic_to_absolute(beta):
    table = synthetic_excess_table(40)
    batch = Batcher(table).batch(np.arange(40))
    m = make("diffmix").float()
    with torch.no_grad():
        r = (m(*batch.args()) - batch.y) / m.target_scale  # residuals in units of the training spread
        loss = loss_fn(m, batch, get_property("excess_molar_enthalpy"), TrainConfig(huber_beta=beta))
    a = r.abs()
    expected = torch.where(a < beta, 0.5 * a**2 / max(beta, 1e-300), a - 0.5 * beta).mean()
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    if beta == 0.0:
        assert loss.item() == pytest.approx(a.mean().item(), rel=1e-5)  # β = 0 is the MAE itself


def test_without_solvent_pairs_a_blend_holds_only_pair_terms_with_an_ion():
    """--no-solvent-pairs: the pairwise pooling of a salt-free solvent blend is empty (the pair network gets no
    gradient from it), while with the salt it still sees the ion–solvent pairs; with solvent pairs (the default)
    the salt-free blend uses the pair network too."""
    li, pf6 = VOCAB.index(IONS[0]), VOCAB.index(IONS[1])
    t, p = torch.full((1,), 298.15, dtype=torch.float64), torch.full((1,), 101.325, dtype=torch.float64)
    salt_free = (torch.tensor([[0, 1, 2]]), torch.tensor([[0.2, 0.3, 0.5]], dtype=torch.float64))
    salted = (torch.tensor([[0, 1, 2, li, pf6]]), torch.tensor([[0.18, 0.27, 0.45, 0.05, 0.05]], dtype=torch.float64))

    def pair_gradient(model, idx, x):
        model.zero_grad()
        log_a, b, t0 = model.vft_coefficients(model.encode(MOLS).double(), idx, x, t, p)
        (log_a + b + t0).sum().backward()
        return sum(float(w.grad.abs().sum()) for w in model.pair.parameters() if w.grad is not None)

    no_pairs = make("diffmix", "ionic_conductivity", solvent_pairs=False)
    default = make("diffmix", "ionic_conductivity")
    assert pair_gradient(no_pairs, *salt_free) == 0.0
    assert pair_gradient(no_pairs, *salted) > 0.0
    assert pair_gradient(default, *salt_free) > 0.0


def test_like_pairs_answer_a_pair_of_twins_as_each_does_with_itself():
    """--like-pairs: ψ sees (h_a + h_b, |h_a − h_b|) and the pooling includes a molecule with itself. The pair table
    is symmetric, and two molecules with the same embedding pool exactly like one of them at their summed fraction
    (a blend of twins is the pure liquid); a single molecule has a pair term of its own, which the default lacks."""
    from model.nn.models import pair_pool

    m = make("diffmix", "ionic_conductivity", **LIKE_PAIRS)
    with torch.no_grad():
        emb = m.encode(MOLS).double()
        emb[1] = emb[0]  # molecule 1 made identical to molecule 0
        table = m.pair_table(emb)
        assert torch.allclose(table, table.transpose(0, 1), rtol=0, atol=1e-12)
        one = (torch.tensor([[0]]), torch.ones(1, 1, dtype=torch.float64))
        twins = pair_pool(table, torch.tensor([[0, 1]]), torch.tensor([[0.4, 0.6]], dtype=torch.float64), include_self=True)
        assert torch.allclose(twins, pair_pool(table, *one, include_self=True), rtol=1e-12, atol=1e-12)
        assert pair_pool(table, *one, include_self=True).abs().sum() > 0
        assert pair_pool(table, *one).abs().sum() == 0


def test_whole_molecule_descriptors_tell_an_ester_from_a_carbonate_and_reach_the_embedding():
    from model.featurize import DESCRIPTOR_DIM, mol_descriptors

    ma, dmc = mol_descriptors("CC(=O)OC"), mol_descriptors("COC(=O)OC")  # methyl acetate, dimethyl carbonate
    assert ma.shape == (DESCRIPTOR_DIM,) and not np.allclose(ma, dmc)
    assert ma[0] == pytest.approx(0.7408, abs=1e-3) and dmc[0] == pytest.approx(0.9008, abs=1e-3)  # M / 100 g/mol
    assert np.isfinite(np.stack([mol_descriptors(s) for s in VOCAB])).all()  # ions included
    plain, described = make("gnn_only"), make("gnn_only", mol_descriptors=True)
    assert MOLS.descriptors.shape == (len(VOCAB), DESCRIPTOR_DIM)
    with torch.no_grad():
        emb = described.encode(MOLS)
        shifted = described.encoder(MOLS.graphs, MOLS.descriptors + 1.0)
    assert emb.shape == plain.encode(MOLS).shape and not torch.allclose(emb, shifted.double())
    with pytest.raises(ValueError, match="descriptors"):
        described.encoder(MOLS.graphs)
    prop = get_property("ionic_conductivity")
    table = synthetic_conductivity_table(60)
    rows = np.arange(len(table))
    assert hyperparameters("gnn_only", prop, table, rows, TrainConfig(mol_descriptors=True))["mol_descriptors"]
    assert "mol_descriptors" not in hyperparameters("fingerprint", prop, table, rows, TrainConfig(mol_descriptors=True))
