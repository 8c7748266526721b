"""The shipped conductivity model on the blends a lab's optimiser walks into (issue 19's plausibility check)."""

import pytest

from model.blends import EC_LINEAR_CARBONATE_BAND, blends, check, commercial_example, edges, mixture
from model.predict import Predictor


@pytest.fixture(scope="module")
def shipped():
    return Predictor.load("ionic_conductivity")


def test_the_random_blends_are_three_to_five_solvents_in_the_stated_ranges():
    bs = blends(200, seed=0)
    assert len(bs) == 200 and {len(m) for m, _, _ in bs} == {3, 4, 5}
    assert all(abs(sum(m.values()) - 1) < 1e-12 and 0.5 <= b <= 1.5 and 273.15 <= T <= 313.15 for m, b, T in bs)


def test_no_blend_falls_below_0_7x_its_lowest_binary_or_above_1_3x_its_highest(shipped):
    """200 random EC/PC/DMC/EMC/DEC blends with LiPF6 at 0.5–1.5 mol/kg and 0–40 °C against their binary sub-blends
    (each pair of the blend's solvents in the blend's own proportion) at the same molality and temperature."""
    out = check(shipped, 200, seed=0)
    assert out["implausible"] == 0, out


def test_the_check_catches_an_implausible_model(shipped, monkeypatch):
    """The same check flags a model that halves every blend of three or more solvents."""
    real = shipped.ensemble.predict

    def halving(mixtures, **kw):
        pred = real(mixtures, **kw)
        for i, m in enumerate(mixtures):
            if sum(1 for s in m.species if "+" not in s and "-" not in s) >= 3:
                pred.mean[i] *= 0.5
        return pred

    monkeypatch.setattr(shipped.ensemble, "predict", halving)
    assert check(shipped, 50, seed=1)["below_0.7x_lowest_binary"] > 0
    assert mixture({"EC": 0.5, "DMC": 0.5}, 1.0, 298.15).n == 4


def test_the_commercial_example_lies_between_its_binaries_and_the_members_agree(shipped):
    """Issue 19's example beside its binaries. Published EC:DMC and EC:EMC 30:70 with 1 mol/kg LiPF6 conduct about
    10–12 and 8–9 mS/cm; replacing half of the DMC by EMC, a similar linear carbonate, lands between the two. The
    model shipped until 2026-12-03, trained on the wrong rows model.data.errata lists, put the ternary below both
    (8.5 mS/cm) with its members 6.8–9.6 apart."""
    ex = commercial_example(shipped)
    assert set(ex) == {"EC:DMC:EMC 30:35:35", "EC:DMC 30:70", "EC:EMC 30:70", "EC:DMC:DEC 1:1:1"}
    assert 9.0 < ex["EC:DMC 30:70"]["mean"] < 14.0 and 7.0 < ex["EC:EMC 30:70"]["mean"] < 11.0
    ternary = ex["EC:DMC:EMC 30:35:35"]
    assert ex["EC:EMC 30:70"]["mean"] < ternary["mean"] < ex["EC:DMC 30:70"]["mean"]
    # the members are nearly as sure of the ternary as of its binaries: the model of 2026-12-02 was 5 to 40 times less
    # sure (1.27 against 0.26 and 0.03); the ln A head shipped until 2026-12-04 under 2 times, the anchored and bounded
    # head 2.4 times (0.21 against 0.09 and 0.03 mS/cm before calibration, 2 % of the ternary's value; RESULTS.md)
    assert ternary["std"] < 3 * max(ex["EC:DMC 30:70"]["std"], ex["EC:EMC 30:70"]["std"])
    out = check(shipped, 50, seed=0)
    assert 0.0 < out["median_relative_std"] <= out["max_relative_std"]


def test_carbonate_ternaries_conduct_like_their_family_measured(shipped):
    """1 mol/kg LiPF6 in EC with two linear carbonates at 25 °C: inside the band CALiSol-23 measured for the family
    (7.2–11.1 mS/cm at 20–25 °C, with a margin). EC:DMC:DEC 1:1:1 is the blend of the publication listed as wrong
    (model.data.errata, ~0.1 mS/cm): a model trained on those rows put it at 2.7 mS/cm (std 36)."""
    ex = commercial_example(shipped)
    lo, hi = EC_LINEAR_CARBONATE_BAND
    for name in ("EC:DMC:EMC 30:35:35", "EC:DMC:DEC 1:1:1"):
        assert lo < ex[name]["mean"] < hi, (name, ex[name])


def test_the_spaces_corners_and_edges_are_each_solvent_and_pair_and_ec_dmc_conducts_as_measured(shipped):
    """LiPF6 at 1 mol/kg, 25 °C, in each of the five solvents alone and each pair 1:1 (w/w). CALiSol-23 measured
    EC:DMC 1:1 with 1 mol/L LiPF6 at 24–26 °C at 11.2–12.1 mS/cm (3 rows); it has no row of LiPF6 in EC, DMC, EMC
    or DEC alone."""
    e = edges(shipped)
    assert len(e) == 5 + 10 and set(e) >= {"EC", "DEC", "EC:DMC 1:1", "EMC:DEC 1:1"}
    assert 10.0 < e["EC:DMC 1:1"] < 13.0
    assert e["EC:DMC 1:1"] > e["EC:DEC 1:1"]  # DEC is the most viscous of the three linear carbonates
