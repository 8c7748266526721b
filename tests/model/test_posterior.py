"""The campaign posterior (DiffMix prior × residual GP), the learning strategy and the BoTorch baseline."""

from dataclasses import replace

import numpy as np
import pytest
import torch

# the lab of these tests, which benchmarks/finetune_pull.py also measures fine-tuning on: it reads 15 % low, and its
# DMC-rich blends conduct less than DiffMix thinks
from benchmarks.finetune_pull import lab as world
from model.optimize.design import DesignSpec
from model.optimize.posterior import Hyper, Observation, Posterior
from model.optimize.proposals import propose
from model.predict import Predictor

LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"
PC, EC, DMC = "CC1COC(=O)O1", "O=C1OCCO1", "COC(=O)OC"


@pytest.fixture(scope="module")
def objective():
    ens = Predictor.load("ionic_conductivity").ensemble.to(torch.float64)  # exact finite differences
    spec = DesignSpec.parse({"space": {"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction_range": [0.05, 0.1]},
                             "temperature_K": 298.15})
    return spec.objective_for(ens)


def measurements(objective, k, seed=0):
    z = objective.space.random_points(k, np.random.default_rng(seed))
    return [Observation(z[i], 298.15, float(v)) for i, v in enumerate(world(objective, z))]


def test_with_no_data_the_posterior_is_the_prior(objective):
    z = objective.space.random_points(6, np.random.default_rng(1))
    post = Posterior(objective, [])
    mean, std = post.predict_numpy(z, 298.15)
    _, prior_mean, prior_std, _ = objective.evaluate(z, gradient=False)
    np.testing.assert_allclose(mean, prior_mean, rtol=1e-5)
    # the prior's std: the calibrated ensemble spread (as the std of ln κ of a log-normal), with the floor's, the
    # campaign-wide offset's and the salt trend's priors (the salt variable in units of its range, centred)
    h = Hyper()
    spread = np.log1p((prior_std / prior_mean) ** 2)
    f = (z[:, -1] - 0.05) / (0.1 - 0.05) - 0.5
    expected = prior_mean * np.sqrt(h.signal ** 2 * spread + h.floor ** 2 + h.offset ** 2 + (h.salt_trend * f) ** 2)
    np.testing.assert_allclose(std, expected, rtol=1e-4)
    assert post.diagnostics().n == 0 and post.diagnostics().loo_mae is None


def test_it_interpolates_the_measurements_within_their_noise(objective):
    obs = measurements(objective, 15)
    post = Posterior(objective, obs)
    mean, std = post.predict_numpy(np.array([o.z for o in obs]), 298.15)
    measured = np.array([o.measured for o in obs])
    rel = np.abs(mean - measured) / measured
    assert rel.max() < 3 * post.hyper.noise + 0.01, rel.max()
    prior = np.array([np.exp(v) for v in post.prior(torch.as_tensor(np.array([o.z for o in obs])),
                                                    torch.full((15,), 298.15)).log_mean.numpy()])
    assert np.mean(np.abs(mean - measured)) < 0.2 * np.mean(np.abs(prior - measured))
    assert (std < 0.5 * Posterior(objective, []).predict_numpy(np.array([o.z for o in obs]), 298.15)[1]).all()


def test_it_learns_an_unseen_point_and_its_leave_one_out_beats_the_prior(objective):
    post = Posterior(objective, measurements(objective, 16))
    z_new = objective.space.random_points(20, np.random.default_rng(99))
    mean, std = post.predict_numpy(z_new, 298.15)
    truth = world(objective, z_new)
    _, prior, _, _ = objective.evaluate(z_new, gradient=False)
    assert np.mean(np.abs(mean - truth)) < 0.5 * np.mean(np.abs(prior - truth))
    d = post.diagnostics()
    assert d.n == 16 and d.loo_mae < 0.5 * d.prior_mae and 0.5 <= d.coverage_2sigma <= 1.0


