"""Group splits (unseen systems, unseen publications) hold out whole groups, and their validation part is large
enough for early stopping to mean something even when the groups drawn for it are tiny."""

import numpy as np
import pytest

from model.splits import MAX_VAL_SHARE, MIN_VAL_SHARE, make_split
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
