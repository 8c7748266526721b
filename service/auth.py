"""API keys with roles. Clients send `Authorization: Bearer <key>`; a missing or wrong key is 401, a role acting
outside its rights 403. The admin role may do everything an operator or analyst may, and manage keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from db import crud
from db.enums import Role
from service.deps import SessionDep, SettingsDep

bearer = HTTPBearer(auto_error=False, description="An API key made with `diffmix admin create-key --role ROLE`")

# The roles a key of each role may act as.
RIGHTS: dict[Role, frozenset[Role]] = {
    Role.operator: frozenset({Role.operator}),
    Role.robot: frozenset({Role.robot}),
    Role.analyst: frozenset({Role.analyst}),
    Role.admin: frozenset({Role.admin, Role.operator, Role.analyst}),
}


def missing_key_message(authorization: str | None) -> str:
    """Why a request carries no usable key: none at all, or a header without the word Bearer."""
    if authorization and authorization.strip():
        return "the Authorization header needs the word Bearer before the key: send 'Authorization: Bearer <key>'"
    return "missing API key: send 'Authorization: Bearer <key>'"


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id and role (both None for an anonymous caller where that is allowed)."""

    key_id: int | None
    role: Role | None

    @property
    def key(self) -> int:
        """The caller's key id, for routes no anonymous caller can reach (their dependency refuses one)."""
        if self.key_id is None:
            raise HTTPException(401, "this needs an API key")
        return self.key_id


def require(*roles: Role, anonymous_flag: str | None = None) -> Callable[..., Caller]:
    """A dependency that admits a key whose role may act as one of ``roles`` (or anyone, when the named
    setting is on), looked up in the request's own session."""

    def dep(request: Request, session: SessionDep, settings: SettingsDep,
            cred: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Caller:
        if cred is None:
            if anonymous_flag and getattr(settings, anonymous_flag):
                return Caller(None, None)
            raise HTTPException(401, missing_key_message(request.headers.get("authorization")),
                                headers={"WWW-Authenticate": "Bearer"})
        key = crud.key_for(session, cred.credentials)
        session.commit()  # end the read: the route's own writes start a fresh transaction
        client = request.client.host if request.client else "unknown"
        if key is None:
            crud.audit_denied(session, 401, "unknown or revoked API key", None, client, request.url.path)
            raise HTTPException(401, "unknown or revoked API key", headers={"WWW-Authenticate": "Bearer"})
        role = Role(key.role)
        if not RIGHTS[role] & set(roles):
            crud.audit_denied(session, 403, f"role {role} may not do this", key.id, client, request.url.path)
            raise HTTPException(403, f"the {role} role may not do this (needs {' or '.join(roles)})")
        return Caller(key.id, role)

    return dep


# The callers routes declare, by what they may do.
OperatorDep = Annotated[Caller, Depends(require(Role.operator))]
RobotDep = Annotated[Caller, Depends(require(Role.robot))]
ReaderDep = Annotated[Caller, Depends(require(Role.analyst, Role.operator))]
AdminDep = Annotated[Caller, Depends(require(Role.admin))]
CalibratorDep = Annotated[Caller, Depends(require(Role.robot, Role.operator))]
AnyRoleDep = Annotated[Caller, Depends(require(Role.robot, Role.operator, Role.analyst))]
PredictDep = Annotated[Caller, Depends(require(Role.operator, anonymous_flag="anonymous_predict"))]
