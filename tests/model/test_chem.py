import numpy as np
import pytest

from model.chem import canonical, species
from model.data.tables import SALTS, SOLVENTS
from model.errors import InvalidSmilesError
from model.featurize import ATOM_DIM, BOND_DIM, ecfp, mol_graph


def test_salt_splits_into_balanced_ions():
    sp = species("[Li+].F[P-](F)(F)(F)(F)F")
    assert dict(sp.parts) == {"[Li+]": 1, "F[P-](F)(F)(F)(F)F": 1}
    assert sp.is_salt
    assert sp.molar_mass == pytest.approx(151.90, abs=0.02)


def test_divalent_salt_counts_ions():
    sp = species("[Mg+2].[Cl-].[Cl-]")
    assert dict(sp.parts) == {"[Mg+2]": 1, "[Cl-]": 2}


def test_charged_component_without_counter_ion_is_rejected():
    with pytest.raises(InvalidSmilesError, match="net charge"):
        species("F[P-](F)(F)(F)(F)F")


@pytest.mark.parametrize("bad", ["", "C1CC", "not a smiles", "C(C"])
def test_invalid_smiles_is_a_clear_error(bad):
    with pytest.raises(InvalidSmilesError):
        species(bad)


def test_canonical_forms_agree():
    assert canonical("OCC") == canonical("CCO")


def test_graph_shapes_and_ion_without_bonds():
    g = mol_graph("O=C1OCCO1")
    assert g.x.shape == (6, ATOM_DIM)
    assert g.edge_index.shape == (2, 12) and g.edge_attr.shape == (12, BOND_DIM)
    li = mol_graph("[Li+]")
    assert li.x.shape == (1, ATOM_DIM) and li.edge_index.shape == (2, 0)


def test_ecfp_is_1024_bits_and_distinguishes_isomers():
    a, b = ecfp("Cc1ccccc1C"), ecfp("Cc1cccc(C)c1")
    assert a.shape == (1024,) and set(np.unique(a)) <= {0.0, 1.0}
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("entry", list(SOLVENTS.values()) + list(SALTS.values()), ids=lambda e: e.name)
def test_every_name_maps_to_a_structure_with_the_literature_molar_mass(entry):
    assert species(entry.smiles).molar_mass == pytest.approx(entry.molar_mass, abs=0.05)
