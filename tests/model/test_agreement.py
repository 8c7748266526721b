"""The other labs' consensus on a measured row (model.agreement)."""

from __future__ import annotations

import numpy as np
import pytest

from model.agreement import other_labs
from model.data.dataset import MixtureTable
from model.mixture import Mixture
from tests.helpers import IONS, SOLVENTS

EC, DMC, PC = SOLVENTS[0], SOLVENTS[1], SOLVENTS[2]


def electrolyte(x_salt: float, ec_share: float, t: float, other: str = DMC, order=(0, 1, 2, 3)) -> Mixture:
    species = (IONS[0], IONS[1], EC, other)
    x = (x_salt, x_salt, (1 - 2 * x_salt) * ec_share, (1 - 2 * x_salt) * (1 - ec_share))
    return Mixture(tuple(species[i] for i in order), tuple(x[i] for i in order), t)


def table(rows: list[tuple[Mixture, float, str]]) -> MixtureTable:
    return MixtureTable.from_mixtures([m for m, _, _ in rows], [y for _, y, _ in rows], {"doi": [d for *_, d in rows]})


def test_each_other_lab_counts_once_and_a_lab_never_agrees_with_itself():
    rows = [
        (electrolyte(0.05, 0.5, 298.15), 10.0, "lab A"),
        (electrolyte(0.05, 0.5, 298.15), 10.4, "lab A"),  # a repeat in the same lab
        (electrolyte(0.05, 0.5, 299.0, order=(3, 2, 1, 0)), 11.0, "lab B"),  # the same mixture listed backwards
        (electrolyte(0.05, 0.5, 298.0), 12.0, "lab C"),
        (electrolyte(0.05, 0.5, 298.1), 12.0, "lab C"),
        (electrolyte(0.05, 0.5, 298.2), 12.0, "lab C"),
    ]
    c = other_labs(table(rows), [d for *_, d in rows])
    assert c.labs.tolist() == [2, 2, 2, 2, 2, 2]
    # lab A's rows: the mean of lab B (11) and lab C (12), not weighted by lab C's three rows
    assert c.value[0] == pytest.approx(11.5)
    assert c.value[2] == pytest.approx((10.2 + 12.0) / 2)
    assert c.value[3] == pytest.approx((10.2 + 11.0) / 2)


@pytest.mark.parametrize("other_row", [
    electrolyte(0.05, 0.5, 310.0),            # 12 K warmer
    electrolyte(0.07, 0.5, 298.15),           # 40 % more salt
    electrolyte(0.05, 0.7, 298.15),           # another EC share
    electrolyte(0.05, 0.5, 298.15, other=PC),  # another solvent
])
def test_a_different_mixture_or_temperature_is_not_a_match(other_row):
    rows = [(electrolyte(0.05, 0.5, 298.15), 10.0, "lab A"), (other_row, 11.0, "lab B")]
    c = other_labs(table(rows), ["lab A", "lab B"])
    assert not c.matched.any()
    assert np.isnan(c.value).all()


def test_the_tolerances_are_the_callers():
    rows = [(electrolyte(0.05, 0.5, 298.15), 10.0, "lab A"), (electrolyte(0.05, 0.5, 310.0), 11.0, "lab B")]
    c = other_labs(table(rows), ["lab A", "lab B"], same_T_K=15.0)
    assert c.value.tolist() == [11.0, 10.0]


def test_labels_must_match_the_rows():
    rows = [(electrolyte(0.05, 0.5, 298.15), 10.0, "lab A")]
    with pytest.raises(ValueError, match="1 rows"):
        other_labs(table(rows), ["lab A", "lab B"])
