"""Molecules: SMILES parsing, canonical forms, splitting salts into ions, molar masses.

A salt is written as one dot-separated SMILES (``[Li+].F[P-](F)(F)(F)(F)F``). Inside DiffMix its ions
are separate mixture components, and mole fractions count each ion (the DiffMix paper's convention).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, TypeVar

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import Descriptors

from model.errors import InvalidSmilesError

if TYPE_CHECKING:
    import torch

RDLogger.DisableLog("rdApp.*")

F = TypeVar("F", float, np.ndarray, "torch.Tensor")  # a number, or an array/tensor of them computed elementwise


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


@dataclass(frozen=True)
class SaltFormula:
    """A salt's stoichiometry in the paper's convention: its cation mole fraction f (ions counted separately)
    fixes how much of the mixture is ions, how many formula units there are, and what is left for solvent."""

    smiles: str  # the salt as the user wrote it
    ions: tuple[str, ...]  # canonical SMILES of each ion, sorted
    counts: tuple[int, ...]  # ions of each kind per formula unit
    cation: str
    molar_mass: float  # g/mol of one formula unit

    @property
    def ions_per_cation(self) -> tuple[float, ...]:
        """Ions of each kind per cation (e.g. 1 and 1 for LiPF6, 1 and 2 for Mg(TFSI)2 per Mg²⁺)."""
        nu = self.counts[self.ions.index(self.cation)]
        return tuple(c / nu for c in self.counts)

    def formula_units(self, cation_fraction: F) -> F:
        """Moles of salt formula units per mole of mixture."""
        return cation_fraction / self.counts[self.ions.index(self.cation)]

    def solvent_share(self, cation_fraction: F) -> F:
        """Mole fraction left for the solvents once every ion is counted."""
        return 1.0 - cation_fraction * sum(self.ions_per_cation)

    def molality(self, cation_fraction: F, solvent_molar_mass: F) -> F:
        """mol of salt per kg of a solvent blend of mean molar mass ``solvent_molar_mass`` (g/mol)."""
        return self.formula_units(cation_fraction) * 1000.0 / (self.solvent_share(cation_fraction) * solvent_molar_mass)

    def cation_fraction(self, molality: F, solvent_molar_mass: F) -> F:
        """The inverse of ``molality``: the cation fraction that gives ``molality`` mol/kg."""
        nu = self.counts[self.ions.index(self.cation)]
        b_m = molality * solvent_molar_mass * nu
        return b_m / (1000.0 + b_m * sum(self.ions_per_cation))


@lru_cache(maxsize=4096)
def salt_formula(smiles: str) -> SaltFormula:
    """The stoichiometry of a salt written with all its ions; an uncharged molecule is refused."""
    sp = species(smiles)
    cations = [p for p, _ in sp.parts if formal_charge(p) > 0]
    if not sp.is_salt or not cations:
        raise InvalidSmilesError(f"{smiles!r} is not a salt: write it with its ions, e.g. '[Li+].F[P-](F)(F)(F)(F)F'")
    ions, counts = zip(*sp.parts)
    return SaltFormula(smiles, tuple(ions), tuple(counts), cations[0], sp.molar_mass)
