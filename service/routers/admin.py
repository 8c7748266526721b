"""API key management (admin role)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request

from db import crud
from service.auth import Caller, require
from service.schemas import Id, KeyCreate, KeyCreated, KeyOut

router = APIRouter(prefix="/v1/admin", tags=["admin"])
admin = require("admin")


@router.post("/keys", response_model=KeyCreated, status_code=201)
def create_key(body: KeyCreate, request: Request, caller: Caller = Depends(admin)):
    with request.app.state.diffmix.sessions() as s:
        row, key = crud.create_api_key(s, body.role, body.name, by=caller.key_id)
        return KeyCreated(**KeyOut.model_validate(row).model_dump(), key=key)


@router.get("/keys", response_model=list[KeyOut])
def list_keys(request: Request, _: Caller = Depends(admin)):
    with request.app.state.diffmix.sessions() as s:
        return crud.list_api_keys(s)


@router.delete("/keys/{key_id}", response_model=KeyOut)
def revoke_key(key_id: Id, request: Request, caller: Caller = Depends(admin)):
    with request.app.state.diffmix.sessions() as s:
        return crud.revoke_api_key(s, key_id, caller.key_id)
