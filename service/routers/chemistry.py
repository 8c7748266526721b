"""What the console's forms pick from: the species table and 2-D structure drawings (open to everyone: public
chemistry, no lab data), and who the caller's key is."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import Response

from db import crud
from model.data.tables import SALTS, SOLVENTS
from model.drawing import structure_svg
from service.auth import AnyRoleDep
from service.deps import SessionDep
from service.errors import PROBLEM_RESPONSES

router = APIRouter(prefix="/v1", tags=["chemistry"], responses=PROBLEM_RESPONSES)


@router.get("/species")
def species_table() -> list[dict[str, Any]]:
    """The curated species table: solvents and salts with names, abbreviations, CAS numbers, SMILES, molar masses
    (and solvent densities); every input that takes a SMILES also takes one of these names."""
    out: list[dict[str, Any]] = [
        {"kind": "solvent", "name": s.name, "smiles": s.smiles, "aliases": list(s.aliases), "cas": s.cas or None,
         "molar_mass_g_mol": s.molar_mass, "density_g_cm3": s.density, "note": s.note} for s in SOLVENTS.values()]
    out += [{"kind": "salt", "name": s.name, "smiles": s.smiles, "aliases": list(s.aliases), "cas": s.cas or None,
             "molar_mass_g_mol": s.molar_mass, "density_g_cm3": None, "note": s.note} for s in SALTS.values()]
    return out


@router.get("/structure.svg", responses={200: {"content": {"image/svg+xml": {}}}})
def structure(smiles: str = Query(..., max_length=500, description="a SMILES or a name from the species table")) -> Response:
    """A 2-D drawing of the species (RDKit)."""
    return Response(structure_svg(smiles), media_type="image/svg+xml",
                    headers={"Cache-Control": "public, max-age=86400"})


@router.get("/whoami")
def whoami(s: SessionDep, caller: AnyRoleDep) -> dict[str, Any]:
    """The caller's key: its id, name and role (the console shows what that role may do)."""
    key = crud.get_api_key(s, caller.key)
    return {"key_id": key.id, "name": key.name, "role": caller.role, "prefix": key.prefix}
