"""Does the domain's pair check measure anything? Each member's test rows, judged by the domain of that member's own
training rows, fall into three classes: in the domain; out only because two of their solvents never occur together in
a training row (``Domain._pair_reasons``); out for any other reason. Per class: member-rows and MAE (the members'
mean), for each run given.

On the blends split every test row has more solvents than any training mixture; that one reason is set aside there
(the domain judged as if it allowed any number of solvents), so that what the pairs add can be seen.

    .venv/bin/python -m benchmarks.domain_pairs RUN_DIR [RUN_DIR …]
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.data.dataset import Batcher, MixtureTable
from model.data.loaders import load_table
from model.domain import Domain
from model.ensemble import CONFIG_FILE
from model.evaluate import member_test_predictions, row_mixture

CLASSES = ("in domain", "out: a pair only", "out: other reasons")


def pair_classes(domain: Domain, table: MixtureTable, rows: np.ndarray, any_solvent_count: bool = False) -> np.ndarray:
    """One label of CLASSES per row: in ``domain``; out of it, but in the same domain without its pair record; or
    out of both. ``any_solvent_count``: judge as if training had held blends of any number of solvents."""
    if any_solvent_count:
        domain = replace(domain, max_solvents=np.iinfo(np.int32).max)
    no_pairs = replace(domain, pairs=None)
    labels = []
    for r in rows:
        mixture = row_mixture(table, int(r))
        if domain.check(mixture).in_domain:
            labels.append(CLASSES[0])
        else:
            labels.append(CLASSES[1] if no_pairs.check(mixture).in_domain else CLASSES[2])
    return np.array(labels, dtype=object)


def class_errors(member_labels: list[np.ndarray], member_err: list[np.ndarray]) -> dict[str, tuple[int, float, int]]:
    """Per class: member-rows, the members' mean MAE (over the members that have such rows), and how many members
    had some."""
    out = {}
    for c in CLASSES:
        maes = [float(np.abs(e[lab == c]).mean()) for lab, e in zip(member_labels, member_err) if (lab == c).any()]
        rows = sum(int((lab == c).sum()) for lab in member_labels)
        out[c] = (rows, float(np.mean(maes)) if maes else float("nan"), len(maes))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", type=Path, nargs="+")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    batcher = Batcher(table)
    for run in args.runs:
        split = str(json.loads((run / CONFIG_FILE).read_text()).get("split"))
        labels, errors = [], []
        for _, sp, rows, pred in member_test_predictions(run, table, batcher):
            labels.append(pair_classes(Domain.build(table, sp.train), table, rows, any_solvent_count=split == "blends"))
            errors.append(pred - table.y[rows])
        print(f"{run} ({split} split{'; any number of solvents allowed' if split == 'blends' else ''})")
        for c, (n, mae, members) in class_errors(labels, errors).items():
            print(f"  {c:20s} member-rows {n:6d}  MAE {mae:6.3f} mS/cm  ({members} members)")


if __name__ == "__main__":
    main()
