"""The blend-between-its-binaries term (model.consistency): its blends, its loss, and its place in training."""

import numpy as np
import pytest
import torch

from model.consistency import BlendConsistency
from model.data.dataset import MixtureTable
from model.mixture import Mixture
from model.nn.models import build
from model.properties import get_property
from model.splits import make_split, neutral_species
from model.train import TrainConfig, fit_member, fit_members
from tests.helpers import IONS, SOLVENTS, synthetic_conductivity_table, synthetic_excess_table


def test_each_blend_is_a_training_binary_with_a_third_solvent_and_its_sub_blends_keep_its_proportions():
    table = synthetic_conductivity_table(80)
    rows = np.arange(60)
    pool = BlendConsistency(table, rows, pool=50, seed=3)
    neutral = neutral_species(pool.table)
    def key(present):
        return tuple(sorted((i, round(v, 9)) for i, v in present))

    sources = {key(table.present(int(r))) for r in rows}
    for k in range(pool.pool):
        blend, *subs = (dict(pool.table.present(4 * k + j)) for j in range(4))
        solvents = [i for i in blend if neutral[i]]
        ions = {i: v for i, v in blend.items() if not neutral[i]}
        assert len(solvents) == 3 and len(ions) == 2
        assert sum(blend.values()) == pytest.approx(1.0)
        total = sum(blend[i] for i in solvents)
        for sub in subs:
            pair = [i for i in sub if neutral[i]]
            assert len(pair) == 2 and set(pair) < set(solvents)
            assert {i: v for i, v in sub.items() if not neutral[i]} == pytest.approx(ions)
            assert sum(sub[i] for i in pair) == pytest.approx(total)
            assert sub[pair[0]] / sub[pair[1]] == pytest.approx(blend[pair[0]] / blend[pair[1]])  # the blend's proportion
        # one sub-blend is the training row the blend was made from
        assert any(key(sub.items()) in sources for sub in subs)
        assert pool.table.T[4 * k] == pool.table.T[4 * k + 1] == pool.table.T[4 * k + 3]


def test_the_loss_is_the_distance_outside_the_sub_blends_band_and_moves_only_the_blend():
    table = synthetic_conductivity_table(60)
    pool = BlendConsistency(table, np.arange(60), pool=30, seed=0)
    torch.manual_seed(0)
    model = build("diffmix", "vft", log_scale=True, hidden=16, gnn_layers=1, like_pairs=True)
    loss = pool.loss(model, 30, np.random.default_rng(5))
    picks = np.random.default_rng(5).integers(0, 30, size=30)
    with torch.no_grad():
        log_k = model.log_forward(*pool.batcher.batch((4 * picks[:, None] + np.arange(4)).ravel()).args()).view(30, 4)
    lo, hi = log_k[:, 1:].min(1).values, log_k[:, 1:].max(1).values
    expected = (torch.relu(lo - log_k[:, 0]) + torch.relu(log_k[:, 0] - hi)).mean()
    assert float(loss.detach()) == pytest.approx(float(expected), rel=1e-5)
    # a blend inside its band costs nothing; one at twice its highest sub-blend costs ln 2
    inside = torch.stack([(lo + hi) / 2, lo, hi, hi], dim=1)
    outside = torch.stack([hi + np.log(2.0), lo, hi, hi], dim=1)
    for log_values, want in ((inside, 0.0), (outside, np.log(2.0))):
        log_values = log_values.clone().requires_grad_(True)
        model.log_mix = lambda *a, v=log_values: v.reshape(-1)  # the law's output replaced by known values
        value = pool.loss(model, 30, np.random.default_rng(5))
        assert float(value.detach()) == pytest.approx(want, abs=1e-6)
        value.backward()
        assert torch.all(log_values.grad[:, 1:] == 0)  # the sub-blends are held fixed
        assert torch.all(log_values.grad[:, 0] == (1 / 30 if want else 0))  # the blend is pulled into the band


def test_rows_without_a_salt_in_two_solvents_are_refused_clearly():
    one_solvent = MixtureTable.from_mixtures(
        [Mixture((IONS[0], IONS[1], s), (0.05, 0.05, 0.9), 298.15) for s in SOLVENTS], np.ones(len(SOLVENTS)))
    with pytest.raises(ValueError, match="two solvents"):
        BlendConsistency(one_solvent, np.arange(len(SOLVENTS)))


def pair_excess_table(n: int = 300, seed: int = 0) -> MixtureTable:
    """LiPF6 in two-solvent blends whose conductivity carries a strong factor of its own for every solvent pair, so
    what a third solvent does is not fixed by the pure solvents."""
    rng = np.random.default_rng(seed)
    f = np.exp(rng.normal(0, 1.5, (6, 6)))
    f = (f + f.T) / 2
    mixtures, y = [], []
    for _ in range(n):
        a, b = rng.choice(6, 2, replace=False)
        xs, w, t = rng.uniform(0.02, 0.12), rng.uniform(0.1, 0.9), rng.uniform(250, 340)
        mixtures.append(Mixture((IONS[0], IONS[1], SOLVENTS[a], SOLVENTS[b]),
                                (xs, xs, (1 - 2 * xs) * w, (1 - 2 * xs) * (1 - w)), t))
        y.append(300 * xs * np.exp(-700 / (t - 150)) * f[a, b] * (1 + 4 * w * (1 - w)))
    return MixtureTable.from_mixtures(mixtures, y, {"system": ["s"] * n, "doi": ["d"] * n})


def test_training_with_the_term_holds_blends_between_their_binaries():
    """The same member (the earlier pair design, which leaves blends freer) trained with and without the term: with
    it, the pool's blends leave their band by less than half as much."""
    table = pair_excess_table()
    prop = get_property("ionic_conductivity")
    split = make_split(table, "random", 0)
    pool = BlendConsistency(table, split.train, pool=400, seed=9)
    outside = {}
    for weight in (0.0, 3.0):
        cfg = TrainConfig(max_epochs=30, patience=30, batch_size=64, lr=3e-3, hidden=16, like_pairs=False,
                          blend_consistency=weight)
        model, _, info = fit_member(table, split, prop, "diffmix", cfg, seed=0, progress=False)
        assert np.isfinite(info["best_val_mae"])
        with torch.no_grad():
            outside[weight] = float(pool.loss(model, 400, np.random.default_rng(0)))
    assert outside[0.0] > 0
    assert outside[3.0] < 0.5 * outside[0.0]


def test_the_term_is_refused_for_an_excess_property():
    table = synthetic_excess_table(60)
    split = make_split(table, "random", 0)
    with pytest.raises(ValueError, match="a term for conductivity"):  # before any member trains
        fit_members(table, get_property("excess_molar_enthalpy"), "diffmix", TrainConfig(blend_consistency=1.0),
                    [split], [0], progress=False)