def test_gradients_agree_with_finite_differences(objective):
    post = Posterior(objective, measurements(objective, 8))
    z0 = objective.space.random_points(3, np.random.default_rng(5))
    T = torch.full((3,), 298.15, dtype=torch.float64)
    z = torch.as_tensor(z0).requires_grad_(True)
    mean, std = post.predict(z, T)
    (g_mean,) = torch.autograd.grad(mean.sum(), z, retain_graph=True)
    (g_std,) = torch.autograd.grad(std.sum(), z)
    h = 1e-5
    for j in range(z0.shape[1]):
        e = np.zeros_like(z0)
        e[:, j] = h
        mp, sp = post.predict_numpy(z0 + e, 298.15)
        mm, sm = post.predict_numpy(z0 - e, 298.15)
        np.testing.assert_allclose(g_mean[:, j].numpy(), (mp - mm) / (2 * h), rtol=2e-3, atol=2e-3)
        np.testing.assert_allclose(g_std[:, j].numpy(), (sp - sm) / (2 * h), rtol=2e-3, atol=2e-3)


def test_a_pending_point_keeps_the_mean_and_loses_its_variance(objective):
    post = Posterior(objective, measurements(objective, 6))
    z = objective.space.random_points(1, np.random.default_rng(7))
    m0, s0 = post.predict_numpy(z, 298.15)
    pending = post.with_pending(z, 298.15)
    m1, s1 = pending.predict_numpy(z, 298.15)
    # each model observes the averaged mean there with the fantasy's tiny noise (1e-6 in ln κ): the mean moves by
    # that much where the two models disagree
    np.testing.assert_allclose(m1, m0, rtol=1e-4)
    assert s1[0] < 0.05 * s0[0]
    assert len(pending.pending_z) == 1 and pending.diagnostics().loo_mae is None  # fantasies are not measurements
    with pytest.raises(RuntimeError):
        pending.fit()


def test_learning_proposes_elsewhere_when_its_first_choice_is_pending(objective):
    from dataclasses import replace

    post = Posterior(objective, measurements(objective, 8))
    first = propose(replace(objective, posterior=post), 1, seed=3, strategy="learning", min_distance=0.05)[0]
    busy = replace(objective, posterior=post.with_pending(first.z[None], 298.15))
    again = propose(busy, 1, seed=3, strategy="learning", min_distance=0.05)[0]
    assert np.max(np.abs(again.z - first.z)) > 0.02
    batch = propose(replace(objective, posterior=post), 4, seed=3, strategy="learning", min_distance=0.05)
    assert len(batch) == 4 and objective.space.is_feasible(np.array([p.z for p in batch])).all()
    zs = np.array([p.z for p in batch])
    assert min(np.max(np.abs(zs[i] - zs[j])) for i in range(4) for j in range(i)) >= 0.04  # diverse (after snapping)


def test_learning_may_refine_a_measured_point_but_never_repeats_a_pending_one(objective):
    from dataclasses import replace

    from model.optimize.proposals import REFINE_DISTANCE

    post = Posterior(objective, measurements(objective, 8))
    first = propose(replace(objective, posterior=post), 1, seed=3, strategy="learning", min_distance=0.05,
                    resolution=0)[0]
    # a measurement 0.02 away from the posterior's best: exploring points keep 0.05 from it, the exploiting one
    # may refine it (the incumbent of a campaign is refined this way)
    measured = objective.space.project(first.z + np.r_[0.02, -0.02, 0.0, 0.0])[0]
    again = propose(replace(objective, posterior=post), 1, seed=3, strategy="learning", min_distance=0.05,
                    avoid=[measured], resolution=0)[0]
    assert REFINE_DISTANCE <= np.max(np.abs(again.z - measured)) < 0.05
    # the same point pending instead: the batch goes elsewhere
    busy = replace(objective, posterior=post.with_pending(measured[None], 298.15))
    elsewhere = propose(busy, 1, seed=3, strategy="learning", min_distance=0.05, avoid=[measured], resolution=0)[0]
    assert np.max(np.abs(elsewhere.z - measured)) >= 0.05


