"""The random-against-blends table (benchmarks/tradeoff.py): read from the training logs it names."""

import json

import pytest

from benchmarks.tradeoff import DESIGNS, LOGS, logged_mae, measured


def write_log(directory, name, mae):
    summary = {"out": "runs/x", "model": "diffmix", "split": "random", "test_mae": f"{mae} ± 0.01", "unit": "mS/cm"}
    (directory / f"{name}.log").write_text(json.dumps(summary) + "\n123.4 s\n")


def test_the_last_summary_counts_and_seeds_are_averaged(tmp_path):
    write_log(tmp_path, "r", 0.15)
    (tmp_path / "b0.log").write_text(json.dumps({"test_mae": "9.9 ± 1"}) + "\n" + json.dumps({"test_mae": "0.80 ± 0.1"}))
    write_log(tmp_path, "b1", 0.90)
    [row] = measured({"d": ("r", ["b0", "b1"])}, tmp_path)
    assert row["random"] == 0.15
    assert row["blends"] == pytest.approx(0.85)
    assert (row["blends_min"], row["blends_max"], row["seeds"]) == (0.80, 0.90, 2)


def test_a_log_without_a_summary_is_an_error_that_names_it(tmp_path):
    (tmp_path / "broken.log").write_text("Traceback …\n")
    with pytest.raises(ValueError, match="broken.log"):
        logged_mae("broken", tmp_path)


def test_every_log_the_table_names_is_committed():
    for random_log, blends_logs in DESIGNS.values():
        for name in (random_log, *blends_logs):
            assert logged_mae(name, LOGS) > 0
