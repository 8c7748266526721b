"""`diffmix evaluate`: Table 1, the order study and the temperature buckets, computed on each member's own test rows."""

import json

import numpy as np

from model.data.dataset import MixtureTable
from model.evaluate import bucket_of, evaluate_run, mixture_keys, report, save_splits
from model.mixture import Mixture
from model.properties import get_property
from model.train import TrainConfig, train_ensemble
from tests.helpers import synthetic_conductivity_table, synthetic_excess_table

QUICK = TrainConfig(max_epochs=3, patience=3, batch_size=128, hidden=16)


def _train(root, name, table, prop, kind, split, order=4):
    cfg = TrainConfig(**{**QUICK.__dict__, "order": order})
    ens, splits = train_ensemble(table, get_property(prop), kind, split, 2, 0, cfg, progress=False)
    ens.save(root / name)
    save_splits(root / name, splits)
    return root / name


def test_buckets_are_the_nearest_ten_degrees_including_above_sixty():
    t_c = np.array([-31.0, -25.1, -25.0, 0.0, 24.9, 25.0, 25.1, 59.0, 71.0, 80.0])
    assert bucket_of(t_c + 273.15).tolist() == [-30, -30, -20, 0, 20, 30, 30, 60, 70, 80]


def test_mixture_keys_ignore_component_order_and_temperature_but_not_composition():
    a = Mixture(("O=C1OCCO1", "COC(=O)OC"), (0.3, 0.7), 280.0)
    b = Mixture(("COC(=O)OC", "O=C1OCCO1"), (0.7, 0.3), 320.0)  # same mixture, listed the other way round, hotter
    c = Mixture(("O=C1OCCO1", "COC(=O)OC"), (0.4, 0.6), 280.0)
    k = mixture_keys(MixtureTable.from_mixtures([a, b, c], [1.0, 2.0, 3.0]))
    assert k[0] == k[1] and k[0] != k[2]


def test_temperature_split_reports_buckets_only_above_the_training_range(tmp_path):
    table = synthetic_conductivity_table(300)
    run = _train(tmp_path, "kt", table, "ionic_conductivity", "diffmix", "temperature")
    m = evaluate_run(run, table)
    assert m.split == "temperature" and len(m.test_mae) == 2
    assert m.bucket_mae and all(int(c) >= 20 for c in m.bucket_mae)  # the test rows are all > 20 °C
    assert set(m.bucket_mae_seen) <= set(m.bucket_mae)
    # the bucket means, weighted by their row counts, give back each member's test MAE
    from model.evaluate import load_splits

    t = table.T[load_splits(run)[0].test]
    counts = {str(c): int((bucket_of(t) == c).sum()) for c in np.unique(bucket_of(t))}
    weighted = sum(m.bucket_mae[c][0] * n for c, n in counts.items()) / sum(counts.values())
    assert np.isclose(weighted, m.test_mae[0], rtol=1e-5)


