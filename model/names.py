"""Names instead of SMILES: every input that takes a structure also takes a name or abbreviation from the species
table (``model/data/tables.py``: EC, LiPF6, diglyme, TEGDME, …, case-insensitive).

A name from the table wins over the same text read as SMILES ("PC" is propylene carbonate, not methylphosphine).
Text that is neither a known name nor a valid SMILES is an error with "did you mean" suggestions.
"""

from __future__ import annotations

import difflib
from functools import cache

from model.chem import mol_from_smiles
from model.data.tables import SALT_ALIASES, SALTS, SOLVENTS
from model.errors import InvalidSmilesError


@cache
def _table() -> dict[str, tuple[str, str]]:
    """lower-cased name or alias → (SMILES, the table's name)."""
    out: dict[str, tuple[str, str]] = {}
    for entry in (*SOLVENTS.values(), *SALTS.values()):
        for n in (entry.name, *entry.aliases):
            out.setdefault(n.strip().lower(), (entry.smiles, entry.name))
    for alias, name in SALT_ALIASES.items():
        out.setdefault(alias.lower(), (SALTS[name].smiles, name))
    return out


def lookup(text: str) -> str | None:
    """The SMILES of a name or abbreviation in the table (case-insensitive), or None."""
    hit = _table().get(text.strip().lower()) if isinstance(text, str) else None
    return hit[0] if hit else None


def suggestions(text: str, n: int = 3) -> list[str]:
    """The table's names closest to ``text`` (for "did you mean")."""
    by_lower = {k: v[1] for k, v in _table().items()}
    close = difflib.get_close_matches(text.strip().lower(), list(by_lower), n=n * 2, cutoff=0.6)
    return list(dict.fromkeys(by_lower[c] for c in close))[:n]  # several aliases of one species count once


def resolve(text: str) -> str:
    """A component as a user wrote it (a name from the table or a SMILES) → its SMILES (as written in the table for
    a name, unchanged for a SMILES). Raises InvalidSmilesError with suggestions when it is neither."""
    smiles = lookup(text)
    if smiles is not None:
        return smiles
    try:
        mol_from_smiles(text)
    except InvalidSmilesError as e:
        near = suggestions(text) if isinstance(text, str) and text.strip() else []
        hint = f"; did you mean {', '.join(near)}?" if near else "; give a SMILES or a name from the species table (e.g. EC, LiPF6)"
        raise InvalidSmilesError(f"{e} — and {text!r} is not a name in the species table{hint}") from None
    return text