def test_a_salt_trend_learned_in_one_blend_carries_to_a_blend_far_away(objective):
    """A lab whose κ falls with salt content faster than DiffMix thinks (its ions pair more), measured along the
    salt in one blend only: the posterior carries the tilt to a blend well beyond the composition length scale,
    which the Matérn term alone cannot (its correlation there is nearly gone)."""
    lo, hi = 0.05, 0.1
    here = np.array([[0.1, 0.1, 0.8, f] for f in np.linspace(lo, hi, 6)])
    tilt = 0.4  # ln κ falls by 0.4 across the salt range, relative to DiffMix

    def lab(z):
        _, v, _, _ = objective.evaluate(np.atleast_2d(z), gradient=False)
        return v * np.exp(-tilt * (np.atleast_2d(z)[:, -1] - lo) / (hi - lo))

    obs = [Observation(z, 298.15, float(v)) for z, v in zip(here, lab(here))]
    far = np.array([[0.8, 0.1, 0.1, lo], [0.8, 0.1, 0.1, hi]])  # 0.7 away in two shares
    hyper = Hyper(length_composition=0.2)
    learned = []
    for trend in (1.0, 1e-4):
        post = Posterior(objective, obs, hyper=replace(hyper, salt_trend=trend), fit=False, prior_free=False)
        mean, _ = post.predict_numpy(far, 298.15)
        _, prior, _, _ = objective.evaluate(far, gradient=False)
        g = np.log(mean / prior)
        learned.append(g[1] - g[0])  # the correction's change across the salt range, far away
    with_trend, without = learned
    assert with_trend < -0.5 * tilt, learned
    assert abs(without) < 0.1 * tilt, learned
    # a fitted posterior finds the trend by itself and carries most of it
    fitted = Posterior(objective, obs, prior_free=False)
    mean, _ = fitted.predict_numpy(far, 298.15)
    _, prior, _, _ = objective.evaluate(far, gradient=False)
    g = np.log(mean / prior)
    assert fitted.hyper.salt_trend > Hyper.salt_trend and g[1] - g[0] < -0.5 * tilt, (fitted.hyper, g)


def test_the_salt_trend_is_absent_where_the_salt_is_fixed():
    ens = Predictor.load("ionic_conductivity").ensemble
    spec = DesignSpec.parse({"space": {"salt": LIPF6, "solvents": [PC, EC, DMC], "salt_fraction": 0.08},
                             "temperature_K": 298.15})
    post = Posterior(spec.objective_for(ens), [], hyper=Hyper(salt_trend=5.0))
    z = np.array([[0.3, 0.3, 0.4, 0.08]])
    _, std = post.predict_numpy(z, 298.15)
    _, with_less = Posterior(spec.objective_for(ens), [], hyper=Hyper(salt_trend=1e-3)).predict_numpy(z, 298.15)
    np.testing.assert_allclose(std, with_less)


def test_a_proposals_std_is_that_of_the_measurement(objective):
    post = Posterior(objective, measurements(objective, 8))
    batch = propose(replace(objective, posterior=post), 3, seed=1, strategy="learning", min_distance=0.05)
    zs = np.array([p.z for p in batch])
    latent_mean, latent_std = post.predict_numpy(zs, 298.15)
    reported = np.array([p.std for p in batch])
    np.testing.assert_allclose(reported, np.sqrt(latent_std ** 2 + (latent_mean * post.noise) ** 2), rtol=1e-6)
    assert (reported > latent_std).all()


def test_the_kernel_has_a_length_scale_of_its_own_along_the_salt(objective):
    post = Posterior(objective, [], hyper=Hyper(length_composition=0.5, length_salt=0.1))
    base = np.array([0.3, 0.3, 0.4, 0.06])
    salt_step = base + np.r_[0.0, 0.0, 0.0, 0.1 * (0.1 - 0.05)]  # 10 % of the salt range
    share_step = base + np.r_[0.1, 0.0, -0.1, 0.0]  # 0.1 of two shares
    T = torch.full((1,), 298.15, dtype=torch.float64)
    gp = post.physics
    U = [gp.features(torch.as_tensor(z[None]), T) for z in (base, salt_step, share_step)]
    one = torch.ones(1, dtype=torch.float64)
    k = [float(gp._kernel(gp._tensors(gp.hyper), U[0], one, u, one)[0, 0]) for u in U]
    assert k[1] < k[2] < k[0]  # a short salt length scale decorrelates along the salt first


