"""The random-against-blends table (benchmarks/tradeoff.py): read from the training logs it names."""

import json

import pytest

from benchmarks.tradeoff import DESIGNS, LOGS, difference, logged_mae, logged_members, measured


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


def test_members_are_read_where_logged_and_a_difference_comes_with_its_interval(tmp_path):
    write_log(tmp_path, "old", 0.8)  # written before the members' MAEs were printed
    (tmp_path / "new.log").write_text(json.dumps({"test_mae": "0.8 ± 0.1", "member_test_mae": [0.7, 0.9]}) + "\n")
    assert logged_members("old", tmp_path) is None and logged_members("new", tmp_path) == [0.7, 0.9]
    [row] = measured({"d": ("old", ["new", "old"])}, tmp_path)
    assert row["members"] is None  # one seed without members: no pooled comparison rather than a partial one
    spread = [0.70, 0.85, 0.95, 0.78, 0.91, 0.66, 1.02, 0.80, 0.88, 0.74]
    d, lo, hi = difference(spread, spread)
    assert d == 0 and lo < 0 < hi  # a design against itself: no finding
    d, lo, hi = difference([v + 0.5 for v in spread], spread)
    assert d == pytest.approx(0.5) and 0.3 < lo < 0.5 < hi < 0.7  # a shift far beyond the spread is one
    assert difference(spread, spread[:5]) == difference(spread, spread[:5])  # seeded: the table reads the same twice
