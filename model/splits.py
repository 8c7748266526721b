"""Train / validation / test splits: random 8:1:1, temperature extrapolation, unseen systems, unseen publications,
and blends (train on one- and two-solvent mixtures, test on three or more solvents)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.chem import formal_charge
from model.data.dataset import MixtureTable

SPLITS = ("random", "temperature", "components", "publication", "blends")
# The paper's extrapolation test: train on T ≤ 20 °C, test above.
T_SPLIT_K = 293.15
# The blends split: the model learns from mixtures of at most this many solvents and is tested on the rest (a lab's
# optimiser walks into three- to five-solvent blends; CALiSol-23 has 9,805 rows with two solvents, 1,450 with 3–4).
BLENDS_MAX_TRAIN_SOLVENTS = 2
# A group split's validation part holds at least half its 8:1:1 share of the rows, and is not grown beyond 1.5× it
# (see ``_by_groups``).
MIN_VAL_SHARE, MAX_VAL_SHARE = 0.05, 0.15


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    val: np.ndarray
    test: np.ndarray

    def usable(self, table: MixtureTable) -> Split:
        """This split without the table's excluded rows (``MixtureTable.excluded``); every other row stays where
        it was."""
        return Split(table.usable(self.train), table.usable(self.val), table.usable(self.test))


def _fractions(n: int, rng: np.random.Generator, frac=(0.8, 0.1, 0.1)):
    perm = rng.permutation(n)
    a = int(round(frac[0] * n))
    b = a + int(round(frac[1] * n))
    return perm[:a], perm[a:b], perm[b:]


def _by_groups(labels: np.ndarray, rng: np.random.Generator) -> Split:
    """Whole groups to each part, 8:1:1 by group count. Groups can differ a hundredfold in size (CALiSol-23's 25
    publications hold 10 to 2,441 rows), so a tenth of the groups can be a few dozen rows: too few for early
    stopping to tell one epoch from another. Validation then takes further training groups, in the same random
    order, until it holds at least ``MIN_VAL_SHARE`` of the rows, passing over any group that would take it beyond
    ``MAX_VAL_SHARE``; the test groups are never touched."""
    uniq = np.unique(labels)
    if len(uniq) < 3:
        raise ValueError(f"a group split needs at least 3 groups, found {len(uniq)}")
    g_train, g_val, g_test = _fractions(len(uniq), rng)
    val_mask = np.isin(labels, uniq[g_val])
    test_mask = np.isin(labels, uniq[g_test])
    if not test_mask.any() or not val_mask.any():  # tiny data: make sure both hold a group
        test_mask = labels == uniq[g_test[0] if len(g_test) else g_train[-1]]
        val_mask = (labels == uniq[g_val[0] if len(g_val) else g_train[-2]]) & ~test_mask
    taken = val_mask | test_mask
    spare = [g for g in g_train if not taken[labels == uniq[g]].any()]
    for g in spare[1:]:  # the first spare group always trains
        if val_mask.sum() >= MIN_VAL_SHARE * len(labels):
            break
        group = labels == uniq[g]
        if val_mask.sum() + group.sum() <= MAX_VAL_SHARE * len(labels):
            val_mask |= group
    train_mask = ~(val_mask | test_mask)
    return Split(np.flatnonzero(train_mask), np.flatnonzero(val_mask), np.flatnonzero(test_mask))


def neutral_species(table: MixtureTable) -> np.ndarray:
    """[V + 1] whether each vocabulary entry is neutral (a solvent, not an ion); the last entry stands for index −1,
    an empty slot, and is False, so ``neutral_species(table)[table.idx]`` marks the solvent slots of every row."""
    return np.array([formal_charge(s) == 0 for s in table.vocab] + [False])


def solvent_counts(table: MixtureTable) -> np.ndarray:
    """[N] how many neutral species (solvents) each row has; a salt's ions are not counted."""
    counts: np.ndarray = neutral_species(table)[table.idx].sum(axis=1)
    return counts


def make_split(table: MixtureTable, kind: str, seed: int) -> Split:
    """A different seed gives a different split (one per ensemble member, as in the paper). Rows are assigned as if
    none were excluded, then the excluded ones are left out, so listing an erratum moves no other row."""
    return _assign(table, kind, np.random.default_rng(seed)).usable(table)


def _assign(table: MixtureTable, kind: str, rng: np.random.Generator) -> Split:
    n = len(table)
    if kind == "random":
        return Split(*_fractions(n, rng))
    if kind == "temperature":
        cold = np.flatnonzero(table.T <= T_SPLIT_K)
        hot = np.flatnonzero(table.T > T_SPLIT_K)
        if len(cold) < 10 or len(hot) == 0:
            raise ValueError("the temperature split needs data both at ≤ 293.15 K and above")
        perm = rng.permutation(cold)
        n_val = max(1, len(cold) // 9)
        return Split(np.sort(perm[n_val:]), np.sort(perm[:n_val]), hot)
    if kind == "components":
        return _by_groups(table.groups["system"], rng)
    if kind == "publication":
        return _by_groups(table.groups["doi"], rng)
    if kind == "blends":
        n_solvents = solvent_counts(table)
        few = np.flatnonzero(n_solvents <= BLENDS_MAX_TRAIN_SOLVENTS)
        many = np.flatnonzero(n_solvents > BLENDS_MAX_TRAIN_SOLVENTS)
        if len(few) < 10 or len(many) == 0:
            raise ValueError(f"the blends split needs rows with ≤ {BLENDS_MAX_TRAIN_SOLVENTS} solvents and rows with more")
        perm = rng.permutation(few)
        n_val = max(1, len(few) // 9)
        return Split(np.sort(perm[n_val:]), np.sort(perm[:n_val]), many)
    raise ValueError(f"unknown split {kind!r}; choose one of {', '.join(SPLITS)}")
