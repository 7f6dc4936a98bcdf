"""Accounts HTTP routes: ``/auth/*`` for everyone, ``/admin/users*`` for admins.

Thin: each route turns the request into one service call and the result into a schema.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from server.accounts import service, signin
from server.accounts.deps import AdminUser, CurrentUser
from server.accounts.schemas import (
    LoginRequest,
    LoginResponse,
    PasswordChangeRequest,
    RegisterRequest,
    Role,
    TotpConfirmRequest,
    TotpEnrolment,
    UserBrief,
    UserRead,
)
from server.deps import ClientAddr, SessionDep, SettingsDep
from server.problems import problem_responses

auth_router = APIRouter(prefix="/auth", tags=["accounts"])
admin_router = APIRouter(
    prefix="/admin/users", tags=["admin"], responses=problem_responses(401, 403)
)
_SIGNED_IN = problem_responses(401)

#: Ids are 32-bit on every engine; anything larger cannot name a row.
UserId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@auth_router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409, 422),
    summary="Create a patient account",
)
def register(
    body: RegisterRequest, session: SessionDep, settings: SettingsDep, client_addr: ClientAddr
) -> UserRead:
    user = service.register_patient(
        session,
        username=body.username,
        email=body.email,
        full_name=body.full_name,
        password=body.password,
        settings=settings,
        client_addr=client_addr,
    )
    return UserRead.model_validate(user)


@auth_router.post(
    "/login", responses=problem_responses(401, 422), summary="Sign in and get a bearer token"
)
def login(
    body: LoginRequest, session: SessionDep, settings: SettingsDep, client_addr: ClientAddr
) -> LoginResponse:
    result = signin.login(
        session,
        username=body.username,
        password=body.password,
        totp_code=body.totp_code,
        settings=settings,
        client_addr=client_addr,
    )
    return LoginResponse(
        token=result.token,
        expires_at=result.expires_at,
        idle_timeout_minutes=settings.token_idle_minutes,
        user=UserBrief.model_validate(result.user),
    )


@auth_router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=_SIGNED_IN,
    summary="End this session",
)
def logout(principal: CurrentUser, session: SessionDep) -> None:
    signin.logout(session, principal=principal)


@auth_router.get("/me", responses=_SIGNED_IN, summary="The signed-in account")
def me(principal: CurrentUser, session: SessionDep) -> UserRead:
    return UserRead.model_validate(service.get_user(session, user_id=principal.user_id))


@auth_router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=problem_responses(401, 422),
    summary="Change your password (ends your other sessions)",
)
def change_password(
    body: PasswordChangeRequest, principal: CurrentUser, session: SessionDep, settings: SettingsDep
) -> None:
    signin.change_password(
        session,
        principal=principal,
        old_password=body.old_password,
        new_password=body.new_password,
        settings=settings,
    )


@auth_router.post(
    "/totp/enrol",
    responses=problem_responses(401, 409),
    summary="Start two-step sign-in: a new secret for your authenticator app",
)
def totp_enrol(principal: CurrentUser, session: SessionDep) -> TotpEnrolment:
    return signin.begin_totp_enrolment(session, principal=principal)


@auth_router.post(
    "/totp/confirm",
    responses=problem_responses(401, 409, 422),
    summary="Turn two-step sign-in on with a code from the app",
)
def totp_confirm(body: TotpConfirmRequest, principal: CurrentUser, session: SessionDep) -> UserRead:
    user = signin.confirm_totp(session, principal=principal, code=body.code)
    return UserRead.model_validate(user)


@admin_router.get("", summary="Every account, oldest first")
def list_users(
    principal: AdminUser,
    session: SessionDep,
    role: Annotated[Role | None, Query(description="only accounts of this role")] = None,
) -> list[UserRead]:
    users = service.list_users(session, actor=principal.actor, role=role)
    return [UserRead.model_validate(user) for user in users]


@admin_router.post(
    "/{user_id}/disable",
    responses=problem_responses(404, 409, 422),
    summary="Stop an account from signing in and end its sessions",
)
def disable_user(user_id: UserId, principal: AdminUser, session: SessionDep) -> UserRead:
    user = service.disable_user(session, actor=principal.actor, user_id=user_id)
    return UserRead.model_validate(user)


router = APIRouter()
router.include_router(auth_router)
router.include_router(admin_router)
