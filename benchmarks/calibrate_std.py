"""Calibrate the shipped conductivity ensemble's std on publications it never saw, and write the factor into it.

An ensemble's spread is not a standard deviation until it is calibrated: on measurements from publications the
members never saw, ±2·spread covers far fewer than 95 % of them. This script
1. holds out whole publications (drawn at random until they hold ``--held-out`` of the rows); no member sees them;
2. trains five members exactly like the shipped ones (their train_config, and each on its own random 8:1:1 split
   of the remaining rows, which is where the shipped ensemble's spread comes from);
3. splits the held-out publications at random into two halves, a calibration half and a report half, finds the
   factor s for which ±2·s·spread covers 95 % of the calibration half (the 0.95 quantile of |error| / spread,
   divided by 2), and reports the ±2σ coverage of the report half before and after;
4. with --write, stores ``std_calibration`` in the model's config.json (default models/ionic_conductivity; read by
   Ensemble.std_scale).

It also reports, without writing it, a two-term alternative: σ² = (s·spread)² + (r·mean)², a multiple of the
spread plus a floor relative to the value (a new lab's offset from the literature, which the members' spread cannot
see), s and r fitted by Gaussian likelihood on the calibration half and then scaled together to the same 95 %; its
coverage, its likelihood and its median σ / mean on the report half, beside the one factor's.

    .venv/bin/python -m benchmarks.calibrate_std [--data-dir ../shared/data] [--model DIR] [--write]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from model.data.dataset import Batcher
from model.data.loaders import load_table
from model.predict import model_dir
from model.properties import get_property
from model.splits import Split
from model.train import TrainConfig, available_cores, fit_members, predict_rows

OUT_PREDICTIONS = "/tmp/calibrate_std_predictions.npz"  # the held-out predictions, kept for inspection
COVERAGE = 0.95
MAX_ROWS_PER_PUBLICATION = 700  # held-out publications are drawn among those with at most this many rows


def coverage(err: np.ndarray, std: np.ndarray, scale: float) -> float:
    """Share of rows with |error| ≤ 2·scale·std."""
    return float(np.mean(err <= 2 * scale * std))


def gaussian_nll(err: np.ndarray, std: np.ndarray) -> float:
    """Σ ln σ + e² / 2σ² (the constant left out): lower is better, and it punishes a σ too wide as well as too narrow."""
    return float(np.sum(np.log(std) + 0.5 * (err / std) ** 2))


def floored_std(s: float, r: float, spread: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """σ = √((s·spread)² + (r·mean)²): a multiple of the members' spread plus a floor relative to the value."""
    return np.sqrt((s * spread) ** 2 + (r * mean) ** 2).clip(min=1e-12)


def fit_floor(err: np.ndarray, spread: np.ndarray, mean: np.ndarray) -> tuple[float, float]:
    """(s, r) of ``floored_std`` by maximum Gaussian likelihood of the errors ``err``; then both
    multiplied by one factor so that ±2σ covers COVERAGE of the rows (the likelihood fixes their ratio, the quantile
    their level, as for the one factor)."""
    def sigma(log_sr: np.ndarray) -> np.ndarray:
        return floored_std(*np.exp(log_sr), spread, mean)

    fit = minimize(lambda q: gaussian_nll(err, sigma(q)), np.log([5.0, 0.05]), method="Nelder-Mead",
                   options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 4000})
    level = float(np.quantile(np.abs(err) / sigma(fit.x), COVERAGE) / 2.0)
    s, r = np.exp(fit.x) * level
    return float(s), float(r)


