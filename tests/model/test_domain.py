"""The applicability domain: built from training rows, it flags what the model never learnt and passes what it did."""

import numpy as np
import pytest

from model.data.dataset import MixtureTable
from model.domain import Domain, Thresholds, fractions_report, pair_key
from model.ensemble import Ensemble
from model.errors import DiffMixInputError
from model.mixture import from_amounts
from model.optimize.space import CompositionSpace
from model.properties import get_property
from tests.conftest import tiny_domain

EC, DMC, EMC, PC, FEC = "O=C1OCCO1", "COC(=O)OC", "CCOC(=O)OC", "CC1COC(=O)O1", "O=C1OCC(F)O1"
DEC = "CCOC(=O)OCC"
LIPF6, LIFSI = "[Li+].F[P-](F)(F)(F)(F)F", "[Li+].O=S(=O)(F)[N-]S(=O)(=O)F"
M_LIPF6 = 151.905


def lipf6(comps, molality=1.0, T=298.15, salt=LIPF6, salt_mm=M_LIPF6):
    """LiPF6 at ``molality`` in a solvent blend given by mass (g per g of blend)."""
    return from_amounts([*comps, (salt, molality * salt_mm / 1000)], "mass", T)


@pytest.fixture(scope="module")
def domain():
    """LiPF6 in EC:DMC and EC:EMC binaries (0.3–1.5 mol/kg, 253–333 K), FEC only as a 5 % additive in 3 rows, and
    LiFSI in 3 rows."""
    rows = []
    for T in (253.15, 293.15, 333.15):
        for w in (0.2, 0.5, 0.8):
            for b in (0.3, 1.0, 1.5):
                rows += [lipf6([(EC, w), (DMC, 1 - w)], b, T), lipf6([(EC, w), (EMC, 1 - w)], b, T)]
    rows += [lipf6([(EC, 0.3), (DMC, 0.65), (FEC, 0.05)], 1.0, T) for T in (253.15, 293.15, 333.15)]
    rows += [lipf6([(EC, 0.3), (DMC, 0.7)], 1.0, T, LIFSI, 187.07) for T in (253.15, 293.15, 333.15)]
    return Domain.build(MixtureTable.from_mixtures(rows, np.ones(len(rows))), None).with_thresholds(min_rows=10)


def test_what_it_was_trained_on_is_in_domain(domain):
    r = domain.check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.2, 303.15))
    assert r.in_domain and r.reasons == []


def test_a_ternary_of_taught_pairs_is_in_domain_but_more_solvents_than_ever_seen_are_not(domain):
    assert domain.max_solvents == 3
    assert domain.with_thresholds(min_rows=1).check(lipf6([(EC, 0.3), (DMC, 0.6), (FEC, 0.1)], 1.0)).in_domain
    r = domain.with_thresholds(min_rows=1).check(lipf6([(EC, 0.3), (DMC, 0.3), (EMC, 0.35), (FEC, 0.05)], 1.0))
    assert r.reasons == ["EMC and DMC never together in a training mixture", "EMC and FEC never together in a training mixture",
                         "4 solvents; training mixtures have at most 3"]


def test_a_blend_with_two_solvents_never_together_in_training_is_flagged(domain):
    """EC:DMC and EC:EMC taught EC with each, never DMC with EMC: their ternary (the issue's commercial example) rests
    on a pair no row taught, whatever the order of the components; a pair in few rows is flagged below its threshold."""
    r = domain.check(lipf6([(EC, 0.3), (DMC, 0.35), (EMC, 0.35)], 1.0))
    assert not r.in_domain and r.reasons == ["EMC and DMC never together in a training mixture"]
    assert domain.check(lipf6([(EMC, 0.35), (DMC, 0.35), (EC, 0.3)], 1.0)) == r
    assert domain.pairs is not None and domain.pairs[pair_key(EC, DMC)] == 33 and domain.pairs[pair_key(EC, EMC)] == 27
    strict = domain.with_thresholds(min_rows=1, min_pair_rows=5)
    assert strict.check(lipf6([(EC, 0.3), (DMC, 0.6), (FEC, 0.1)], 1.0)).reasons == [
        "DMC and FEC together in only 3 training rows (fewer than 5)", "FEC and EC together in only 3 training rows (fewer than 5)"]
    assert strict.check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.0)).in_domain


