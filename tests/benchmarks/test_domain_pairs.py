"""benchmarks/domain_pairs.py: test rows classed by the domain's pair check, and each class's error."""

import numpy as np
import pytest

from benchmarks.domain_pairs import CLASSES, class_errors, pair_classes
from model.data.dataset import MixtureTable
from model.domain import Domain
from model.mixture import from_amounts

EC, DMC, EMC = "O=C1OCCO1", "COC(=O)OC", "CCOC(=O)OC"
LIPF6 = "[Li+].F[P-](F)(F)(F)(F)F"


def lipf6(comps, molality=1.0):
    return from_amounts([*comps, (LIPF6, molality * 0.151905)], "mass", 298.15)


def test_rows_are_in_out_for_a_pair_only_or_out_for_other_reasons():
    train = [lipf6([(EC, w), (other, 1 - w)], b) for w in (0.3, 0.6) for b in (0.5, 1.0) for other in (DMC, EMC)]
    test = [lipf6([(EC, 0.4), (DMC, 0.6)]),  # taught
            lipf6([(DMC, 0.5), (EMC, 0.5)]),  # DMC with EMC: never together
            lipf6([(DMC, 0.5), (EMC, 0.5)], 66.0),  # never together, and far beyond the salt's range
            lipf6([(EC, 0.3), (DMC, 0.35), (EMC, 0.35)])]
    table = MixtureTable.from_mixtures(train + test, np.ones(len(train) + len(test)))
    domain = Domain.build(table, np.arange(len(train))).with_thresholds(min_rows=1)
    rows = np.arange(len(train), len(train) + len(test))
    assert list(pair_classes(domain, table, rows)) == [CLASSES[0], CLASSES[1], CLASSES[2], CLASSES[2]]
    # the ternary is out for its solvent count as well, unless that reason is set aside (the blends split)
    assert domain.max_solvents == 2
    assert pair_classes(domain, table, rows[3:], any_solvent_count=True)[0] == CLASSES[1]


def test_each_class_is_scored_per_member_and_averaged():
    labels = [np.array([CLASSES[0], CLASSES[1], CLASSES[1]], dtype=object), np.array([CLASSES[0], CLASSES[0]], dtype=object)]
    err = [np.array([0.1, -1.0, 3.0]), np.array([0.3, -0.5])]
    out = class_errors(labels, err)
    assert out[CLASSES[0]] == (3, pytest.approx((0.1 + 0.4) / 2), 2)
    assert out[CLASSES[1]] == (2, pytest.approx(2.0), 1)
    rows, mae, members = out[CLASSES[2]]
    assert rows == 0 and np.isnan(mae) and members == 0
