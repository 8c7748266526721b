"""How well the literature agrees with itself: for each measured row, what the *other* publications measured for
the same mixture at the same temperature. The data name publications, not laboratories, so two publications of one
group count as two (CALiSol-23 has such pairs, measuring the same systems 1–4 % apart).

A model scored on held-out publications (the publication split) cannot be expected to land closer to a lab's
values than the other labs who measured the same electrolyte do. This module builds that consensus, so the split's
signed bias per temperature bucket can be set beside the bias of a predictor that knows every other lab's value
exactly (a perfect model of the literature) and only lacks the held-out lab's own level.

"The same mixture" is the same set of species (salt ions and solvents), each mole fraction within a relative
tolerance (with an absolute floor, for the small shares), and a temperature within a few kelvin. Each other
publication counts once (the mean of its matching rows), so a lab that measured a system densely does not outvote
one that measured it once.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.data.dataset import MixtureTable

SAME_T_K = 2.5
SAME_X_RELATIVE = 0.10
SAME_X_FLOOR = 0.005


@dataclass(frozen=True)
class Consensus:
    """Per row of a table: ``value`` the mean over other publications of their matching rows (NaN where no other
    publication measured that mixture) and ``labs`` how many publications that mean is over."""

    value: np.ndarray
    labs: np.ndarray

    @property
    def matched(self) -> np.ndarray:
        return self.labs > 0


def _canonical(table: MixtureTable) -> tuple[list[tuple[int, ...]], np.ndarray]:
    """Each row's species (sorted vocabulary indices, zero shares left out) and its mole fractions in that order,
    padded with zeros to the table's width."""
    keys, xs = [], np.zeros(table.x.shape)
    for r in range(len(table)):
        present = sorted(table.present(r))
        keys.append(tuple(i for i, _ in present))
        xs[r, : len(present)] = [x for _, x in present]
    return keys, xs


def other_labs(table: MixtureTable, labels: np.ndarray, same_T_K: float = SAME_T_K,
               same_x_relative: float = SAME_X_RELATIVE, same_x_floor: float = SAME_X_FLOOR) -> Consensus:
    """The consensus of the other publications (``labels``, one per row) on each row's mixture and temperature."""
    labels = np.asarray(labels).astype(str)
    if len(labels) != len(table):
        raise ValueError(f"{len(labels)} publication labels for {len(table)} rows")
    keys, xs = _canonical(table)
    value = np.full(len(table), np.nan)
    labs = np.zeros(len(table), dtype=int)
    by_key: dict[tuple[int, ...], list[int]] = {}
    for r, k in enumerate(keys):
        by_key.setdefault(k, []).append(r)
    for rows in by_key.values():
        rows_a = np.asarray(rows)
        if len(np.unique(labels[rows_a])) < 2:
            continue
        x, t, y, lab = xs[rows_a], table.T[rows_a], table.y[rows_a], labels[rows_a]
        tol = np.maximum(same_x_relative * x, same_x_floor)  # [n, width], the tolerance around each row's shares
        close_x = (np.abs(x[:, None, :] - x[None, :, :]) <= tol[:, None, :]).all(axis=2)
        close = close_x & (np.abs(t[:, None] - t[None, :]) <= same_T_K) & (lab[:, None] != lab[None, :])
        for a in np.flatnonzero(close.any(axis=1)):
            others = np.flatnonzero(close[a])
            per_lab = [y[others[lab[others] == name]].mean() for name in np.unique(lab[others])]
            value[rows_a[a]] = float(np.mean(per_lab))
            labs[rows_a[a]] = len(per_lab)
    return Consensus(value, labs)
