"""Which held-out systems carry a group-split run's error? Each member on its own test rows (a components-split
member holds out other systems than its neighbours), per held-out group: rows, MAE, signed bias (predicted −
measured) and the mean measured value, largest total error first.

    .venv/bin/python -m benchmarks.held_out_systems RUN_DIR [--top 12]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.ensemble import CONFIG_FILE
from model.evaluate import member_test_predictions
from model.splits import HELD_OUT_GROUP


def group_errors(groups: np.ndarray, member_rows: list[np.ndarray], member_err: list[np.ndarray],
                 measured: np.ndarray, members: list[int] | None = None) -> list[dict]:
    """One entry per (member, held-out group): ``groups`` [N] labels of every row, each member's test rows and its
    errors on them (predicted − measured), ``measured`` [N], the members' indices (default 0, 1, …); sorted by total
    |error|, largest first."""
    out = []
    for k, rows, err in zip(members or range(len(member_rows)), member_rows, member_err):
        labels = groups[rows]
        for g in np.unique(labels):
            sel = labels == g
            out.append({"member": k, "group": str(g), "rows": int(sel.sum()), "mae": float(np.abs(err[sel]).mean()),
                        "bias": float(err[sel].mean()), "measured": float(measured[rows][sel].mean()),
                        "total": float(np.abs(err[sel]).sum())})
    return sorted(out, key=lambda d: -d["total"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    split = json.loads((args.run / CONFIG_FILE).read_text()).get("split")
    key = HELD_OUT_GROUP.get(str(split))
    if key is None:
        raise SystemExit(f"{args.run} is a {split!r} run; this lists the groups of a group split "
                         f"({', '.join(HELD_OUT_GROUP)})")
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    scored = list(member_test_predictions(args.run, table, Batcher(table)))
    rows = [r for _, _, r, _ in scored]
    err = [pred - table.y[r] for _, _, r, pred in scored]
    total = sum(float(np.abs(e).sum()) for e in err)
    print(f"{args.run}: {split} split, held-out {key}s; total |error| {total:.0f} mS/cm over "
          f"{sum(len(r) for r in rows)} member-rows")
    members = [k for k, _, _, _ in scored]
    for d in group_errors(np.asarray(table.groups[key]).astype(str), rows, err, table.y, members)[:args.top]:
        print(f"  member {d['member']}  {d['group'][:60]:60s} rows {d['rows']:4d}  MAE {d['mae']:6.2f}  "
              f"bias {d['bias']:+6.2f}  measured {d['measured']:5.1f}  share {d['total'] / total:5.1%}")


if __name__ == "__main__":
    main()
