"""The std calibration's two-term alternative (benchmarks/calibrate_std.py): a spread factor and a relative floor."""

import numpy as np
import pytest

from benchmarks.calibrate_std import coverage, fit_floor, gaussian_nll


def test_the_fit_recovers_a_known_spread_factor_and_floor_at_95_percent():
    rng = np.random.default_rng(0)
    n = 40_000
    spread, mean = rng.uniform(0.01, 1.0, n), rng.uniform(1.0, 10.0, n)
    sigma = np.sqrt((3.0 * spread) ** 2 + (0.1 * mean) ** 2)
    err = rng.normal(0.0, sigma)
    s, r = fit_floor(err, spread, mean)
    # Gaussian errors: ±2σ' covers 95 % when σ' = σ · 1.96 / 2
    assert s == pytest.approx(3.0 * 0.98, rel=0.03)
    assert r == pytest.approx(0.1 * 0.98, rel=0.03)
    fitted = np.sqrt((s * spread) ** 2 + (r * mean) ** 2)
    assert coverage(np.abs(err), fitted, 1.0) == pytest.approx(0.95, abs=0.002)
    # one factor on the spread alone, set to the same coverage, is a worse description of the same errors
    one = np.quantile(np.abs(err) / spread, 0.95) / 2 * spread
    assert gaussian_nll(err, fitted) < gaussian_nll(err, one) - 1000


def test_the_likelihood_is_lowest_at_the_true_std():
    err = np.random.default_rng(1).normal(0.0, 2.0, 20_000)
    nll = {k: gaussian_nll(err, np.full(err.shape, k)) for k in (1.0, 2.0, 4.0)}
    assert nll[2.0] < nll[1.0] and nll[2.0] < nll[4.0]
    assert gaussian_nll(np.array([0.0]), np.array([1.0])) == 0.0