def held_out_predictions(table, prop, cfg: TrainConfig, rest: np.ndarray, test: np.ndarray, n_members: int,
                         workers: int) -> np.ndarray:
    """[K, N] predictions on the held-out rows ``test`` of K members trained like the shipped ones on ``rest``."""
    splits = []
    for k in range(n_members):
        perm = np.random.default_rng(k).permutation(rest)
        n_tr, n_val = int(0.8 * len(perm)), int(0.1 * len(perm))
        splits.append(Split(np.sort(perm[:n_tr]), np.sort(perm[n_tr:n_tr + n_val]), np.sort(perm[n_tr + n_val:])))
    # side by side, one thread each, like `diffmix train` (a member depends on its split, seed and thread count)
    members = [r[0] for r in fit_members(table, prop, "diffmix", cfg, splits, list(range(n_members)),
                                         workers=workers or available_cores(), desc="members")]
    batcher = Batcher(table)
    return np.stack([predict_rows(m, batcher, test) for m in members])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--model", default=None, help="the ensemble to calibrate (default: the shipped conductivity model)")
    ap.add_argument("--members", type=int, default=5)
    ap.add_argument("--workers", type=int, default=0, help="members trained at once (0: one per core)")
    ap.add_argument("--held-out", type=float, default=0.15, help="share of the rows held out, by publication")
    ap.add_argument("--write", action="store_true", help="store the factor in the calibrated model's config.json")
    ap.add_argument("--from-predictions", type=Path, default=None,
                    help=f"skip training: score the held-out predictions an earlier run saved ({OUT_PREDICTIONS})")
    args = ap.parse_args()
    prop = get_property("ionic_conductivity")
    shipped = Path(args.model) if args.model else model_dir(prop.name)
    cfg_json = json.loads((shipped / "config.json").read_text())
    cfg = TrainConfig.from_saved(cfg_json["train_config"])
    table, _ = load_table(prop.name, args.data_dir)
    rng = np.random.default_rng(0)
    doi = np.asarray(table.groups["doi"])
    held: list[str] = []
    pubs_all, sizes = np.unique(doi, return_counts=True)
    small = pubs_all[sizes <= MAX_ROWS_PER_PUBLICATION]  # many publications, so that their halves mean something
    for p in rng.permutation(small):
        if np.isin(doi, held).mean() >= args.held_out:
            break
        held.append(p)
    # rows of a published erratum (model.data.errata) are neither trained nor scored on
    in_held = np.isin(doi, held)
    test = table.usable(np.flatnonzero(in_held))
    rest = table.usable(np.flatnonzero(~in_held))
    t0 = time.time()
    if args.from_predictions is not None:
        saved = np.load(args.from_predictions)
        if not np.array_equal(saved["test"], test):
            raise SystemExit(f"{args.from_predictions} holds predictions for other held-out rows (another --held-out "
                             "or data set); train again without --from-predictions")
        preds = saved["preds"]
    else:
        preds = held_out_predictions(table, prop, cfg, rest, test, args.members, args.workers)
        np.savez_compressed(OUT_PREDICTIONS, preds=preds, test=test)
    train_s = time.time() - t0
    y = table.y[test]
    mean, spread = preds.mean(0), preds.std(0, ddof=1)
    err = np.abs(mean - y)
    dois = doi[test]
    pubs = np.unique(dois)
    cal_pubs = set(np.random.default_rng(1).permutation(pubs)[: len(pubs) // 2].tolist())
    dois = dois.tolist()
    cal = np.array([d in cal_pubs for d in dois])
    rep = ~cal
    if cal.sum() == 0 or rep.sum() == 0:
        raise SystemExit(f"only {len(pubs)} publications held out: raise --held-out")
    ratio = err[cal] / np.maximum(spread[cal], 1e-9)
    scale = float(np.quantile(ratio, COVERAGE) / 2.0)
    s_floor, r_floor = fit_floor((mean - y)[cal], spread[cal], mean[cal])
    one_sd = np.maximum(scale * spread[rep], 1e-12)
    floor_sd = floored_std(s_floor, r_floor, spread[rep], mean[rep])
    result = {
        "std_scale": round(scale, 4),
        "method": (f"0.95 quantile of |error|/spread / 2 on half of {len(pubs)} publications ({len(test)} rows) that "
                   f"none of {args.members} members trained like the shipped ones saw"),
        "calibration_rows": int(cal.sum()), "calibration_publications": len(cal_pubs),
        "report_rows": int(rep.sum()), "report_publications": int(len(pubs) - len(cal_pubs)),
        "coverage_2sigma_before": round(coverage(err[rep], spread[rep], 1.0), 4),
        "coverage_2sigma_after": round(coverage(err[rep], spread[rep], scale), 4),
        "coverage_2sigma_before_all_test": round(coverage(err, spread, 1.0), 4),
        "test_mae": round(float(err.mean()), 4),
    } | ({} if args.from_predictions else {"train_seconds": round(train_s, 1)})
    alternative = {
        "spread_factor": round(s_floor, 4), "relative_floor": round(r_floor, 4),
        "coverage_2sigma_report": round(coverage(err[rep], floor_sd, 1.0), 4),
        "gaussian_nll_report": round(gaussian_nll(err[rep], floor_sd), 1),
        "one_factor_gaussian_nll_report": round(gaussian_nll(err[rep], one_sd), 1),
        "median_std_over_mean_report": round(float(np.median(floor_sd / mean[rep])), 4),
        "one_factor_median_std_over_mean_report": round(float(np.median(one_sd / mean[rep])), 4),
    }
    print("a spread factor and a floor relative to the value (reported, not written):", json.dumps(alternative))
    print(json.dumps(result, indent=2))
    if args.write:
        cfg_json["std_calibration"] = result
        (shipped / "config.json").write_text(json.dumps(cfg_json, indent=2, sort_keys=True) + "\n")
        print(f"wrote std_calibration into {Path(shipped) / 'config.json'}")


if __name__ == "__main__":
    main()
