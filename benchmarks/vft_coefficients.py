"""Are a conductivity model's VFT coefficients where real electrolytes' are?

First the reference: a VFT curve (T0 ≤ VOGEL_T_MAX_K, least squares in ln κ) fitted to every CALiSol-23 composition
series with at least six temperatures, and the spread of its (ln A, B, T0). Then, for a trained DiffMix run, each
member's coefficients on its own training rows and on the test rows at or above ``--hot`` °C: where they leave the
range the training rows span, the law is being extrapolated in composition as well as in temperature.

    .venv/bin/python -m benchmarks.vft_coefficients runs/k_diffmix_temperature [--hot 125]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from benchmarks.vft_extrapolation import composition_series, fit_vft
from diffmix.settings import Settings
from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.evaluate import load_run
from model.properties import VOGEL_T_MAX_K

MIN_TEMPERATURES = 6
PERCENTILES = (1, 5, 50, 95, 99)
NAMES = ("ln A (A in mS/cm)", "B (K)", "T0 (K)")


def spread(values: np.ndarray) -> str:
    return " / ".join(f"{np.percentile(values, q):.1f}" for q in PERCENTILES)


def series_fits(table) -> np.ndarray:
    """(ln A, B, T0) of every series with ≥ MIN_TEMPERATURES distinct temperatures, [series, 3]."""
    fits = []
    for rows in composition_series(table).values():
        rows = table.usable(np.asarray(rows))
        if len(np.unique(table.T[rows])) >= MIN_TEMPERATURES:
            fits.append(fit_vft(table.T[rows], table.y[rows], VOGEL_T_MAX_K, 0.0)[1])
    return np.array(fits)


@torch.no_grad()
def member_coefficients(member, batcher: Batcher, rows: np.ndarray) -> np.ndarray:
    member.eval()
    out = []
    for b in batcher.batches(rows, 8192):
        mols, idx, x, t, p = b.args()
        out.append(torch.stack(member.vft_coefficients(member.encode(mols), idx, x, t, p), dim=1).double().numpy())
    return np.concatenate(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path, help="a DiffMix conductivity run (diffmix train --out)")
    ap.add_argument("--hot", type=float, default=125.0, help="test rows at or above this temperature (°C)")
    args = ap.parse_args()
    table, _ = load_table("ionic_conductivity", Settings().data_dir)
    fits = series_fits(table)
    print(f"VFT fitted per series ({len(fits)} series with ≥ {MIN_TEMPERATURES} temperatures), "
          f"percentiles {'/'.join(map(str, PERCENTILES))}:")
    for j, name in enumerate(NAMES):
        print(f"  {name:18s} {spread(fits[:, j])}")
    ens, splits = load_run(args.run, table)
    if ens.kind != "diffmix" or ens.property.name != "ionic_conductivity":
        raise SystemExit(f"{args.run} is not a DiffMix conductivity run")
    batcher = Batcher(table)
    print(f"\n{args.run}: each member's coefficients on its training rows | on test rows ≥ {args.hot:g} °C")
    for k, (member, split) in enumerate(zip(ens.members, splits)):
        hot = split.test[table.T[split.test] >= args.hot + 273.15]
        train = member_coefficients(member, batcher, split.train)
        test = member_coefficients(member, batcher, hot) if len(hot) else None
        for j, name in enumerate(NAMES):
            right = spread(test[:, j]) if test is not None else "no rows"
            print(f"  member {k} {name:18s} {spread(train[:, j]):32s} | {right}  ({len(hot)} rows)")


if __name__ == "__main__":
    main()