def test_a_domain_json_without_pairs_does_not_judge_them(tmp_path, domain):
    """A domain.json written before pairs were recorded loads, and judges everything else as before."""
    import json

    domain.save(tmp_path)
    data = json.loads((tmp_path / "domain.json").read_text())
    del data["pairs"]
    (tmp_path / "domain.json").write_text(json.dumps(data))
    old = Domain.load(tmp_path)
    assert old is not None and old.pairs is None
    assert old.check(lipf6([(EC, 0.3), (DMC, 0.35), (EMC, 0.35)], 1.0)).in_domain
    assert not old.check(lipf6([(EC, 1.0)], 66.0)).in_domain


def test_nacl_in_water_is_flagged_for_every_reason(domain):
    r = domain.check(from_amounts([("[Na+].[Cl-]", 0.058), ("O", 1.0)], "mass", 298.15))
    text = " | ".join(r.reasons)
    assert not r.in_domain
    assert "element Na" in text and "element Cl" in text and "ion [Na+] never seen" in text
    assert "protic" in text and "far from every training molecule" in text


def test_a_concentration_beyond_the_salts_range_is_flagged(domain):
    r = domain.check(lipf6([(EC, 1.0)], 66.0))
    assert not r.in_domain and any("66 mol/kg is beyond its training range 0.3–1.5 mol/kg" in x for x in r.reasons)
    assert domain.check(lipf6([(EC, 0.5), (DMC, 0.5)], 1.6)).in_domain  # within the 10 % margin


def test_fec_rich_blends_and_rare_salts_are_flagged(domain):
    r = domain.check(lipf6([(EC, 0.2), (FEC, 0.5), (DMC, 0.3)]))
    assert not r.in_domain
    assert any(x.startswith("FEC rarely seen: 3 training rows") for x in r.reasons)
    assert any(x.startswith("FEC at ") and "training has it up to" in x for x in r.reasons)
    r = domain.check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.0, 298.15, LIFSI, 187.07))
    assert r.reasons == ["salt LiFSI rarely seen: 3 training rows (fewer than 10)"]
    # the threshold is configurable
    assert domain.with_thresholds(min_rows=3).check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.0, 298.15, LIFSI, 187.07)).in_domain


def test_temperature_beyond_the_salts_range_and_unknown_molecules(domain):
    r = domain.check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.0, 373.15))
    assert r.reasons == ["temperature 373.15 K is beyond the training range of LiPF6 (253.15–333.15 K)"]
    r = domain.check(lipf6([(EC, 0.3), (PC, 0.7)]))  # PC is close to EC, but never seen
    assert not r.in_domain and r.reasons[0].startswith("PC never seen in training (nearest FEC, Tanimoto 0.50")


def test_pressure_outside_training_is_an_error(domain):
    domain.check_pressure(101.325, "ionic_conductivity")
    domain.check_pressure(95.0, "ionic_conductivity")
    with pytest.raises(DiffMixInputError, match=r"pressure_kPa = 500 .* trained on \(101.325 kPa"):
        domain.check_pressure(500.0, "ionic_conductivity")


def test_round_trip_through_domain_json(tmp_path, domain):
    domain.save(tmp_path)
    back = Domain.load(tmp_path)
    assert back == domain and back.thresholds == Thresholds(min_rows=10)
    assert Domain.load(tmp_path / "nowhere") is None


def test_a_model_that_reads_tabulated_viscosity_names_a_solvent_the_tables_lack(tmp_path, domain):
    """A Walden term (model.nn.solvent) gives a solvent without a tabulated viscosity the tables' median: the report
    says so for that solvent and no other, the saved domain does not keep it (it is the model's), and an ensemble
    sets it on whatever domain it is given."""
    from model.nn.models import build

    water = from_amounts([("O", 1.0), (LIPF6, M_LIPF6 / 1000)], "mass", 298.15)
    reading = domain.reading(("viscosity",))
    flagged = [x for x in reading.check(water).reasons if "tabulated" in x]
    assert flagged == ["O: no tabulated viscosity; the model takes the tabulated solvents' median (0.744 mPa·s)"]
    assert not any("tabulated" in x for x in domain.check(water).reasons)
    assert reading.check(lipf6([(EC, 0.3), (DMC, 0.7)], 1.0)).in_domain  # EC and DMC are tabulated
    reading.save(tmp_path)
    assert Domain.load(tmp_path) == domain
    ens = Ensemble([build("diffmix", "vft", hidden=8, log_scale=True, walden=1.0)], get_property("ionic_conductivity"), "diffmix", {})
    ens.domain = domain
    assert ens.domain.reads == ("viscosity",) and ens.domain == reading


