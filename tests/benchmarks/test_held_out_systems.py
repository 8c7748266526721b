"""benchmarks/held_out_systems.py: each member's error per held-out group, largest total first."""

import numpy as np
import pytest

from benchmarks.held_out_systems import group_errors


def test_each_member_is_scored_on_its_own_groups_and_the_largest_total_comes_first():
    groups = np.array(["A", "A", "B", "B", "C"])
    measured = np.array([10.0, 12.0, 5.0, 5.0, 8.0])
    rows = [np.array([0, 1, 4]), np.array([2, 3])]
    err = [np.array([-1.0, -3.0, 0.5]), np.array([4.0, 2.0])]
    out = group_errors(groups, rows, err, measured)
    assert [(d["member"], d["group"]) for d in out] == [(1, "B"), (0, "A"), (0, "C")]
    b, a, c = out
    assert (b["rows"], b["mae"], b["bias"], b["measured"], b["total"]) == (2, 3.0, 3.0, 5.0, 6.0)
    assert (a["mae"], a["bias"], a["measured"]) == (2.0, -2.0, 11.0)
    assert c["rows"] == 1 and c["bias"] == pytest.approx(0.5)