def test_report_prints_table1_order_study_and_buckets_and_writes_plots(tmp_path):
    runs, plots = tmp_path / "runs", tmp_path / "plots"
    h = synthetic_excess_table(200)
    k = synthetic_conductivity_table(200)
    for n in (0, 4):
        _train(runs, f"h{n}", h, "excess_molar_enthalpy", "diffmix", "random", order=n)
    _train(runs, "hg", h, "excess_molar_enthalpy", "gnn_only", "random")
    _train(runs, "hl", h, "excess_molar_enthalpy", "linear_mixing", "random")
    _train(runs, "hf", h, "excess_molar_enthalpy", "fingerprint", "random")
    _train(runs, "kt", k, "ionic_conductivity", "gnn_only", "temperature")
    text = report(runs, {"excess_molar_enthalpy": h, "ionic_conductivity": k}, plots)
    assert "## Table 1" in text and "## Order study" in text and "## MAE per temperature bucket" in text
    study = text.split("## Order study")[1].split("##")[0]
    # linear mixing first, then N ascending, then GNN-only; the fingerprint model is no part of the order study
    rows = [line.split("|")[2].strip() for line in study.splitlines() if line.startswith("| excess")]
    assert rows == ["linear_mixing", "diffmix (N=0)", "diffmix (N=4)", "gnn_only"]
    metrics = {(m["label"], m["split"]): m for m in json.loads((plots / "metrics.json").read_text())}
    # permutation invariance shows in the numbers: equal for DiffMix and GNN-only, not for the fingerprint model
    for name in ("diffmix (N=4)", "gnn_only"):
        assert np.allclose(metrics[(name, "random")]["test_mae"], metrics[(name, "random")]["permuted_mae"], rtol=1e-4)
    fp = metrics[("fingerprint", "random")]
    assert not np.allclose(fp["test_mae"], fp["permuted_mae"], rtol=1e-4)
    for png in ("excess_molar_enthalpy_models.png", "excess_molar_enthalpy_order_study.png",
                "excess_molar_enthalpy_parity.png", "temperature_buckets.png"):
        assert (plots / png).stat().st_size > 5000, png


EC, PC, DMC, TFP = "O=C1OCCO1", "CC1COC(=O)O1", "COC(=O)OC", "O=P(OCC(F)(F)F)(OCC(F)(F)F)OCC(F)(F)F"
LI, PF6 = "[Li+]", "F[P-](F)(F)(F)(F)F"


def _electrolyte(solvents, T=298.15):
    xs = 0.08
    rest = (1 - 2 * xs) / len(solvents)
    return Mixture((LI, PF6, *solvents), (xs, xs, *[rest] * len(solvents)), T)


def test_blend_novelty_tells_taught_pairs_from_new_pairs_and_new_molecules():
    from model.evaluate import blend_novelty
    from model.splits import Split

    rows = [_electrolyte(s) for s in ((EC, DMC), (EC, PC), (PC, DMC), (EC, PC),  # training: every pair of EC/PC/DMC
                                      (EC, PC, DMC), (EC, PC, TFP), (PC, DMC, EC))]
    table = MixtureTable.from_mixtures(rows, [1.0] * len(rows))
    split = Split(np.array([0, 1, 2]), np.array([3]), np.array([4, 5, 6]))
    assert blend_novelty(table, split).tolist() == ["pairs taught", "new molecule", "pairs taught"]
    # without the PC:DMC binary, the same ternary leans on a pair no training row holds
    split = Split(np.array([0, 1]), np.array([3]), np.array([4, 5]))
    assert blend_novelty(table, split).tolist() == ["new pair", "new molecule"]



def test_an_ensemble_row_is_as_novel_as_it_is_to_the_member_that_learnt_least():
    from model.evaluate import ensemble_novelty
    from model.splits import Split

    rows = [_electrolyte(s) for s in ((EC, DMC), (EC, PC), (PC, DMC), (EC, PC, DMC))]
    table = MixtureTable.from_mixtures(rows, [1.0] * len(rows))
    taught = Split(np.array([0, 1, 2]), np.array([], dtype=int), np.array([3]))
    no_pc_dmc = Split(np.array([0, 1]), np.array([2]), np.array([3]))  # the PC:DMC binary drawn for validation
    test = np.array([3])
    assert ensemble_novelty(table, [taught, taught], test).tolist() == ["pairs taught"]
    assert ensemble_novelty(table, [taught, no_pc_dmc], test).tolist() == ["new pair"]
    assert ensemble_novelty(table, [no_pc_dmc, taught], test).tolist() == ["new pair"]


