"""Train / validation / test splits: random 8:1:1, temperature extrapolation, unseen systems, unseen publications,
and blends (train on one- and two-solvent mixtures, test on three or more solvents); and the cross-validated forms
of the two group splits, in which member k of an ensemble of K tests on the k-th of K folds of the groups, so that
every publication (or system) is held out exactly once."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.chem import formal_charge
from model.data.dataset import MixtureTable

# the cross-validated group splits and the group each holds out
FOLD_SPLITS = {"publication_folds": "doi", "components_folds": "system"}
# every split that holds out whole groups, and the group (a publication "doi" or a "system")
HELD_OUT_GROUP = {"components": "system", "publication": "doi", **FOLD_SPLITS}
SPLITS = ("random", "temperature", "components", "publication", "blends", *FOLD_SPLITS)
# The paper's extrapolation test: train on T ≤ 20 °C, test above.
T_SPLIT_K = 293.15
# The blends split: the model learns from mixtures of at most this many solvents and is tested on the rest (a lab's
# optimiser walks into three- to five-solvent blends; CALiSol-23 has 9,805 rows with two solvents, 1,450 with 3–4).
BLENDS_MAX_TRAIN_SOLVENTS = 2
# A group split's validation part holds at least half its 8:1:1 share of the rows, and is not grown beyond 1.5× it
# (see ``_by_groups``).
MIN_VAL_SHARE, MAX_VAL_SHARE = 0.05, 0.15
# Where a group split's members validate (early stopping): on whole groups of their own (``"groups"``, the default:
# validation asks the test's question, an unseen publication or system) or on a random ninth of the rows of their
# training groups (``"rows"``: validation asks what the shipped models' random split asks, how well the training
# data are fitted, so the members train like the shipped ones and the test groups alone are unseen).
VALIDATE = ("groups", "rows")


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
    spare = [uniq[g] for g in g_train if not taken[labels == uniq[g]].any()]
    _grow_validation(labels, val_mask, spare[1:])  # the first spare group always trains
    train_mask = ~(val_mask | test_mask)
    return Split(np.flatnonzero(train_mask), np.flatnonzero(val_mask), np.flatnonzero(test_mask))


def _grow_validation(labels: np.ndarray, val_mask: np.ndarray, groups) -> None:
    """Add whole ``groups`` to ``val_mask``, in the order given, until it holds ``MIN_VAL_SHARE`` of the rows, passing
    over any group that would take it beyond ``MAX_VAL_SHARE``."""
    for g in groups:
        if val_mask.sum() >= MIN_VAL_SHARE * len(labels):
            break
        group = labels == g
        if val_mask.sum() + group.sum() <= MAX_VAL_SHARE * len(labels):
            val_mask |= group


def group_folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """[N] the fold (0 … folds − 1) of each row; whole groups per fold, the folds as even in rows as the groups allow.
    Groups go, largest first (ties in random order), each to the fold with the fewest rows so far: CALiSol-23's
    publications hold 10 to 2,441 rows, and folds drawn at random by group count would differ several-fold."""
    uniq, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    if not 2 <= folds <= len(uniq):
        raise ValueError(f"{folds} folds need between 2 and {len(uniq)} (the number of groups); "
                         f"train an ensemble of that many members")
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-sizes[order], kind="stable")]
    fold_of_group = np.empty(len(uniq), dtype=int)
    rows = np.zeros(folds, dtype=int)
    for g in order:
        f = int(np.argmin(rows))
        fold_of_group[g] = f
        rows[f] += sizes[g]
    fold_of_row: np.ndarray = fold_of_group[inverse]
    return fold_of_row


def _fold(labels: np.ndarray, seed: int, fold: int, folds: int) -> Split:
    """Test on fold ``fold`` of ``group_folds`` (drawn with ``seed``, the same for every member); validate on
    further whole groups of the others, drawn in random order until they hold ``MIN_VAL_SHARE`` of the rows (passing
    over a group that would take validation beyond ``MAX_VAL_SHARE``); train on the rest."""
    if not 0 <= fold < folds:
        raise ValueError(f"fold {fold} is not one of 0 … {folds - 1}")
    test_mask = group_folds(labels, folds, np.random.default_rng(seed)) == fold
    rest = np.unique(labels[~test_mask])
    if len(rest) < 2:
        raise ValueError(f"fold {fold} leaves {len(rest)} group outside it; a fold split needs one to train on and "
                         f"one to validate on: use fewer folds")
    val_mask = np.zeros(len(labels), dtype=bool)
    order = np.random.default_rng([seed, fold]).permutation(len(rest))
    _grow_validation(labels, val_mask, rest[order[1:]])  # the first group drawn always trains
    if not val_mask.any():  # tiny data: one group validates
        val_mask = labels == rest[order[-1]]
    train_mask = ~(val_mask | test_mask)
    return Split(np.flatnonzero(train_mask), np.flatnonzero(val_mask), np.flatnonzero(test_mask))


def member_splits(table: MixtureTable, kind: str, seed: int, members: int, validate: str = "groups") -> list[Split]:
    """The split of each member of an ensemble: member k gets split seed + k, or for a cross-validated split
    (``FOLD_SPLITS``) fold k of ``members`` folds drawn with ``seed``; ``validate`` as in ``make_split``."""
    if kind in FOLD_SPLITS:
        return [make_split(table, kind, seed, fold=k, folds=members, validate=validate) for k in range(members)]
    return [make_split(table, kind, seed + k, validate=validate) for k in range(members)]


def neutral_species(table: MixtureTable) -> np.ndarray:
    """[V + 1] whether each vocabulary entry is neutral (a solvent, not an ion); the last entry stands for index −1,
    an empty slot, and is False, so ``neutral_species(table)[table.idx]`` marks the solvent slots of every row."""
    return np.array([formal_charge(s) == 0 for s in table.vocab] + [False])


def solvent_counts(table: MixtureTable) -> np.ndarray:
    """[N] how many neutral species (solvents) each row has; a salt's ions are not counted."""
    counts: np.ndarray = neutral_species(table)[table.idx].sum(axis=1)
    return counts