def test_learning_needs_a_posterior(objective):
    with pytest.raises(ValueError, match="posterior"):
        propose(objective, 2, seed=0, strategy="learning")


def test_the_botorch_baseline_proposes_feasible_distinct_points(objective):
    from dataclasses import replace

    post = Posterior(objective, measurements(objective, 6))
    batch = propose(replace(objective, posterior=post), 3, seed=0, strategy="botorch")
    zs = np.array([p.z for p in batch])
    assert len(batch) == 3 and objective.space.is_feasible(zs).all()
    first = propose(replace(objective, posterior=Posterior(objective, [])), 3, seed=0, strategy="botorch")
    assert objective.space.is_feasible(np.array([p.z for p in first])).all()  # no data yet: a random start


def test_a_measurement_must_be_positive():
    from model.errors import DiffMixInputError

    with pytest.raises(DiffMixInputError):
        Observation(np.array([0.5, 0.5, 0.08]), 298.15, 0.0)


def test_the_finetuned_design_fits_the_measurements_and_stays_near_the_prior_without_them(objective):
    from model.optimize.loop import posterior_for

    assert posterior_for(objective, [], surrogate="finetune").predict_numpy(
        objective.space.random_points(2, np.random.default_rng(0)), 298.15)[0] == pytest.approx(
        objective.evaluate(objective.space.random_points(2, np.random.default_rng(0)), gradient=False)[1], rel=1e-5)
    obs = measurements(objective, 12)
    post = posterior_for(objective, obs, surrogate="finetune", seed=1)
    z = np.array([o.z for o in obs])
    measured = np.array([o.measured for o in obs])
    mean, std = post.predict_numpy(z, 298.15)
    _, prior, _, _ = objective.evaluate(z, gradient=False)
    # in-sample: 0.05 of the prior's error with the pull of 0.1; the pull of 30 set for the ln A head left the
    # anchored, bounded head at 0.67 (and the ln A head at 0.34); RESULTS.md, session 14
    assert np.mean(np.abs(mean - measured)) < 0.2 * np.mean(np.abs(prior - measured))
    # and where the lab did not measure: 300 other blends, 0.06 of the prior's error (the pull of 30: 0.70)
    zt = objective.space.random_points(300, np.random.default_rng(99))
    _, prior_t, _, _ = objective.evaluate(zt, gradient=False)
    yt = world(objective, zt)
    assert np.mean(np.abs(post.predict_numpy(zt, 298.15)[0] - yt)) < 0.2 * np.mean(np.abs(prior_t - yt))
    assert (std > 0).all() and post.diagnostics().n == 12  # bootstraps keep a spread; no GP diagnostics
    # that spread is the std as it is: the base's factor was calibrated for members that never saw the data
    assert post.objective.std_scale == 1.0 and objective.std_scale > 5
    assert objective.ensemble.members[0] is not post.objective.ensemble.members[0]  # the shipped weights untouched
    with pytest.raises(ValueError, match="surrogate"):
        posterior_for(objective, obs, surrogate="kriging")


def test_the_learning_pool_holds_the_binary_and_ternary_blends_of_a_five_solvent_space():
    from model.optimize.proposals import POOL_EDGE, POOL_FACE, _face_points

    dec, emc = "CCOC(=O)OCC", "CCOC(=O)OC"
    spec = DesignSpec.parse({"space": {"salt": LIPF6, "solvents": [EC, PC, DMC, emc, dec],
                                       "salt_fraction_range": [0.03, 0.12]}, "temperature_K": 298.15})
    space = spec.objective_for(Predictor.load("ionic_conductivity").ensemble).space
    z = _face_points(space, np.random.default_rng(0))
    nonzero = (z[:, :5] > 1e-12).sum(1)
    assert len(z) == 10 * POOL_EDGE + 10 * POOL_FACE and space.is_feasible(z).all()
    assert (nonzero == 2).sum() == 10 * POOL_EDGE and (nonzero == 3).sum() == 10 * POOL_FACE
    assert {tuple(np.flatnonzero(r[:5] > 1e-12)) for r in z[nonzero == 2]} == {(i, j) for i in range(5) for j in range(i + 1, 5)}
    assert ((z[:, 5] >= 0.03 - 1e-12) & (z[:, 5] <= 0.12 + 1e-12)).all()