def test_a_campaign_space_is_judged_over_its_extremes(domain):
    inside = CompositionSpace(LIPF6, [EC, DMC], (0.5, 1.4), salt_basis="molality", solvent_lower=np.array([0.2, 0.2]),
                              solvent_upper=np.array([0.8, 0.8]), solvent_basis="mass")
    assert domain.check_space(inside, [298.15]).in_domain
    wide = CompositionSpace(LIPF6, [EC, DMC, FEC], (0.5, 3.0), salt_basis="molality")
    r = domain.check_space(wide, [298.15, 353.15])
    text = " | ".join(r.reasons)
    assert not r.in_domain and "3 mol/kg is beyond" in text and "FEC at 100 %" in text and "353.15 K" in text
    # the pairs a space's points hold at once: DMC with EMC is judged only where the space lets both in
    bounds = dict(salt_basis="molality", solvent_lower=np.array([0.2, 0.2, 0.0]), solvent_basis="mass")
    both = CompositionSpace(LIPF6, [EC, DMC, EMC], (0.5, 1.4), solvent_upper=np.array([0.6, 0.6, 0.4]), **bounds)
    assert domain.check_space(both, [298.15]).reasons == ["EMC and DMC never together in a training mixture"]
    apart = CompositionSpace(LIPF6, [EC, DMC, EMC], (0.5, 1.4), solvent_upper=np.array([0.8, 0.8, 0.0]), **bounds)
    assert domain.check_space(apart, [298.15]).in_domain


def test_an_experiments_composition_is_judged_too(domain):
    x = lipf6([(EC, 0.3), (DMC, 0.7)], 1.0).fractions()
    assert fractions_report(domain, x, 298.15).in_domain
    assert not fractions_report(None, x, 298.15).in_domain  # a model with no record says so


def test_the_tiny_test_models_domain_is_what_its_docstring_says():
    d = tiny_domain(get_property("ionic_conductivity"))
    assert d.temperature_K == (253.15, 333.15) and d.pressure_kPa == (101.325, 101.325) and d.max_solvents == 2


def test_the_shipped_conductivity_models_domain_flags_the_known_examples():
    """The shipped model's domain.json (built from its CALiSol-23 training rows by `diffmix domain`): NaCl in water,
    66 mol/kg LiPF6 in EC and an FEC-rich blend are out, and so is EMC:DEC (two linear carbonates no CALiSol-23 row
    holds together); 1 mol/kg LiPF6 in EC:DMC:EMC 30:35:35 is in."""
    from model.predict import Predictor

    p = Predictor.load("ionic_conductivity")
    assert p.ensemble.domain is not None and p.ensemble.domain.rows > 12_000
    records = [
        {"components": [{"smiles": "O", "amount": 1.0}, {"smiles": "[Na+].[Cl-]", "amount": 0.058}]},
        {"components": [{"smiles": EC, "amount": 1.0}, {"smiles": LIPF6, "amount": 66 * M_LIPF6 / 1000}]},
        {"components": [{"smiles": FEC, "amount": 0.6}, {"smiles": EMC, "amount": 0.4}, {"smiles": LIPF6, "amount": 0.15}]},
        {"components": [{"smiles": EC, "amount": 0.3}, {"smiles": DMC, "amount": 0.35}, {"smiles": EMC, "amount": 0.35},
                        {"smiles": LIPF6, "amount": M_LIPF6 / 1000}]},
        {"components": [{"smiles": EMC, "amount": 0.5}, {"smiles": DEC, "amount": 0.5}, {"smiles": LIPF6, "amount": M_LIPF6 / 1000}]},
    ]
    rows = p.predict_records([{**r, "basis": "mass", "temperature_K": 298.15} for r in records])
    water, conc, fec, ternary, linear = (r["domain"] for r in rows)
    assert linear == {"in_domain": False, "reasons": ["EMC and DEC never together in a training mixture"]}
    assert not water["in_domain"] and any("protic" in x for x in water["reasons"])
    assert not conc["in_domain"] and any("66 mol/kg is beyond" in x for x in conc["reasons"])
    assert not fec["in_domain"] and any(x.startswith("FEC") for x in fec["reasons"])
    assert ternary == {"in_domain": True, "reasons": []}
