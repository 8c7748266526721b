"""Two designs compared member for member (benchmarks/paired_seeds.py): the pairing and the statistics."""

import math

import pytest

from benchmarks.paired_seeds import member_key, paired


def test_members_pair_by_split_seed_or_by_fold_and_fold_seed():
    # member k of a drawn split trained with --seed S has split seed S + k: --seed 5's member 0 is --seed 0's member 5
    assert member_key("components", 5, 0) == member_key("components", 0, 5)
    assert member_key("components", 5, 0) != member_key("publication", 5, 0)
    # a fold split's members share the fold seed and differ by fold: fold seed 1's fold 0 is not fold seed 0's fold 1
    assert member_key("components_folds", 1, 0) != member_key("components_folds", 0, 1)
    assert member_key("components_folds", 1, 2) == ("components_folds", 1, 2)


def test_the_paired_difference_its_error_and_the_sign_test():
    a = {("random", k): 1.0 + 0.1 * k for k in range(6)}
    b = {("random", k): 1.1 + 0.1 * k - (0.3 if k == 5 else 0.0) for k in range(6)}
    b[("random", 9)] = 5.0  # no partner: left out, counted
    out = paired(a, b)
    assert out["pairs"] == 6 and out["unpaired"] == 1
    d = [-0.1] * 5 + [0.2]
    assert out["difference"] == pytest.approx(sum(d) / 6)
    mean = sum(d) / 6
    assert out["standard_error"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in d) / 5 / 6))
    assert out["a_lower"] == 5 and out["sign_test_p"] == pytest.approx(14 / 64)  # two-sided, 5 of 6
    assert out["relative"] == pytest.approx(out["difference"] / out["mean_b"])


def test_designs_without_a_shared_split_are_refused():
    with pytest.raises(ValueError, match="shares a split"):
        paired({("random", 0): 1.0}, {("random", 1): 1.0})
