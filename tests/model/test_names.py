"""Names instead of SMILES: the species table, the resolver and its suggestions."""

import pytest

from model.chem import canonical, species
from model.data.tables import SALTS, SOLVENTS
from model.errors import DiffMixInputError, InvalidSmilesError
from model.mixture import from_record
from model.names import lookup, resolve, suggestions
from model.optimize.design import DesignSpec

ISSUE_LIST = ["EC", "PC", "DMC", "EMC", "DEC", "FEC", "VC", "MA", "EA", "MP", "DME", "DOL", "diglyme", "TEGDME", "THF",
              "2-MeTHF", "AN", "sulfolane", "LiPF6", "LiBF4", "LiClO4", "LiTFSI", "LiFSI", "LiBOB", "LiDFOB", "LiAsF6",
              "NaPF6"]


@pytest.mark.parametrize("name", ISSUE_LIST)
def test_every_species_a_lab_names_is_in_the_table(name):
    smiles = lookup(name)
    assert smiles is not None and species(smiles).molar_mass > 0
    assert lookup(name.lower()) == lookup(name.upper()) == smiles  # case-insensitive


def test_cas_numbers_have_valid_check_digits():
    """A typo in a CAS number almost always breaks its check digit (Σ i·d_i over the digits from the right, mod 10)."""
    entries = [e for e in (*SOLVENTS.values(), *SALTS.values()) if e.cas]
    assert len(entries) >= 25
    for e in entries:
        digits = e.cas.replace("-", "")
        body, check = digits[:-1], int(digits[-1])
        assert sum((i + 1) * int(d) for i, d in enumerate(reversed(body))) % 10 == check, e.name


def test_aliases_name_the_same_molecule():
    assert canonical(resolve("diglyme")) == canonical("COCCOCCOC")
    assert canonical(resolve("TEGDME")) == canonical(resolve("tetraglyme")) == canonical("COCCOCCOCCOCCOC")
    assert resolve("MEC") == resolve("EMC") and resolve("ethyl methyl carbonate") == resolve("EMC")


def test_a_name_wins_over_the_same_text_as_smiles_and_smiles_pass_through():
    assert canonical(resolve("PC")) == canonical("CC1COC(=O)O1")  # not methylphosphine
    assert resolve("CCOC(=O)OC") == "CCOC(=O)OC"


def test_unknown_text_gets_did_you_mean_suggestions():
    assert "EMC" in suggestions("EMCC") and "LiTFSI" in suggestions("LiTFS")
    with pytest.raises(InvalidSmilesError, match=r"invalid SMILES 'LiPF7'.*did you mean LiPF6"):
        resolve("LiPF7")


def test_records_and_campaign_spaces_take_names():
    m = from_record({"components": [{"smiles": "EC", "amount": 1.506}, {"smiles": "lipf6", "amount": 0.3006}],
                     "basis": "mass", "temperature_K": 298.15})
    ref = from_record({"components": [{"smiles": "O=C1OCCO1", "amount": 1.506},
                                      {"smiles": "[Li+].F[P-](F)(F)(F)(F)F", "amount": 0.3006}],
                       "basis": "mass", "temperature_K": 298.15})
    assert m == ref
    spec = DesignSpec.from_options(salt="LiPF6", solvents=["EC", "DMC", "EMC"], exclude=["EMC"], salt_molality=1.0,
                                   temperature_K=298.15)
    assert spec.space.salt == SALTS["LiPF6"].smiles and spec.space.solvents[1] == SOLVENTS["DMC"].smiles
    assert spec.space.exclude == (SOLVENTS["EMC"].smiles,)
    with pytest.raises(DiffMixInputError, match=r"space: .*'DMCC' is not a name.*did you mean DMC"):
        DesignSpec.from_options(salt="LiPF6", solvents=["EC", "DMCC"], salt_molality=1.0, temperature_K=298.15)
