"""Formulation strings, as a lab writes an electrolyte: ``1.2 M LiPF6 in EC:EMC 3:7 (w/w)``, ``1 m LiFSI in DME``,
``0.8 mol/kg LiPF6 in EC:DMC:EMC 1:1:1 by volume``.

- concentration: ``M`` or ``mol/L`` (mol per litre of solution) or ``m`` or ``mol/kg`` (mol per kg of solvent);
- the salt and the solvents by name (the species table, ``model/names.py``) or SMILES, solvents joined by ``:``;
- a ratio for two or more solvents, with its basis: by weight (``w/w``, ``wt``, ``by weight``, ``by mass``), by
  volume (``v/v``, ``vol``, ``by volume``) or by mole (``mol``, ``mol/mol``, ``by mole``).

Volume ratios and molarities need densities: the pure solvents' densities from the species table, an ideal
(volume-additive) blend, and the salt's apparent molar volume M_salt / 3.0 cm³/mol — the same estimate the data
normalisation uses for CALiSol-23's molarity rows (``model/data/calisol.py``). Anything ambiguous is an error that
says how to write it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from model.chem import species
from model.data.calisol import blend_density, mass_fractions, molarity_to_molality
from model.data.tables import SALT_EFFECTIVE_DENSITY, density_of
from model.errors import DiffMixInputError, InvalidSmilesError
from model.names import resolve

EXAMPLES = "e.g. '1.2 M LiPF6 in EC:EMC 3:7 (w/w)', '1 m LiFSI in DME' or '0.8 mol/kg LiPF6 in EC:DMC:EMC 1:1:1 by volume'"
_UNITS = {"M": "M", "mol/L": "M", "mol/l": "M", "m": "m", "mol/kg": "m"}
_BASES = {"w/w": "w", "wt": "w", "wt.": "w", "by weight": "w", "by mass": "w", "weight": "w", "mass": "w",
          "v/v": "v", "vol": "v", "vol.": "v", "by volume": "v", "volume": "v",
          "mol": "mol", "mol/mol": "mol", "by mole": "mol", "by mol": "mol", "mole": "mol"}
_PATTERN = re.compile(
    r"^\s*(?P<conc>\d+(?:\.\d*)?|\.\d+)\s*(?P<unit>mol/kg|mol/[Ll]|M|m)\s+(?P<salt>\S+)\s+in\s+(?P<solvents>\S+)"
    r"(?:\s+(?P<ratio>[\d.]+(?::[\d.]+)+))?\s*(?P<basis>.*?)\s*$")


@dataclass(frozen=True)
class Formulation:
    """A parsed formulation: what to weigh (grams per gram of solvent blend) and how it was derived."""

    salt: str  # SMILES
    solvents: tuple[str, ...]  # SMILES
    solvent_mass_fractions: tuple[float, ...]
    molality: float  # mol per kg of solvent blend
    assumption: str  # how a molarity or a volume ratio was converted ("" when nothing was estimated)

    def components(self) -> list[tuple[str, float]]:
        """(SMILES, grams) for 1 g of solvent blend and its salt: a record with basis 'mass'."""
        salt_g = self.molality * species(self.salt).molar_mass / 1000.0
        return [*zip(self.solvents, self.solvent_mass_fractions), (self.salt, salt_g)]


def _density(smiles: str, why: str) -> float:
    density = density_of(smiles)
    if density is not None:
        return density
    raise DiffMixInputError(f"{why} needs the density of {smiles!r}, which the species table does not have; "
                            "give the ratio by weight or mole and the salt as a molality (m)")


def parse(text: str) -> Formulation:
    """The formulation a string describes (see the module docstring); DiffMixInputError saying how to write it."""
    if not isinstance(text, str):
        raise DiffMixInputError(f"a formulation is a string, {EXAMPLES}")
    m = _PATTERN.match(text)
    if m is None:
        raise DiffMixInputError(f"formulation {text!r} is not 'CONCENTRATION UNIT SALT in SOLVENTS [RATIO BASIS]', {EXAMPLES}")
    unit = _UNITS[m["unit"]]
    conc = float(m["conc"])
    if not conc > 0:
        raise DiffMixInputError(f"formulation {text!r}: the salt concentration must be positive")
    try:
        salt = resolve(m["salt"])
        solvents = [resolve(s) for s in re.split(r"[:/]", m["solvents"]) if s]
    except InvalidSmilesError as e:
        raise DiffMixInputError(f"formulation {text!r}: {e}") from None
    if not species(salt).is_salt:
        raise DiffMixInputError(f"formulation {text!r}: {m['salt']!r} is not a salt; write the salt first, {EXAMPLES}")
    for raw, s in zip(re.split(r"[:/]", m["solvents"]), solvents):
        if species(s).is_salt:
            raise DiffMixInputError(f"formulation {text!r}: {raw!r} is a salt, not a solvent")
    basis_text = m["basis"].strip().strip("()").strip().lower()
    if len(solvents) > 1 and m["ratio"] is None:
        raise DiffMixInputError(f"formulation {text!r}: {len(solvents)} solvents need a ratio and its basis, e.g. "
                                f"'{m['solvents']} {':'.join(['1'] * len(solvents))} (w/w)'")
    if basis_text and basis_text not in _BASES:
        raise DiffMixInputError(f"formulation {text!r}: {m['basis']!r} is not a ratio basis; write w/w, v/v or mol")
    if m["ratio"] is not None:
        ratio = np.array([float(v) for v in m["ratio"].split(":")])
        if len(ratio) != len(solvents):
            raise DiffMixInputError(f"formulation {text!r}: {len(solvents)} solvents but {len(ratio)} numbers in the ratio")
        if not basis_text:
            raise DiffMixInputError(f"formulation {text!r}: say what the ratio {m['ratio']} is: by weight "
                                    f"'(w/w)', by volume '(v/v)' or by mole '(mol)'")
        if np.any(ratio < 0) or ratio.sum() <= 0:
            raise DiffMixInputError(f"formulation {text!r}: the ratio needs non-negative numbers, not all zero")
        basis = _BASES[basis_text]
    else:
        ratio, basis = np.ones(1), "w"
        if basis_text:
            raise DiffMixInputError(f"formulation {text!r}: {m['basis']!r} without a ratio; {EXAMPLES}")
    molar_mass = np.array([species(s).molar_mass for s in solvents])
    notes = []
    density = None
    if basis == "v" or unit == "M":
        why = "a volume ratio" if basis == "v" else "a molarity (M)"
        density = np.array([_density(s, why) for s in solvents])
    w = mass_fractions(ratio / ratio.sum(), basis, molar_mass, density if density is not None else np.ones(len(solvents)))
    if basis == "v":
        notes.append("volume ratio → mass ratio with the pure solvents' densities at 25 °C")
    molality = conc
    if unit == "M":
        assert density is not None
        rho = float(blend_density(w, density))
        m_salt = species(salt).molar_mass
        molality = float(molarity_to_molality(np.array(conc), np.array(m_salt), np.array(rho)))
        notes.append(f"{conc:g} mol/L → {molality:.4g} mol/kg with an ideal blend density of {rho:.3f} g/cm³ and the "
                     f"salt's apparent molar volume M/{SALT_EFFECTIVE_DENSITY:g} cm³/mol")
    return Formulation(salt, tuple(solvents), tuple(float(v) for v in w), molality, "; ".join(notes))