def test_publication_slopes_separate_an_offset_from_a_temperature_slope():
    from model.evaluate import publication_slopes

    T = np.tile(np.linspace(263.15, 333.15, 8), 3)
    labels = np.repeat(["offset", "slope", "narrow"], 8)
    log_ratio = np.concatenate([np.full(8, -0.3),                     # 26 % low at every temperature
                                0.01 * (T[8:16] - 298.15),            # right at 25 °C, +0.1 per 10 °C
                                np.full(8, 0.5)])
    T[16:] = np.linspace(298.15, 308.15, 8)                           # 10 K: too narrow to say anything
    found = {g: (level, slope) for g, level, slope in publication_slopes(labels, T, log_ratio)}
    assert set(found) == {"offset", "slope"}
    assert np.allclose(found["offset"], (-0.3, 0.0), atol=1e-9)
    assert np.allclose(found["slope"], (0.0, 0.1), atol=1e-9)


def test_one_point_levels_take_each_publications_ratio_at_its_row_nearest_25_c():
    from model.evaluate import one_point_levels

    labels = np.array(["a", "a", "a", "b", "b", "b"])
    T = np.array([263.15, 299.15, 297.15, 330.0, 320.0, 318.15 + 0.0])  # a: 26 and 24 °C tie, the first wins
    log_ratio = np.array([-0.5, -0.3, -0.2, 0.1, 0.2, 0.4])
    level, anchor = one_point_levels(labels, T, log_ratio)
    assert anchor.tolist() == [False, True, False, False, False, True]
    assert level.tolist() == [-0.3, -0.3, -0.3, 0.4, 0.4, 0.4]
    # a publication whose ratio is one constant is exact after its level is taken out
    pred, y = np.exp(np.full(6, -0.3)) * 5.0, np.full(6, 5.0)
    level, _ = one_point_levels(labels, T, np.log(pred / y))
    assert np.allclose(pred * np.exp(-level), y, rtol=1e-12)


def test_a_level_is_taken_only_from_a_row_where_both_conductivities_are_measurable():
    from model.evaluate import one_point_levels

    labels = np.array(["a", "a", "a", "b", "b"])
    T = np.array([298.15, 308.15, 318.15, 298.15, 308.15])
    pred = np.array([1e-9, 6.0, 7.0, 1e-4, 2e-4])  # a's row at 25 °C predicted near zero; b has no usable row
    y = np.array([0.5, 5.0, 6.0, 0.02, 0.03])
    level, anchor = one_point_levels(labels, T, np.log(pred / y), (pred >= 0.1) & (y >= 0.1))
    assert anchor.tolist() == [False, True, False, False, False]  # the nearest usable row, 35 °C
    assert np.allclose(level, [np.log(1.2)] * 3 + [0.0, 0.0])  # b keeps its prediction as it is
    # without the floor a's level would multiply its other rows by 5e8
    unguarded, _ = one_point_levels(labels, T, np.log(pred / y))
    assert np.exp(-unguarded[1]) > 1e8


def test_the_publication_split_reports_the_bias_once_each_publications_level_is_known(tmp_path):
    rng = np.random.default_rng(1)
    systems = [(EC, DMC), (EC, PC), (PC, DMC)]
    rows, y, doi = [], [], []
    for k in range(240):
        t = rng.uniform(250.0, 330.0)
        rows.append(_electrolyte(systems[k % 3], t))
        lab = k % 8
        y.append(20.0 * np.exp(-600.0 / (t - 160.0)) * (0.5 + 0.2 * lab))  # each lab its own level
        doi.append(f"paper {lab}")
    table = MixtureTable.from_mixtures(rows, y, {"doi": doi, "system": ["-".join(systems[k % 3]) for k in range(240)]})
    runs = tmp_path / "runs"
    _train(runs, "kp", table, "ionic_conductivity", "diffmix", "publication")
    m = evaluate_run(runs / "kp", table)
    assert m.split == "publication" and set(m.bucket_bias_levelled) == {"publication", "publication and system"}
    for bias in m.bucket_bias_levelled.values():
        assert set(bias) <= set(m.bucket_bias) and all(len(v) == 2 for v in bias.values())  # one per member
    text = report(runs, {"ionic_conductivity": table}, tmp_path / "plots")
    assert "| publication, the level of each publication from one row |" in text
    assert "| publication, the level of each publication and system from one row |" in text


