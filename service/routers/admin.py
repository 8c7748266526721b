"""API key management (admin role)."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter

from db import crud
from db.models import ApiKey
from service.auth import AdminDep
from service.deps import SessionDep
from service.errors import PROBLEM_RESPONSES
from service.schemas import Id, KeyCreate, KeyCreated, KeyOut

router = APIRouter(prefix="/v1/admin", tags=["admin"], responses=PROBLEM_RESPONSES)


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, s: SessionDep, caller: AdminDep) -> KeyCreated:
    """Create an API key; the key itself is in this answer only."""
    row, key = crud.create_api_key(s, body.role, body.name, by=caller.key_id)
    return KeyCreated(**KeyOut.model_validate(row).model_dump(), key=key)


@router.get("/keys", response_model=list[KeyOut])
def list_keys(s: SessionDep, caller: AdminDep) -> Sequence[ApiKey]:
    """Every key, revoked ones included (never the key itself)."""
    return crud.list_api_keys(s, caller.key_id)


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: Id, s: SessionDep, caller: AdminDep) -> ApiKey:
    """Revoke a key; it is refused from then on."""
    return crud.revoke_api_key(s, key_id, caller.key_id)
