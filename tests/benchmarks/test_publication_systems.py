"""One publication's error by system (benchmarks/publication_systems.py): the ensemble mean on shared test rows."""

import numpy as np
import pytest

from benchmarks.publication_systems import system_errors
from model.data.dataset import Batcher
from model.evaluate import load_run, save_splits
from model.properties import get_property
from model.train import TrainConfig, predict_rows, train_ensemble
from tests.helpers import synthetic_conductivity_table


def test_a_publications_error_is_split_by_system_from_the_ensemble_mean(tmp_path):
    table = synthetic_conductivity_table(300)
    ens, splits = train_ensemble(table, get_property("ionic_conductivity"), "diffmix", "temperature", 2, 0,
                                 TrainConfig(max_epochs=2, patience=2, batch_size=128, hidden=8), progress=False)
    ens.save(tmp_path / "k")
    save_splits(tmp_path / "k", splits)
    doi = np.asarray(table.groups["doi"]).astype(str)
    test = splits[0].test  # the temperature split: every member tests on the same rows
    publication = doi[test][0]
    mae, systems = system_errors(tmp_path / "k", table, Batcher(table), publication)
    rows = test[doi[test] == publication]
    members, _ = load_run(tmp_path / "k", table)
    err = np.mean([predict_rows(m, Batcher(table), rows) for m in members.members], axis=0) - table.y[rows]
    assert mae == pytest.approx(np.abs(err).mean())
    assert sum(s["rows"] for s in systems) == len(rows)
    assert [s["total"] for s in systems] == sorted((s["total"] for s in systems), reverse=True)
    assert sum(s["total"] for s in systems) == pytest.approx(np.abs(err).sum())
    with pytest.raises(SystemExit, match="no shared test rows"):
        system_errors(tmp_path / "k", table, Batcher(table), "10.0000/none")