def test_the_blends_split_report_breaks_the_error_down_by_what_the_binaries_taught(tmp_path):
    rng = np.random.default_rng(0)
    systems = [(EC, DMC), (EC, PC), (PC, DMC), (EC, PC, DMC)]
    rows, y, doi, names = [], [], [], []
    for k in range(240):
        s = systems[k % 4]
        t = rng.uniform(260.0, 330.0)
        rows.append(_electrolyte(s, t))
        y.append(20.0 * np.exp(-600.0 / (t - 160.0)) * (1.0 + 0.3 * len(s)))
        doi.append(f"paper {k % 6}")
        names.append("-".join(s))
    table = MixtureTable.from_mixtures(rows, y, {"system": names, "doi": doi})
    runs = tmp_path / "runs"
    _train(runs, "kb", table, "ionic_conductivity", "diffmix", "blends")
    m = evaluate_run(runs / "kb", table)
    assert m.split == "blends"
    # every test row is the ternary, whose three pairs the binaries taught
    assert m.novelty_mae["n pairs taught"] == [60.0, 60.0] and m.novelty_mae["n new pair"] == [0.0, 0.0]
    assert np.allclose(m.novelty_mae["pairs taught"], m.test_mae, rtol=1e-6)
    # the ternaries (every fourth row) come from papers 1, 3 and 5, each over ~70 K: a level and a slope for each
    assert m.publication_slope["publications"] == [3.0, 3.0]
    text = report(runs, {"ionic_conductivity": table}, tmp_path / "plots")
    assert "## The blends split by what the binaries taught" in text
    assert "## ln(predicted / measured) within each test publication" in text


def test_a_runs_label_names_each_way_it_differs_from_the_shipped_conductivity_design():
    import torch

    from model.ensemble import Ensemble
    from model.evaluate import label
    from model.nn.models import build

    k, h = get_property("ionic_conductivity"), get_property("excess_molar_enthalpy")

    def ens(prop, kind, hyper, train_config=None):
        torch.manual_seed(0)
        m = build(kind, prop.law, log_scale=prop.log_scale, hidden=8, gnn_layers=1, **hyper)
        return Ensemble([m], prop, kind, {"hidden": 8, "gnn_layers": 1, **hyper}, {"train_config": train_config or {}})

    head = {"anchor_temperature_K": 298.15, "max_prefactor": 3000.0}
    shipped = {"like_pairs": True, **head}
    assert label(ens(k, "diffmix", shipped)) == "diffmix"
    assert label(ens(k, "diffmix", head)) == "diffmix, pairs a ≠ b"  # a checkpoint from before like pairs
    assert label(ens(k, "diffmix", {})) == "diffmix, ln A head, A unbounded, pairs a ≠ b"  # and before the head
    assert label(ens(k, "diffmix", {**head, "solvent_pairs": False})) == "diffmix, no solvent–solvent pairs"
    assert label(ens(k, "diffmix", shipped, {"blend_consistency": 1.0})) == "diffmix, blend consistency 1"
    assert label(ens(k, "diffmix", {**head, "blend_order": 2})) == "diffmix, blend law (n=2), pairs a ≠ b"
    assert label(ens(k, "diffmix", shipped, {"head_weight_decay": 3e-4, "head_decay_modules": "pair",
                                                          "weight_ema": 0.997, "blend_consistency": 0.0})) == \
        "diffmix, head decay 0.0003 (pair), weight average 0.997"
    assert label(ens(k, "diffmix", shipped, {"head_weight_decay": 1e-4, "weight_ema": None})) == \
        "diffmix, head decay 0.0001"
    assert label(ens(k, "gnn_only", {})) == "gnn_only"
    assert label(ens(k, "diffmix", {**shipped, "walden": 1.0, "permittivity": True})) == \
        "diffmix, Walden 1, ion pairing"
    assert label(ens(k, "gnn_only", {"walden": 0.5})) == "gnn_only, Walden 0.5"
    # the VFT head shipped since 2026-12-04 (level at 25 °C, A ≤ 3,000 mS/cm) goes unnamed; every other is named
    assert label(ens(k, "diffmix", {"like_pairs": True})) == "diffmix, ln A head, A unbounded"
    assert label(ens(k, "diffmix", {"like_pairs": True, "max_prefactor": 3000.0})) == "diffmix, ln A head"
    assert label(ens(k, "diffmix", {"like_pairs": True, "anchor_temperature_K": 298.15})) == "diffmix, A unbounded"
    assert label(ens(k, "diffmix", {**shipped, "bound_sharpness": 4.0})) == "diffmix, A ≤ 3000 mS/cm (sharpness 4)"
    assert label(ens(k, "diffmix", {**shipped, "anchor_temperature_K": 273.15, "max_prefactor": 1000.0})) == \
        "diffmix, level at 273.15 K, A ≤ 1000 mS/cm"
    assert label(ens(h, "diffmix", {"order": 4, "target_scale": 1.0})) == "diffmix (N=4)"
    assert label(ens(k, "diffmix", {**shipped, "permittivity": True, "salt_dielectric": True})) == \
        "diffmix, ion pairing, salt-raised ε"
    assert label(ens(k, "diffmix", {**shipped, "walden": 1.0, "walden_learned": True, "permittivity": True,
                                    "ion_association": True})) == "diffmix, Walden 1, learned, ion pairing, mass action"
    rows_validated = ens(k, "gnn_only", {})
    rows_validated.info["validate"] = "rows"
    assert label(rows_validated) == "gnn_only, validated on rows"


