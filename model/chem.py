"""Molecules: SMILES parsing, canonical forms, splitting salts into ions, molar masses.

A salt is written as one dot-separated SMILES (``[Li+].F[P-](F)(F)(F)(F)F``). Inside DiffMix its ions
are separate mixture components, and mole fractions count each ion (the DiffMix paper's convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors

from model.errors import InvalidSmilesError

RDLogger.DisableLog("rdApp.*")


@lru_cache(maxsize=65536)
def mol_from_smiles(smiles: str) -> Chem.Mol:
    if not isinstance(smiles, str) or not smiles.strip():
        raise InvalidSmilesError("empty SMILES: give each component a structure such as 'O=C1OCCO1'")
    mol = Chem.MolFromSmiles(smiles.strip())
    if mol is None or mol.GetNumAtoms() == 0:
        raise InvalidSmilesError(f"invalid SMILES {smiles!r}: RDKit cannot parse it; check brackets, charges and ring closures")
    return mol


@lru_cache(maxsize=65536)
def canonical(smiles: str) -> str:
    """Canonical isomeric SMILES (the key under which a molecule is stored and encoded)."""
    return Chem.MolToSmiles(mol_from_smiles(smiles))


@dataclass(frozen=True)
class Species:
    """One component as the user named it, with the ions (or the single neutral molecule) it is made of."""

    smiles: str  # canonical SMILES of the whole component (salt or molecule)
    parts: tuple[tuple[str, int], ...]  # (canonical SMILES of an ion or molecule, count per formula unit)
    molar_mass: float  # g/mol of one formula unit

    @property
    def is_salt(self) -> bool:
        return len(self.parts) > 1 or sum(n for _, n in self.parts) > 1


@lru_cache(maxsize=65536)
def species(smiles: str) -> Species:
    """Split a component into its fragments; a salt's fragments must balance to zero charge."""
    mol = mol_from_smiles(smiles)
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=True)
    counts: dict[str, int] = {}
    charge = 0
    for frag in frags:
        key = Chem.MolToSmiles(frag)
        counts[key] = counts.get(key, 0) + 1
        charge += Chem.GetFormalCharge(frag)
    if charge != 0:
        raise InvalidSmilesError(
            f"component {smiles!r} has net charge {charge:+d}: write a salt with all its ions, "
            "e.g. '[Li+].F[P-](F)(F)(F)(F)F'"
        )
    parts = tuple(sorted(counts.items()))
    return Species(smiles=Chem.MolToSmiles(mol), parts=parts, molar_mass=float(Descriptors.MolWt(mol)))


@lru_cache(maxsize=65536)
def formal_charge(smiles: str) -> int:
    """The net formal charge of a molecule or ion (the sum over its atoms): non-zero for an ion."""
    return int(Chem.GetFormalCharge(mol_from_smiles(smiles)))
