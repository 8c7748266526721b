"""Group splits (unseen systems, unseen publications) hold out whole groups, and their validation part is large
enough for early stopping to mean something even when the groups drawn for it are tiny."""

import numpy as np
import pytest

from model.splits import MAX_VAL_SHARE, MIN_VAL_SHARE, group_folds, make_split, member_splits
from tests.helpers import synthetic_conductivity_table

# 20 publications of very unequal size, like CALiSol-23's (10 to 2,441 rows): one large, a few middling, many tiny
SIZES = [300, 120, 100, 90, 80, 60] + [10] * 14


def table_with_publications():
    table = synthetic_conductivity_table(sum(SIZES))
    table.groups["doi"] = np.repeat([f"p{i:02d}" for i in range(len(SIZES))], SIZES)
    return table


def parts_of(labels, split):
    return [set(labels[part]) for part in (split.train, split.val, split.test)]


@pytest.mark.parametrize("seed", range(12))
def test_a_publication_split_holds_out_whole_publications_and_validates_on_enough_rows(seed):
    table = table_with_publications()
    labels, n = table.groups["doi"], len(table)
    split = make_split(table, "publication", seed)
    train, val, test = parts_of(labels, split)
    assert not (train & val or train & test or val & test)  # no publication in two parts
    assert len(split.train) + len(split.val) + len(split.test) == n
    assert MIN_VAL_SHARE * n <= len(split.val) <= MAX_VAL_SHARE * n or len(val) == 2  # two drawn may be large
    assert len(test) == 2  # a tenth of the publications, never grown
    assert len(split.train) > 0


def test_validation_grows_only_from_training_publications_and_leaves_the_test_part_alone():
    table = table_with_publications()
    labels, n = table.groups["doi"], len(table)
    grown = [s for s in range(40) if len(set(labels[make_split(table, "publication", s).val])) > 2]
    assert grown, "some seed draws two tiny validation publications"
    for seed in grown:
        split = make_split(table, "publication", seed)
        # the same random draw without the floor: its test part is the same, its validation part a subset
        rng = np.random.default_rng(seed)
        uniq = np.unique(labels)
        perm = rng.permutation(len(uniq))
        drawn_val, drawn_test = set(uniq[perm[16:18]]), set(uniq[perm[18:]])
        assert set(labels[split.test]) == drawn_test
        assert drawn_val < set(labels[split.val])
        assert len(split.val) >= MIN_VAL_SHARE * n


def test_a_group_split_needs_three_groups():
    table = synthetic_conductivity_table(30)
    table.groups["doi"] = np.array(["a", "b"] * 15)
    with pytest.raises(ValueError, match="at least 3 groups"):
        make_split(table, "publication", 0)


# The cross-validated group splits: member k of K tests on fold k, so every publication is held out exactly once.


@pytest.mark.parametrize("members", [2, 5, 7])
def test_publication_folds_hold_out_every_publication_exactly_once(members):
    table = table_with_publications()
    labels, n = table.groups["doi"], len(table)
    splits = member_splits(table, "publication_folds", 3, members)
    tested = np.concatenate([s.test for s in splits])
    assert np.array_equal(np.sort(tested), np.arange(n))  # every row tested once, by exactly one member
    for split in splits:
        train, val, test = parts_of(labels, split)
        assert not (train & val or train & test or val & test)  # no publication in two parts
        assert len(split.train) + len(split.val) + len(split.test) == n
        assert MIN_VAL_SHARE * n <= len(split.val) <= MAX_VAL_SHARE * n
    # the draw is the seed's, the same for every member (a fold split drawn per member would not cover the data)
    again = member_splits(table, "publication_folds", 3, members)
    assert all(np.array_equal(a.test, b.test) and np.array_equal(a.val, b.val) for a, b in zip(splits, again))


def test_folds_are_as_even_in_rows_as_whole_groups_allow():
    labels = np.repeat([f"p{i:02d}" for i in range(len(SIZES))], SIZES)
    for seed in range(10):
        rows = np.bincount(group_folds(labels, 4, np.random.default_rng(seed)), minlength=4)
        # largest first, each to the emptiest fold: no fold exceeds another by more than the largest group, and
        # with these sizes the 300-row publication sits alone (a draw by group count would put 300 beside 120)
        assert rows.sum() == len(labels) and rows.max() - rows.min() <= max(SIZES)
        assert rows.max() == 300
    assert len(np.unique(group_folds(labels, 20, np.random.default_rng(0)))) == 20  # one group per fold


def test_fold_splits_refuse_more_folds_than_groups_or_a_single_fold():
    table = table_with_publications()
    with pytest.raises(ValueError, match="between 2 and 20"):
        member_splits(table, "publication_folds", 0, 21)
    with pytest.raises(ValueError, match="between 2 and 20"):
        member_splits(table, "publication_folds", 0, 1)
    with pytest.raises(ValueError, match="fold 5 is not one of 0 … 4"):
        make_split(table, "publication_folds", 0, fold=5, folds=5)
    two = synthetic_conductivity_table(40)
    two.groups["doi"] = np.repeat(["a", "b"], [30, 10])
    with pytest.raises(ValueError, match="one to train on and one to validate on"):
        member_splits(two, "publication_folds", 0, 2)  # each fold leaves one publication: train or validate, not both


def test_component_folds_hold_out_whole_systems():
    table = table_with_publications()
    table.groups["system"] = np.repeat([f"s{i}" for i in range(8)], [len(table) // 8] * 7 + [len(table) - 7 * (len(table) // 8)])
    splits = member_splits(table, "components_folds", 0, 4)
    assert sorted(np.concatenate([s.test for s in splits]).tolist()) == list(range(len(table)))
    for split in splits:
        train, val, test = parts_of(table.groups["system"], split)
        assert not (train & val or train & test or val & test)


@pytest.mark.parametrize("kind", ["publication", "publication_folds"])
def test_validating_on_rows_keeps_the_test_publications_and_mixes_validation_into_the_training_ones(kind):
    table = table_with_publications()
    labels, n = table.groups["doi"], len(table)
    for groups, rows in zip(member_splits(table, kind, 3, 5), member_splits(table, kind, 3, 5, "rows"), strict=True):
        np.testing.assert_array_equal(rows.test, groups.test)  # the same unseen publications
        train, val, test = parts_of(labels, rows)
        assert not (train & test or val & test)
        assert val <= train  # validation rows come from publications the member also trains on
        assert len(rows.val) == (n - len(rows.test)) // 9
        assert sorted(np.concatenate([rows.train, rows.val]).tolist()) == \
            sorted(np.concatenate([groups.train, groups.val]).tolist())
    again = member_splits(table, kind, 3, 5, "rows")
    assert all(np.array_equal(a.val, b.val) for a, b in zip(again, member_splits(table, kind, 3, 5, "rows")))


def test_rows_validation_is_for_group_splits_and_unknown_modes_are_refused():
    table = table_with_publications()
    with pytest.raises(ValueError, match="for the group splits"):
        make_split(table, "random", 0, validate="rows")
    with pytest.raises(ValueError, match="choose one of groups, rows"):
        make_split(table, "publication", 0, validate="random")
