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
