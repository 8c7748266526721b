"""Two designs compared member for member: is a difference on a split more than the seed?

One ensemble's test MAE on a group split moves by about a quarter with its seed (RESULTS.md, "The bounded prefactor
over more seeds"), so a design is judged against another over several seeds, each member of one paired with the
member of the other that had the same split: the same split seed (member k of a run with --seed S has split seed
S + k), or for a cross-validated split the same fold of the same fold seed. Pass every run of each design (e.g. the
components split with --seed 0, 5 and 10); members without a partner are left out and counted.

    .venv/bin/python -m benchmarks.paired_seeds --a RUN [RUN …] --b RUN [RUN …]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from scipy.stats import binomtest

from diffmix.settings import Settings
from model.data.loaders import load_table
from model.ensemble import CONFIG_FILE
from model.evaluate import evaluate_run
from model.splits import FOLD_SPLITS


def member_key(split: str, seed: int, k: int) -> tuple:
    """What makes member k of a run trained with --split split --seed seed comparable with another run's member."""
    return (split, seed, k) if split in FOLD_SPLITS else (split, seed + k)


def paired(a: dict[tuple, float], b: dict[tuple, float]) -> dict:
    """The paired comparison of per-member MAEs keyed by ``member_key``: means, the mean difference a − b with its
    standard error, how often a is lower, and the two-sided sign test's p for "neither is lower more often"."""
    keys = sorted(set(a) & set(b))
    if not keys:
        raise ValueError("no member of one design shares a split with a member of the other")
    x, y = np.array([a[k] for k in keys]), np.array([b[k] for k in keys])
    d = x - y
    lower = int((d < 0).sum())
    decided = int((d != 0).sum())
    return {"pairs": len(keys), "unpaired": len(set(a) ^ set(b)), "mean_a": float(x.mean()), "mean_b": float(y.mean()),
            "difference": float(d.mean()), "standard_error": float(d.std(ddof=1) / np.sqrt(len(d))) if len(d) > 1
            else float("nan"), "relative": float(d.mean() / y.mean()), "a_lower": lower,
            "sign_test_p": float(binomtest(lower, decided).pvalue) if decided else 1.0}


def member_maes(run: Path, table) -> dict[tuple, float]:
    """Each member's test MAE on its own test rows (``diffmix evaluate``'s), keyed by ``member_key``."""
    seed = int(json.loads((run / CONFIG_FILE).read_text())["seed"])
    m = evaluate_run(run, table)
    return {member_key(m.split, seed, k): mae for k, mae in enumerate(m.test_mae)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--a", type=Path, nargs="+", required=True, help="the runs of design A")
    ap.add_argument("--b", type=Path, nargs="+", required=True, help="the runs of design B (the reference)")
    args = ap.parse_args()
    prop = {json.loads((r / CONFIG_FILE).read_text())["property"] for r in [*args.a, *args.b]}
    if len(prop) != 1:
        raise SystemExit(f"the runs predict different properties: {', '.join(sorted(prop))}")
    table = load_table(prop.pop(), Settings().data_dir)[0]
    a = {k: v for r in args.a for k, v in member_maes(r, table).items()}
    b = {k: v for r in args.b for k, v in member_maes(r, table).items()}
    try:
        out = paired(a, b)
    except ValueError as e:
        raise SystemExit(str(e)) from None
    print(f"{out['pairs']} paired members ({out['unpaired']} without a partner): A {out['mean_a']:.4g}, "
          f"B {out['mean_b']:.4g}; A − B = {out['difference']:+.4g} ± {out['standard_error']:.2g} "
          f"({out['relative']:+.1%}); A lower in {out['a_lower']} of {out['pairs']}, sign test p = "
          f"{out['sign_test_p']:.2f}")


if __name__ == "__main__":
    main()
