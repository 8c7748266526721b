"""RDKit molecules → PyTorch Geometric graphs (atom and bond features), whole-molecule descriptors and ECFP
fingerprints."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import Crippen, Descriptors, Lipinski, rdFingerprintGenerator, rdMolDescriptors
from torch_geometric.data import Data

from model.chem import mol_from_smiles

ELEMENTS = ("H", "Li", "B", "C", "N", "O", "F", "Na", "Si", "P", "S", "Cl", "K", "As", "Br", "I")
DEGREES = (0, 1, 2, 3, 4, 5, 6)
CHARGES = (-1, 0, 1)
HYBRIDIZATIONS = (
    Chem.rdchem.HybridizationType.S,
    Chem.rdchem.HybridizationType.SP,
    Chem.rdchem.HybridizationType.SP2,
    Chem.rdchem.HybridizationType.SP3,
    Chem.rdchem.HybridizationType.SP3D,
    Chem.rdchem.HybridizationType.SP3D2,
)
NUM_HS = (0, 1, 2, 3)
BOND_TYPES = (
    Chem.rdchem.BondType.SINGLE,
    Chem.rdchem.BondType.DOUBLE,
    Chem.rdchem.BondType.TRIPLE,
    Chem.rdchem.BondType.AROMATIC,
)


def _one_hot(value, choices) -> list[float]:
    """One-hot with a final 'other' slot, so an unseen element or state is still encoded."""
    out = [0.0] * (len(choices) + 1)
    try:
        out[choices.index(value)] = 1.0
    except ValueError:
        out[-1] = 1.0
    return out


def atom_features(atom: Chem.Atom) -> list[float]:
    return (
        _one_hot(atom.GetSymbol(), ELEMENTS)
        + _one_hot(atom.GetTotalDegree(), DEGREES)
        + _one_hot(atom.GetFormalCharge(), CHARGES)
        + _one_hot(atom.GetHybridization(), HYBRIDIZATIONS)
        + _one_hot(atom.GetTotalNumHs(), NUM_HS)
        + [float(atom.GetIsAromatic()), float(atom.IsInRing()), atom.GetMass() / 100.0]
    )


def bond_features(bond: Chem.Bond) -> list[float]:
    return _one_hot(bond.GetBondType(), BOND_TYPES) + [float(bond.GetIsConjugated()), float(bond.IsInRing())]


ATOM_DIM = len(ELEMENTS) + len(DEGREES) + len(CHARGES) + len(HYBRIDIZATIONS) + len(NUM_HS) + 5 + 3
BOND_DIM = len(BOND_TYPES) + 1 + 2


@lru_cache(maxsize=16384)
def mol_graph(smiles: str) -> Data:
    """Graph of one molecule or ion (heavy atoms; hydrogens as counts), edges in both directions."""
    mol = mol_from_smiles(smiles)
    x = torch.tensor([atom_features(a) for a in mol.GetAtoms()], dtype=torch.float32)
    src, dst, attr = [], [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        f = bond_features(bond)
        src += [i, j]
        dst += [j, i]
        attr += [f, f]
    edge_index = torch.tensor([src, dst], dtype=torch.long) if src else torch.zeros((2, 0), dtype=torch.long)
    edge_attr = torch.tensor(attr, dtype=torch.float32) if attr else torch.zeros((0, BOND_DIM))
    return Data(x=x, edge_index=edge_index, edge_attr=edge_attr)


# Whole-molecule descriptors a graph convolution sees only indirectly, each with a scale that puts CALiSol-23's solvents
# near 0–3: size and polarisability (molar mass, Crippen molar refractivity), polarity (topological polar surface
# area, Crippen log P), flexibility (rotatable bonds, sp³ carbon fraction) and proticity (H-bond donors). What
# decides a solvent's viscosity, and so an electrolyte's conductivity, is mostly these; an unseen solvent then
# arrives with them measured instead of guessed from its atoms (`--mol-descriptors`, a study option).
MOL_DESCRIPTORS = (
    ("molar mass / 100 g/mol", lambda m: Descriptors.MolWt(m) / 100.0),
    ("molar refractivity / 25", lambda m: Crippen.MolMR(m) / 25.0),
    ("polar surface area / 50 Å²", lambda m: rdMolDescriptors.CalcTPSA(m) / 50.0),
    ("log P / 3", lambda m: Crippen.MolLogP(m) / 3.0),
    ("rotatable bonds / 4", lambda m: Lipinski.NumRotatableBonds(m) / 4.0),
    ("sp³ carbon fraction", lambda m: rdMolDescriptors.CalcFractionCSP3(m)),
    ("H-bond donors / 2", lambda m: Lipinski.NumHDonors(m) / 2.0),
)
DESCRIPTOR_DIM = len(MOL_DESCRIPTORS)


@lru_cache(maxsize=16384)
def mol_descriptors(smiles: str) -> np.ndarray:
    """[DESCRIPTOR_DIM] the scaled whole-molecule descriptors of MOL_DESCRIPTORS."""
    mol = mol_from_smiles(smiles)
    return np.array([f(mol) for _, f in MOL_DESCRIPTORS], dtype=np.float32)


_ECFP = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)


@lru_cache(maxsize=16384)
def ecfp(smiles: str) -> np.ndarray:
    """ECFP4 (Morgan radius 2), 1024 bits, as in the paper's fingerprint baseline."""
    fp = _ECFP.GetFingerprint(mol_from_smiles(smiles))
    arr = np.zeros((1024,), dtype=np.float32)
    DataStructs.ConvertToNumpyArray(fp, arr)
    return arr