def test_the_spread_in_ln_kappa_is_the_log_normals_and_differentiable_where_the_members_agree():
    from model.optimize.posterior import log_normal_sd

    rel = torch.tensor([0.0, 1e-6, 0.05, 1.0, 20.0], dtype=torch.float64, requires_grad=True)
    sd = log_normal_sd(rel)
    np.testing.assert_allclose(sd.detach().numpy(), np.sqrt(np.log1p(rel.detach().numpy() ** 2)), rtol=1e-9, atol=1e-12)
    (grad,) = torch.autograd.grad(sd.sum(), rel)
    assert torch.isfinite(grad).all() and grad[0] == pytest.approx(1.0)  # ≈ rel where DiffMix is sure
    assert sd[4] < 2.5  # 20× disagreement is a spread of 2.45 in ln κ, not 20


def test_a_failed_hyperparameter_fit_keeps_the_prior_and_says_so(objective, monkeypatch, caplog):
    """If even the jittered Cholesky fails during the fit, the posterior keeps the prior's hyperparameters and logs
    a warning (it used to fall back silently)."""
    import model.optimize.posterior as posterior

    post = Posterior(objective, measurements(objective, 6), prior_free=False)
    real = posterior._cholesky
    calls = {"n": 0}

    def failing(K):
        calls["n"] += 1
        if calls["n"] == 1:  # the fit's first evaluation
            raise torch.linalg.LinAlgError("not positive definite")
        return real(K)

    monkeypatch.setattr(posterior, "_cholesky", failing)
    with caplog.at_level("WARNING", logger="model.optimize.posterior"):
        hyper = post.fit()
    assert hyper == posterior.PRIOR and post.hyper == posterior.PRIOR
    assert "hyperparameter fit failed on 6 measurements" in caplog.text


def test_a_posterior_stored_before_the_salt_trend_is_rebuilt_without_one():
    stored = {k: v for k, v in Hyper().as_dict().items() if k != "salt_trend"}
    assert Hyper.from_dict(stored).salt_trend == 0.0
    assert Hyper.from_dict(Hyper(salt_trend=0.7).as_dict()).salt_trend == 0.7


def test_finetuning_refuses_what_it_cannot_fit_and_names_it(objective):
    from model.errors import DiffMixInputError
    from model.finetune import finetune
    from model.mixture import Mixture

    space = objective.space
    z = space.random_points(2, np.random.default_rng(0))
    mixtures = [Mixture(tuple(space.species), tuple(space.species_dict(p).values()), 298.15) for p in z]
    with pytest.raises(DiffMixInputError, match="one measurement per mixture"):
        finetune(objective.ensemble, mixtures, np.array([8.0]))
    with pytest.raises(DiffMixInputError, match="positive and finite"):
        finetune(objective.ensemble, mixtures, np.array([8.0, -1.0]))
    for pull in (-1.0, float("nan")):
        with pytest.raises(DiffMixInputError, match="pull toward the pretrained weights is a weight ≥ 0"):
            finetune(objective.ensemble, mixtures, np.array([8.0, 9.0]), penalty=pull)