def test_member_test_predictions_are_each_members_own_rows_and_refuse_other_data(tmp_path):
    import dataclasses

    import pytest

    from model.data.dataset import Batcher
    from model.ensemble import Ensemble
    from model.errors import DiffMixInputError
    from model.evaluate import load_splits, member_test_predictions, shared_test_predictions
    from model.train import predict_rows

    table = synthetic_conductivity_table(200)
    ens, stored = train_ensemble(table, get_property("ionic_conductivity"), "diffmix", "random", 2, 0, QUICK,
                                 progress=False, data_info={"file": "synthetic.csv", "rows_kept": len(table)})
    run = tmp_path / "k"
    ens.save(run)
    save_splits(run, stored)
    members, splits = Ensemble.load(run).members, load_splits(run, table)
    got = list(member_test_predictions(run, table))
    assert [k for k, *_ in got] == [0, 1]
    for (k, split, rows, pred), member in zip(got, members):
        assert np.array_equal(rows, splits[k].test) and np.array_equal(split.train, splits[k].train)
        assert np.array_equal(pred, predict_rows(member, Batcher(table), rows))
    # a selection of the test rows, and a member with none of them is left out rather than reported as empty
    warm = list(member_test_predictions(run, table, select=lambda s: s.test[table.T[s.test] > 320.0]))
    assert all((table.T[rows] > 320.0).all() for _, _, rows, _ in warm)
    assert list(member_test_predictions(run, table, select=lambda s: s.test[:0])) == []
    # the rows every member tests on, for the ensemble mean, and a selection of them
    _, shared, preds = shared_test_predictions(run, table)
    assert shared.tolist() == sorted(set(splits[0].test.tolist()) & set(splits[1].test.tolist()))
    assert preds.shape == (2, len(shared))
    assert np.array_equal(preds[1], predict_rows(members[1], Batcher(table), shared))
    _, none, empty = shared_test_predictions(run, table, select=lambda rows: rows[:0])
    assert len(none) == 0 and empty.shape == (2, 0)
    # on data with another row count the stored row numbers would score the wrong rows: refused before any prediction
    fewer = dataclasses.replace(table, idx=table.idx[:-5], x=table.x[:-5], T=table.T[:-5], P=table.P[:-5], y=table.y[:-5])
    with pytest.raises(DiffMixInputError, match="was trained on 200 rows of synthetic.csv"):
        next(member_test_predictions(run, fewer))
