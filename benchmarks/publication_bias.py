"""Each member's signed bias (predicted − measured, mS/cm) on each of its test publications, cold and warm: what the
per-bucket bias of the publication split averages over. A small bucket bias can be publications of both signs
cancelling; this shows whether it is.

    .venv/bin/python -m benchmarks.publication_bias RUN_DIR [--warm-from 45]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from scipy.constants import zero_Celsius

from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.evaluate import member_test_predictions


def member_publication_bias(run: Path, table, batcher: Batcher, warm_from_c: float) -> list[dict]:
    """One row per member, test publication and band (below / from ``warm_from_c``): rows, bias, mean measured κ."""
    out = []
    for k, _, rows, pred in member_test_predictions(run, table, batcher):
        err = pred - table.y[rows]
        warm = table.T[rows] - zero_Celsius >= warm_from_c
        doi = np.asarray(table.groups["doi"])[rows].astype(str)
        for d in np.unique(doi):
            for band, mask in (("cold", (doi == d) & ~warm), ("warm", (doi == d) & warm)):
                if mask.any():
                    out.append({"member": k, "doi": d, "band": band, "rows": int(mask.sum()),
                                "bias": float(err[mask].mean()), "kappa": float(table.y[rows][mask].mean())})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--warm-from", type=float, default=45.0, help="°C where the warm band starts")
    args = ap.parse_args()
    table = load_table("ionic_conductivity", Settings().data_dir)[0]
    rows = member_publication_bias(args.run, table, Batcher(table), args.warm_from)
    for r in rows:
        print(f"member {r['member']}  {r['doi']:40s} {r['band']}  rows {r['rows']:5d}  bias {r['bias']:+.3f}  "
              f"measured {r['kappa']:.2f} mS/cm")
    warm = np.array([r["bias"] for r in rows if r["band"] == "warm"])
    if len(warm):
        print(f"warm band: {len(warm)} member-publication pairs, bias {warm.min():+.2f} … {warm.max():+.2f}, "
              f"{(warm > 0).sum()} above zero")


if __name__ == "__main__":
    main()