def make_split(table: MixtureTable, kind: str, seed: int, fold: int = 0, folds: int = 5,
               validate: str = "groups") -> Split:
    """A different seed gives a different split (one per ensemble member, as in the paper); a cross-validated split
    (``FOLD_SPLITS``) tests on fold ``fold`` of ``folds``. Rows are assigned as if none were excluded, then the
    excluded ones are left out, so listing an erratum moves no other row. ``validate="rows"`` gives a group split's
    validation a random ninth of its training and validation rows instead of whole groups (``VALIDATE``); the test
    part is the same."""
    if validate not in VALIDATE:
        raise ValueError(f"unknown validation {validate!r}; choose one of {', '.join(VALIDATE)}")
    if validate == "rows" and kind not in HELD_OUT_GROUP:
        raise ValueError(f"validate='rows' is for the group splits ({', '.join(HELD_OUT_GROUP)}); the {kind} split "
                         f"already validates on rows drawn from its training part")
    if kind in FOLD_SPLITS:
        split = _fold(np.asarray(table.groups[FOLD_SPLITS[kind]]), seed, fold, folds)
    else:
        split = _assign(table, kind, np.random.default_rng(seed))
    if validate == "rows":
        split = _rows_validate(split, np.random.default_rng([seed, fold, 1]))
    return split.usable(table)


def _rows_validate(split: Split, rng: np.random.Generator) -> Split:
    """The same test part; validation a random ninth of the rest, training the others."""
    rest = rng.permutation(np.concatenate([split.train, split.val]))
    n_val = max(1, len(rest) // 9)
    return Split(np.sort(rest[n_val:]), np.sort(rest[:n_val]), split.test)


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
    if kind in ("components", "publication"):
        return _by_groups(table.groups[HELD_OUT_GROUP[kind]], rng)
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
