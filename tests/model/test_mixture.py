import math

import pytest

from model.errors import DiffMixInputError, InvalidSmilesError
from model.mixture import from_amounts, from_record

EC, DMC, LIPF6 = "O=C1OCCO1", "COC(=O)OC", "[Li+].F[P-](F)(F)(F)(F)F"


def test_mass_basis_hand_worked():
    # 1.506 g EC (88.062 g/mol) = 0.017101 mol; 0.3006 g LiPF6 (151.905) = 0.0019789 mol → 2 ions
    m = from_record({"components": [{"smiles": EC, "amount": 1.506}, {"smiles": LIPF6, "amount": 0.3006}],
                     "basis": "mass", "temperature_K": 298.15})
    n_ec, n_salt = 1.506 / 88.062, 0.3006 / 151.905
    total = n_ec + 2 * n_salt
    f = m.fractions()
    assert f["O=C1OCCO1"] == pytest.approx(n_ec / total, rel=1e-4)
    assert f["[Li+]"] == pytest.approx(n_salt / total, rel=1e-4)
    assert f["F[P-](F)(F)(F)(F)F"] == f["[Li+]"]
    assert sum(m.x) == pytest.approx(1.0, abs=1e-12)


def test_paper_convention_lithium_fraction():
    # x(Li+) = x(PF6-) = 0.08, solvents share 0.84: LiPF6 0.08 mol with 0.84 mol solvent
    m = from_amounts([(LIPF6, 0.08), (EC, 0.252), (DMC, 0.588)], "mole", 303.15)
    f = m.fractions()
    assert f["[Li+]"] == pytest.approx(0.08 / 1.0)
    assert f["O=C1OCCO1"] + f["COC(=O)OC"] == pytest.approx(0.84)


def test_duplicate_components_merge():
    m = from_amounts([(EC, 1.0), (EC, 1.0), (DMC, 2.0)], "mole", 298.15)
    assert m.fractions() == {"COC(=O)OC": 0.5, "O=C1OCCO1": 0.5}


@pytest.mark.parametrize("amount", [-0.1, math.nan, math.inf, "abc", None, True])
def test_bad_amounts(amount):
    with pytest.raises(DiffMixInputError):
        from_amounts([(EC, amount), (DMC, 1.0)], "mole", 298.15)


@pytest.mark.parametrize("t", [149.9, 500.1, math.nan, -5, "hot"])
def test_temperature_range(t):
    with pytest.raises(DiffMixInputError, match="temperature"):
        from_amounts([(EC, 1.0), (DMC, 1.0)], "mole", t)


def test_empty_single_and_zero_mixtures():
    with pytest.raises(DiffMixInputError, match="no components"):
        from_amounts([], "mole", 298.15)
    with pytest.raises(DiffMixInputError, match="at least 2"):
        from_amounts([(EC, 1.0)], "mole", 298.15)
    with pytest.raises(DiffMixInputError, match="zero"):
        from_amounts([(EC, 0.0), (DMC, 0.0)], "mole", 298.15)


def test_strict_fractions_must_sum_to_one():
    with pytest.raises(DiffMixInputError, match="sum to 1"):
        from_amounts([(EC, 0.5), (DMC, 0.6)], "mole_fraction", 298.15)
    m = from_amounts([(EC, 0.4), (DMC, 0.6)], "mole_fraction", 298.15)
    assert m.fractions()["O=C1OCCO1"] == pytest.approx(0.4)


def test_unknown_basis_and_bad_smiles():
    with pytest.raises(DiffMixInputError, match="basis"):
        from_amounts([(EC, 1.0), (DMC, 1.0)], "volume", 298.15)
    with pytest.raises(InvalidSmilesError, match="C1CC"):
        from_amounts([("C1CC", 1.0), (DMC, 1.0)], "mole", 298.15)


def test_basis_is_required_not_defaulted():
    """Grams without a basis once were read as moles (1.89 instead of 5.68 mS/cm): now it is an error."""
    record = {"components": [{"smiles": EC, "amount": 1.506}, {"smiles": DMC, "amount": 1.0}], "temperature_K": 300}
    with pytest.raises(DiffMixInputError, match=r"'basis' is required.*grams: 'mass'"):
        from_record(record)
    assert from_record({**record, "basis": "mass"}) != from_record({**record, "basis": "mole"})


def test_record_shape_errors():
    with pytest.raises(DiffMixInputError, match="temperature_K"):
        from_record({"components": [{"smiles": EC, "amount": 1}, {"smiles": DMC, "amount": 1}]})
    with pytest.raises(DiffMixInputError, match="components"):
        from_record({"components": "EC", "temperature_K": 300})
    with pytest.raises(DiffMixInputError, match="'smiles' and 'amount'"):
        from_record({"components": [{"smiles": EC}], "temperature_K": 300})


@pytest.mark.parametrize("key,field", [("Basis", "basis"), ("pressure_kpa", "pressure_kPa"), ("pressure", "pressure_kPa"),
                                       ("temperature_c", "temperature_C")])
def test_a_misspelt_field_is_refused_not_left_at_its_default(key, field):
    record = {"components": [{"smiles": EC, "amount": 1.0}, {"smiles": DMC, "amount": 3.0}], "temperature_K": 300,
              "basis": "mole"}
    with pytest.raises(DiffMixInputError, match=f"unknown field '{key}'; did you mean '{field}'"):
        from_record({**record, key: "mass" if field == "basis" else 500.0})
    with pytest.raises(DiffMixInputError, match="component 2: unknown field 'Amount'"):
        from_record({**record, "components": [{"smiles": EC, "amount": 1.0}, {"smiles": DMC, "amount": 3.0,
                                                                              "Amount": 2.0}]})
    # other keys ride along: a record may carry its own id or notes, and predict echoes them
    m = from_record({**record, "id": "cell-7", "notes": "dried over sieves", "components": [
        {"smiles": EC, "amount": 1.0, "name": "EC"}, {"smiles": DMC, "amount": 3.0}]})
    assert m.fractions() == pytest.approx({EC: 0.25, DMC: 0.75}) and m.pressure_kPa == 101.325
