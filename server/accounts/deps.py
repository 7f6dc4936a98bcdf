"""Who is calling: the bearer token turned into a :class:`Principal`, and role guards."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.accounts.models import Role
from server.accounts.principal import Principal
from server.accounts.tokens import find_live_token
from server.deps import ClientAddr, SessionDep, SettingsDep
from server.problems import Forbidden, Unauthorized

__all__ = [
    "AdminUser",
    "CurrentUser",
    "PatientUser",
    "Principal",
    "RadiologistUser",
    "StaffUser",
    "current_principal",
    "require_roles",
]

_bearer = HTTPBearer(auto_error=False, description="Token from POST /auth/login")


def current_principal(
    session: SessionDep,
    settings: SettingsDep,
    client_addr: ClientAddr,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None:
        raise Unauthorized("Sign in first: this needs a bearer token.", headers=challenge)
    row = find_live_token(session, token=credentials.credentials, settings=settings)
    if row is None:
        raise Unauthorized(
            "Your session has expired or was ended; sign in again.", headers=challenge
        )
    principal = Principal(
        user_id=row.user.id,
        username=row.user.username,
        role=row.user.role,
        token_id=row.id,
        client_addr=client_addr,
    )
    session.commit()  # persist the idle-timer touch even on read-only requests
    return principal


CurrentUser = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[[Principal], Principal]:
    """A dependency admitting only the given roles (403 otherwise)."""

    def guard(principal: CurrentUser) -> Principal:
        if principal.role not in roles:
            raise Forbidden("Your account is not allowed to do this.")
        return principal

    return guard


AdminUser = Annotated[Principal, Depends(require_roles(Role.ADMIN))]
RadiologistUser = Annotated[Principal, Depends(require_roles(Role.RADIOLOGIST))]
PatientUser = Annotated[Principal, Depends(require_roles(Role.PATIENT))]
StaffUser = Annotated[Principal, Depends(require_roles(Role.RADIOLOGIST, Role.ADMIN))]
