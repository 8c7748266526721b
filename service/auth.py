"""API keys with roles. Clients send `Authorization: Bearer <key>`; a missing or wrong key is 401, a role acting
outside its rights 403. The admin role may do everything an operator or analyst may, and manage keys."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from db import crud

bearer = HTTPBearer(auto_error=False, description="An API key made with `diffmix admin create-key --role ROLE`")

RIGHTS = {
    "operator": {"operator"},
    "robot": {"robot"},
    "analyst": {"analyst"},
    "admin": {"admin", "operator", "analyst"},
}


@dataclass(frozen=True)
class Caller:
    key_id: int | None
    role: str | None


def require(*roles: str, anonymous_flag: str | None = None):
    def dep(request: Request, cred: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Caller:
        # a plain def: FastAPI runs it in its thread pool, so the key lookup (blocking database I/O) never stalls
        # the event loop that every other request is waiting on
        state = request.app.state.diffmix
        if cred is None:
            if anonymous_flag and getattr(state.settings, anonymous_flag):
                return Caller(None, None)
            raise HTTPException(401, "missing API key: send 'Authorization: Bearer <key>'",
                                headers={"WWW-Authenticate": "Bearer"})
        with state.sessions() as s:
            key = crud.key_for(s, cred.credentials)
        if key is None:
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        if not any(r in RIGHTS[key.role] for r in roles):
            raise HTTPException(403, f"the {key.role} role may not do this (needs {' or '.join(roles)})")
        return Caller(key.id, key.role)

    return dep
