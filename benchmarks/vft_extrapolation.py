"""How far can the VFT law itself extrapolate CALiSol-23 conductivity from cold to warm?

For every composition series (one mixture measured at several temperatures) with at least four distinct
temperatures at or below 20 °C and at least one above, fit that series' own VFT curve (ln A, B, T0 with
T0 ≤ VOGEL_T_MAX_K) to its cold rows only, and score it on its warm rows, bucketed as `diffmix evaluate` buckets
the temperature split. The fit is least squares in ln κ, in ln(κ + κ_c) (the scale the models are trained in)
or in κ, which shows how much the fit scale alone decides the extrapolation. Arrhenius (T0 = 0) and a straight
line in T are shown for scale.
This is an upper bound for any model that carries temperature through VFT alone: each series gets its own best
coefficients, with no network in the way.

Then the hot tail (buckets ≥ 130 °C): can a VFT curve whose Vogel temperature obeys the models' cap follow those
rows at all? Each series with rows there gets VFT fitted in the models' scale to its own rows below 125 °C, with
T0 capped as the models cap it and with T0 free, and is scored on its hot rows.

    .venv/bin/python -m benchmarks.vft_extrapolation
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

from diffmix.settings import Settings
from model.data.loaders import load_table
from model.evaluate import T_SPLIT_K, bucket_of, mixture_keys
from model.properties import KAPPA_FIT_OFFSET, VOGEL_T_MAX_K

MIN_COLD_TEMPERATURES = 4
MIN_KAPPA = 0.05  # mS/cm; below this a series is frozen or glassy somewhere and ln κ is noise


def log_vft(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return p[0] - p[1] / (t - p[2])


def composition_series(table) -> dict[tuple, list[int]]:
    """The rows of each composition series: one mixture (components and fractions) at its measured temperatures."""
    series: dict[tuple, list[int]] = {}
    for row, key in enumerate(mixture_keys(table)):
        series.setdefault(key, []).append(row)
    return series


def fit_vft(t: np.ndarray, k: np.ndarray, t0_max: float, offset: float | None, n: int = 0):
    """κ = A T^-n exp(−B / (T − T0)) with T0 ≤ t0_max, least squares in ln(κ + offset) (in κ when offset is None);
    returns the fitted law as a function of temperature and its (ln A, B, T0)."""
    def residual(p):
        k_fit = np.exp(log_vft(p, t) - n * np.log(t))
        return k_fit - k if offset is None else np.log(k_fit + offset) - np.log(k + offset)

    fit = least_squares(residual, x0=[4.0 + 6.0 * n, 400.0, min(150.0, t0_max - 1.0)],
                        bounds=([-10.0, 1.0, 0.0], [15.0 + 10.0 * n, 5000.0, t0_max]))
    return (lambda tt: np.exp(log_vft(fit.x, tt) - n * np.log(tt))), fit.x


def laws(t_cold: np.ndarray, k_cold: np.ndarray):
    """Each law fitted to the cold rows, returned as a function of temperature."""
    ln_k = np.log(k_cold)

    def vft_times_power(n: int, offset: float | None = 0.0):
        """n = 1 is the Nernst–Einstein prefactor of a VFT diffusivity."""
        return fit_vft(t_cold, k_cold, VOGEL_T_MAX_K, offset, n)[0]

    arrhenius = np.polyfit(1.0 / t_cold, ln_k, 1)
    linear = np.polyfit(t_cold, k_cold, 1)
    return {
        "VFT, in ln κ": vft_times_power(0),
        f"VFT, in ln(κ + {KAPPA_FIT_OFFSET:g} mS/cm) (the models' fit scale)": vft_times_power(0, KAPPA_FIT_OFFSET),
        "VFT, in κ": vft_times_power(0, None),
        "VFT / T (Nernst–Einstein prefactor), in ln κ": vft_times_power(1),
        "VFT / T², in ln κ": vft_times_power(2),
        f"VFT / T, in ln(κ + {KAPPA_FIT_OFFSET:g} mS/cm)": vft_times_power(1, KAPPA_FIT_OFFSET),
        "Arrhenius, in ln κ": lambda t: np.exp(np.polyval(arrhenius, 1.0 / t)),
        "straight line in T": lambda t: np.polyval(linear, t),
    }


def main(max_bucket_C: int = 60) -> dict:
    table, _ = load_table("ionic_conductivity", Settings().data_dir)
    series = composition_series(table)
    errors: dict[str, dict[int, list[float]]] = {}
    used = 0
    for rows in series.values():
        rows = np.asarray(rows)
        t, k = table.T[rows], table.y[rows]
        cold, warm = t <= T_SPLIT_K, t > T_SPLIT_K
        if len(np.unique(t[cold])) < MIN_COLD_TEMPERATURES or not warm.any() or k.min() <= MIN_KAPPA:
            continue
        used += 1
        for name, law in laws(t[cold], k[cold]).items():
            for bucket, e in zip(bucket_of(t[warm]), law(t[warm]) - k[warm]):
                errors.setdefault(name, {}).setdefault(int(bucket), []).append(float(e))
    buckets = sorted({b for d in errors.values() for b in d if b <= max_bucket_C})
    print(f"{used} series with ≥ {MIN_COLD_TEMPERATURES} temperatures ≤ 20 °C and at least one above\n")
    print("| law | " + " | ".join(f"{b} °C MAE (bias)" for b in buckets) + " |")
    print("|---|" + "---|" * len(buckets))
    for name, d in errors.items():
        cells = [f"{np.mean(np.abs(d[b])):.2f} ({np.mean(d[b]):+.2f})" if b in d else "–" for b in buckets]
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nrows per bucket: " + ", ".join(f"{b} °C {len(errors['VFT, in ln κ'].get(b, []))}" for b in buckets))
    hot_tail(table, series)
    return errors


def hot_tail(table, series: dict, hot_from_C: int = 130, min_rows: int = 4) -> None:
    print(f"\nSeries with rows at ≥ {hot_from_C} °C: VFT in ln(κ + {KAPPA_FIT_OFFSET:g} mS/cm) fitted to the series' rows "
          f"below {hot_from_C - 5} °C, scored on its hot rows (mS/cm)\n")
    print("| series: T range (K), κ range (mS/cm) | rows fitted / hot | measured ≤ 20 °C "
          f"| T0 ≤ {VOGEL_T_MAX_K:g} K: T0, hot MAE (bias) | T0 free: T0, hot MAE (bias) |")
    print("|---|---|---|---|---|")
    for rows in series.values():
        rows = np.asarray(rows)
        t, k = table.T[rows], table.y[rows]
        hot = bucket_of(t) >= hot_from_C
        if not hot.any() or (~hot).sum() < min_rows:
            continue
        cells = []
        for t0_max in (VOGEL_T_MAX_K, t[~hot].min() - 5.0):
            law, p = fit_vft(t[~hot], k[~hot], t0_max, KAPPA_FIT_OFFSET)
            e = law(t[hot]) - k[hot]
            cells.append(f"{p[2]:.0f} K, {np.abs(e).mean():.2f} ({e.mean():+.2f})")
        print(f"| {t.min():.0f}–{t.max():.0f}, {k.min():.4f}–{k.max():.2f} | {(~hot).sum()} / {hot.sum()} | "
              f"{(t <= T_SPLIT_K).sum()} rows | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
