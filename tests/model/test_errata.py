"""Published errata: rows of a publication known to be wrong stay in the table (row numbers, and so every stored
split, are unchanged) but no split trains, validates or scores on them."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from model.data.errata import ERRATA, Erratum, excluded_rows
from model.data.loaders import load_table
from model.evaluate import load_splits, save_splits
from model.splits import FOLD_SPLITS, SPLITS, make_split

WRONG = ERRATA[0].doi  # the listed CALiSol-23 publication
COLUMNS = ["doi", "k", "T", "c", "salt", "c units", "solvent ratio type", "EC", "DMC", "DEC"]


def write_calisol(directory, n_per_doi: int = 30):
    """Six publications of LiPF6 in one to three carbonates at −20 … 60 °C; the listed one among them."""
    rng = np.random.default_rng(0)
    rows = []
    for doi in ["p1", "p2", WRONG, "p3", "p4", "p5"]:
        for r in range(n_per_doi):
            n_solv = 1 + r % 3
            w = np.zeros(3)
            w[:n_solv] = rng.uniform(0.2, 1.0, n_solv)
            rows.append([doi, 0.1 if doi == WRONG else rng.uniform(2, 12), rng.uniform(253, 333), 1.0, "LiPF6",
                         "mol/kg", "w", *(w / w.sum())])
    pd.DataFrame(rows, columns=COLUMNS).to_csv(directory / "calisol23.csv", index=False)


def test_excluded_rows_marks_each_listed_publication_of_that_file_and_counts_it():
    dois = np.array(["a", "b", "a", "c"])
    listed = (Erratum("f.csv", "a", "why a"), Erratum("f.csv", "z", "why z"), Erratum("g.csv", "b", "other file"))
    mask, report = excluded_rows("f.csv", dois, listed)
    assert mask.tolist() == [True, False, True, False]
    assert report == {"a": {"rows": 2, "reason": "why a"}, "z": {"rows": 0, "reason": "why z"}}


def test_the_table_keeps_every_row_and_marks_the_errata(tmp_path):
    write_calisol(tmp_path)
    table, info = load_table("ionic_conductivity", tmp_path)
    kept, _ = load_table("ionic_conductivity", tmp_path, errata=False)
    assert len(table) == len(kept) == 180 and info["rows_kept"] == 180
    assert info["errata"][WRONG]["rows"] == 30 and "mS/cm" in info["errata"][WRONG]["reason"]
    assert table.excluded.sum() == 30 and (table.groups["doi"][table.excluded] == WRONG).all()
    assert kept.excluded is None
    assert table.permuted(3).excluded is table.excluded  # the permutation test scores the same rows


@pytest.mark.parametrize("kind", SPLITS)
def test_a_listed_erratum_leaves_its_rows_out_and_moves_no_other_row(tmp_path, kind):
    write_calisol(tmp_path)
    table, _ = load_table("ionic_conductivity", tmp_path)
    kept, _ = load_table("ionic_conductivity", tmp_path, errata=False)
    for seed in range(3):
        folds = {"fold": seed, "folds": 3} if kind in FOLD_SPLITS else {}  # the fixture has three systems
        with_errata, without = make_split(kept, kind, seed, **folds), make_split(table, kind, seed, **folds)
        for part in ("train", "val", "test"):
            rows = getattr(without, part)
            assert not table.excluded[rows].any()
            assert np.array_equal(rows, table.usable(getattr(with_errata, part)))
        assert len(without.train) + len(without.val) + len(without.test) == len(table) - 30


def test_a_run_stored_before_the_listing_is_scored_without_those_rows(tmp_path):
    write_calisol(tmp_path)
    table, _ = load_table("ionic_conductivity", tmp_path)
    kept, _ = load_table("ionic_conductivity", tmp_path, errata=False)
    old = [make_split(kept, "random", s) for s in range(2)]
    assert any(table.excluded[s.test].any() for s in old)
    save_splits(tmp_path, old)
    for before, now in zip(old, load_splits(tmp_path, table)):
        assert np.array_equal(now.test, table.usable(before.test)) and not table.excluded[now.test].any()
        assert np.array_equal(now.train, before.train)  # what the member learnt from is history
    assert all(np.array_equal(a.test, b.test) for a, b in zip(old, load_splits(tmp_path)))


def test_train_records_the_errata_and_keep_errata_takes_them_back(tmp_path):
    from model.cli import app

    write_calisol(tmp_path)
    runs = {}
    for name, extra in (("listed", []), ("kept", ["--keep-errata"])):
        out = tmp_path / name
        r = CliRunner().invoke(app, ["train", "--property", "ionic_conductivity", "--model", "linear_mixing",
                                     "--ensemble", "1", "--max-epochs", "1", "--data-dir", str(tmp_path),
                                     "--out", str(out), "--no-progress", *extra])
        assert r.exit_code == 0, r.output
        runs[name] = (json.loads((out / "config.json").read_text())["data"], load_splits(out)[0])
    table, _ = load_table("ionic_conductivity", tmp_path)
    info, split = runs["listed"]
    assert info["errata"][WRONG]["rows"] == 30
    assert not table.excluded[np.concatenate([split.train, split.val, split.test])].any()
    info, split = runs["kept"]
    assert info["errata"] == {} and table.excluded[np.concatenate([split.train, split.val, split.test])].sum() == 30
