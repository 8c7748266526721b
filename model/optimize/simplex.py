"""Euclidean projection onto the bounded simplex {s : Σ s = total, lo ≤ s ≤ hi}.

Why projection and not mirror (exponentiated-gradient) ascent: electrolyte optima often sit on a face of the
simplex (the paper's peak has PC ≈ 0), and exponentiated updates can only approach a face asymptotically,
never reach it, and cannot honour upper bounds. The projection is exact, reaches faces in one step, and
handles per-component lower/upper bounds and components forced to zero (lo = hi = 0) with no special cases.

The projection is clip(v − τ, lo, hi) with the scalar τ chosen so the sum is right; the sum is monotone in τ,
so bisection finds τ to machine precision.
"""

from __future__ import annotations

import numpy as np

from model.errors import DiffMixInputError


def check_bounds(lo: np.ndarray, hi: np.ndarray, total: float = 1.0, names: list[str] | None = None,
                 unit: str = "fraction") -> None:
    """Refuse bounds outside [0, 1], crossed, or leaving no point whose parts sum to ``total``; ``unit`` says
    what the bounds are (e.g. 'mass fraction of the solvent blend') in the message."""
    names = names or [f"component {i + 1}" for i in range(len(lo))]
    for n, a, b in zip(names, lo, hi):
        if not (0.0 <= a <= b <= 1.0):
            raise DiffMixInputError(f"bounds for {n} ({unit}) must satisfy 0 ≤ lower ≤ upper ≤ 1, got [{a}, {b}]")
    if lo.sum() > total + 1e-12:
        raise DiffMixInputError(f"infeasible bounds: the lower bounds ({unit}) sum to {lo.sum():.6g} > {total:g}")
    if hi.sum() < total - 1e-12:
        raise DiffMixInputError(f"infeasible bounds: the upper bounds ({unit}) sum to {hi.sum():.6g} < {total:g}")


def project(v: np.ndarray, lo: np.ndarray, hi: np.ndarray, total: float = 1.0, iters: int = 100) -> np.ndarray:
    """Project each row of v [S, n] onto the bounded simplex (bounds [n], assumed feasible)."""
    v = np.atleast_2d(np.asarray(v, dtype=np.float64))
    left = (v - hi).min(axis=1) - 1.0  # sum(clip(v − τ)) = Σ hi ≥ total here
    right = (v - lo).max(axis=1) + 1.0  # sum = Σ lo ≤ total here
    for _ in range(iters):
        mid = 0.5 * (left + right)
        s = np.clip(v - mid[:, None], lo, hi).sum(axis=1)
        too_big = s > total
        left = np.where(too_big, mid, left)
        right = np.where(too_big, right, mid)
    out = np.clip(v - (0.5 * (left + right))[:, None], lo, hi)
    # Values within rounding of a bound are on it (an exact zero matters: it means "leave this solvent out").
    lo_b, hi_b = np.broadcast_to(lo, out.shape), np.broadcast_to(hi, out.shape)
    out = np.where(np.abs(out - lo_b) < 1e-14, lo_b, out)
    out = np.where(np.abs(out - hi_b) < 1e-14, hi_b, out)
    # Remove the last ~1e-16 of rounding from the sum on the free coordinates, keeping the bounds.
    err = out.sum(axis=1) - total
    free = (out > lo + 1e-15) & (out < hi - 1e-15)
    nfree = free.sum(axis=1)
    adj = np.where(nfree > 0, err / np.maximum(nfree, 1), 0.0)
    projected: np.ndarray = np.clip(out - free * adj[:, None], lo, hi)
    return projected


def grid(n_per_side: int) -> np.ndarray:
    """All points of the 3-simplex grid with spacing 1/n (n = 100 → 5,151 points)."""
    pts = [(i / n_per_side, j / n_per_side, (n_per_side - i - j) / n_per_side)
           for i in range(n_per_side + 1) for j in range(n_per_side + 1 - i)]
    return np.array(pts)