def test_the_prior_free_gp_knows_nothing_of_diffmix(objective):
    from model.optimize.posterior import PriorFreeGP

    obs = measurements(objective, 8)
    gp = PriorFreeGP(objective, obs)
    z = torch.as_tensor(objective.space.random_points(5, np.random.default_rng(2)))
    prior = gp.prior(z, torch.full((5,), 298.15, dtype=torch.float64))
    # its prior is flat at the measurements' mean ln κ, with no ensemble spread
    np.testing.assert_allclose(prior.log_mean.numpy(), np.mean(np.log([o.measured for o in obs])))
    assert (prior.rel_std == 0).all() and gp.hyper != Hyper()


def _lab_of(objective, f, k=12, seed=0):
    z = objective.space.random_points(k, np.random.default_rng(seed))
    return [Observation(p, 298.15, float(v)) for p, v in zip(z, f(z))]


def test_the_lab_agrees_with_diffmix_when_it_reads_diffmix_times_a_factor(objective):
    obs = _lab_of(objective, lambda z: 0.8 * objective.evaluate(z, gradient=False)[1])
    ev = Posterior(objective, obs).evidence
    assert ev.n == 12 and ev.prior_weight > 0.9 and not ev.disagrees, ev
    assert "agrees with DiffMix" in ev.summary
    few = Posterior(objective, obs[:2]).evidence
    assert few.prior_weight == 1.0 and "too few measurements" in few.summary
    alone = Posterior(objective, obs, prior_free=False).evidence  # a fine-tuned design, or a version stored before
    assert alone.prior_weight == 1.0 and "DiffMix's alone" in alone.summary and alone.as_dict()["disagrees"] is False


def test_the_lab_overrules_diffmix_where_it_contradicts_it_and_the_campaign_follows_the_measurements(objective):
    """A lab whose κ is flat where DiffMix sees structure: the prior-free GP explains it, the evidence says so in
    words, and the campaign posterior's mean follows the lab, not DiffMix."""
    obs = _lab_of(objective, lambda z: np.full(len(z), 6.0) * (1 + 0.005 * np.random.default_rng(1).standard_normal(len(z))))
    post = Posterior(objective, obs)
    ev = post.evidence
    assert ev.disagrees and ev.prior_weight < 0.2 and ev.conflict > 1.5, ev
    assert ev.summary.startswith("the lab disagrees with DiffMix here; proposals now rely on the measurements")
    z_new = objective.space.random_points(30, np.random.default_rng(50))
    mean, std = post.predict_numpy(z_new, 298.15)
    assert np.all(np.abs(mean / 6.0 - 1) < 0.1), mean
    d = post.diagnostics()
    assert d.evidence["disagrees"] is True and d.free_hyper and d.loo_mae < 0.2


def test_a_learning_batch_records_its_sources_and_its_first_batch_fills_the_space(objective):
    from model.optimize.proposals import Source, batch_plan

    assert batch_plan(4, 0) == [Source.exploit, Source.exploit, Source.space_filling, Source.space_filling]
    assert batch_plan(4, 8) == [Source.exploit, Source.exploit, Source.space_filling, Source.prior_free]
    assert batch_plan(4, 8, trusted=False) == [Source.exploit, Source.exploit, Source.explore, Source.prior_free]
    assert batch_plan(2, 8) == [Source.exploit, Source.prior_free] and batch_plan(1, 8) == [Source.exploit]
    assert batch_plan(3, 0) == [Source.exploit, Source.exploit, Source.space_filling] and batch_plan(0, 3) == []
    first = propose(replace(objective, posterior=Posterior(objective, [])), 4, seed=0, strategy="learning",
                    min_distance=0.05)
    assert [p.source for p in first] == batch_plan(4, 0)
    zs = np.array([p.z for p in first])
    # the space-filling points lie far from DiffMix's choices (a uniform pair would be ~0.3 apart on this space)
    assert min(np.max(np.abs(zs[i, :3] - zs[j, :3])) for i in (2, 3) for j in (0, 1)) > 0.3
    later = propose(replace(objective, posterior=Posterior(objective, measurements(objective, 8))), 4, seed=0,
                    strategy="learning", min_distance=0.05)
    assert [p.source for p in later] == batch_plan(4, 8, trusted=True)
    assert all(p.experiment(objective)["source"] == str(p.source) for p in later)
