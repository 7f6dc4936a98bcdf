"""Account services: registration, login (throttling, TOTP), sessions and admin actions.

Every function takes a Session and keyword-only arguments and commits at its
boundary. A refused login commits too: its failure count and audit event must
outlive the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts import totp
from server.accounts.models import ApiToken, Role, User
from server.accounts.passwords import hash_password, needs_rehash, verify_dummy, verify_password
from server.accounts.principal import Principal
from server.accounts.rules import (
    FailureState,
    LockoutPolicy,
    after_failure,
    email_problem,
    full_name_problem,
    normalise_email,
    normalise_username,
    password_problem,
    username_problem,
)
from server.accounts.schemas import PASSWORD_MAX_LENGTH, is_storable
from server.accounts.tokens import issue_token_row, revoke_all_tokens
from server.audit.models import Outcome
from server.audit.service import Actor, record_event
from server.config import Settings
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, NotFound, Unauthorized

#: The one answer to every refused login: it never tells which part was wrong,
#: whether the account exists, or that it is locked.
LOGIN_REFUSED = "Wrong username, password or code"


@dataclass(frozen=True)
class NewUser:
    """A created account; ``provisioning_uri`` is set when a TOTP secret was made (show once)."""

    user: User
    provisioning_uri: str | None = None


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


@dataclass(frozen=True)
class TotpEnrolment:
    provisioning_uri: str
    secret: str


def _user_actor(user: User, client_addr: str | None) -> Actor:
    return Actor(
        user_id=user.id, username=user.username, role=str(user.role), client_addr=client_addr
    )


def _account_errors(
    *, username: str, email: str, full_name: str, password: str, settings: Settings
) -> list[FieldError]:
    errors: list[FieldError] = []
    for name, problem in (
        ("username", username_problem(username)),
        ("email", email_problem(email)),
        ("full_name", full_name_problem(full_name)),
        (
            "password",
            password_problem(
                password,
                min_length=settings.password_min_length,
                username=username,
                email=email,
                full_name=full_name,
            ),
        ),
    ):
        if problem:
            errors.append(FieldError(name, problem))
    return errors


def _ensure_unused(session: Session, *, username: str, email: str) -> None:
    if session.scalars(select(User.id).where(User.username == username)).first() is not None:
        raise Conflict("That username is taken; choose another.", field="username")
    if session.scalars(select(User.id).where(User.email == email)).first() is not None:
        raise Conflict("An account with this email address exists; sign in.", field="email")


def _create_user(
    session: Session,
    *,
    username: str,
    email: str,
    full_name: str,
    role: Role,
    password: str,
    settings: Settings,
    now: datetime,
) -> NewUser:
    username, email = normalise_username(username), normalise_email(email)
    full_name = full_name.strip()
    errors = _account_errors(
        username=username, email=email, full_name=full_name, password=password, settings=settings
    )
    if errors:
        raise Invalid.from_errors(errors)
    _ensure_unused(session, username=username, email=email)
    user = User(
        username=username,
        email=email,
        full_name=full_name,
        role=role,
        password_hash=hash_password(password),
        created_at=now,
        password_changed_at=now,
    )
    uri = None
    if role.requires_totp:
        user.totp_secret, user.totp_confirmed_at = totp.new_secret(), now
        uri = totp.provisioning_uri(user.totp_secret, username=username)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # a concurrent registration took the name first
        session.rollback()
        raise Conflict("That username or email address is taken.", field="username") from None
    return NewUser(user=user, provisioning_uri=uri)


def register_patient(
    session: Session,
    *,
    username: str,
    email: str,
    full_name: str,
    password: str,
    settings: Settings,
    client_addr: str | None,
    now: datetime | None = None,
) -> User:
    """A patient creates their own account (no second factor until they enrol one)."""
    now = now or utcnow()
    made = _create_user(
        session,
        username=username,
        email=email,
        full_name=full_name,
        role=Role.PATIENT,
        password=password,
        settings=settings,
        now=now,
    )
    record_event(
        session,
        actor=_user_actor(made.user, client_addr),
        action="account.register",
        object_type="user",
        object_id=made.user.id,
    )
    session.commit()
    return made.user


def add_user(
    session: Session,
    *,
    actor: Actor,
    username: str,
    email: str,
    full_name: str,
    role: Role,
    password: str,
    settings: Settings,
    now: datetime | None = None,
) -> NewUser:
    """An admin creates an account of any role; staff get a TOTP secret, on from the start."""
    made = _create_user(
        session,
        username=username,
        email=email,
        full_name=full_name,
        role=role,
        password=password,
        settings=settings,
        now=now or utcnow(),
    )
    record_event(
        session,
        actor=actor,
        action="user.add",
        object_type="user",
        object_id=made.user.id,
        detail=f"role={role}",
    )
    session.commit()
    return made


def login(
    session: Session,
    *,
    username: str,
    password: str,
    totp_code: str | None,
    settings: Settings,
    client_addr: str | None,
    now: datetime | None = None,
) -> LoginResult:
    """Check the password (and the TOTP code where one is on) and open a session.

    Every refusal raises the same :class:`Unauthorized` after exactly one password
    verification, so neither the answer nor its timing tells an unknown user from a
    wrong password or a locked account.
    """
    now = now or utcnow()
    name = normalise_username(username)
    user = None
    if is_storable(name) and len(password) <= PASSWORD_MAX_LENGTH:
        user = session.scalars(select(User).where(User.username == name).with_for_update()).first()
    if user is None:
        verify_dummy(password)
        attempted = username if is_storable(username) else repr(username)
        record_event(
            session,
            actor=Actor(username=attempted[:64], client_addr=client_addr),
            action="auth.login",
            outcome=Outcome.FAILURE,
            detail="unknown-user",
        )
        session.commit()
        raise Unauthorized(LOGIN_REFUSED)

    password_ok = verify_password(user.password_hash, password)
    state = _failure_state(user)
    step: int | None = None
    if state.is_locked(now):
        reason: str | None = "locked"
    elif not user.is_active:
        reason = "disabled"
    elif not password_ok:
        reason = "wrong-password"
    else:
        reason, step = _second_factor(user, totp_code, now=now)

    actor = _user_actor(user, client_addr)
    if reason is not None:
        if _count_failure(user, state, now=now, settings=settings):
            reason += "; account locked"
        record_event(
            session,
            actor=actor,
            action="auth.login",
            outcome=Outcome.FAILURE,
            object_type="user",
            object_id=user.id,
            detail=reason,
        )
        session.commit()
        raise Unauthorized(LOGIN_REFUSED)

    user.failed_login_count, user.first_failed_login_at, user.locked_until = 0, None, None
    if step is not None:
        user.totp_last_counter = step
    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    token, row = issue_token_row(session, user=user, settings=settings, now=now)
    record_event(session, actor=actor, action="auth.login", object_type="user", object_id=user.id)
    session.commit()
    return LoginResult(token=token, expires_at=row.expires_at, user=user)


def _failure_state(user: User) -> FailureState:
    return FailureState(
        count=user.failed_login_count,
        first_at=user.first_failed_login_at,
        locked_until=user.locked_until,
    )


def _count_failure(user: User, state: FailureState, *, now: datetime, settings: Settings) -> bool:
    """Record one more failed attempt on ``user``; True when it locked the account."""
    after = after_failure(state, now=now, policy=LockoutPolicy.from_settings(settings))
    user.failed_login_count, user.first_failed_login_at = after.count, after.first_at
    user.locked_until = after.locked_until
    return after.locked_until != state.locked_until


def _second_factor(user: User, code: str | None, *, now: datetime) -> tuple[str | None, int | None]:
    """(why the login is refused or None, the TOTP step to remember) for a right password."""
    if not (user.role.requires_totp or user.totp_enabled):
        return None, None
    if not user.totp_enabled or user.totp_secret is None:
        return "totp-not-enrolled", None
    if not code:
        return "code-missing", None
    step = totp.matching_step(user.totp_secret, code, now=now, last_step=user.totp_last_counter)
    return (None, step) if step is not None else ("wrong-code", None)


def logout(session: Session, *, principal: Principal, now: datetime | None = None) -> None:
    """End the caller's session (its token stops working at once)."""
    row = session.get(ApiToken, principal.token_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = now or utcnow()
    record_event(
        session,
        actor=principal.actor,
        action="auth.logout",
        object_type="user",
        object_id=principal.user_id,
    )
    session.commit()


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def _user_named(session: Session, username: str) -> User:
    user = session.scalars(
        select(User).where(User.username == normalise_username(username))
    ).first()
    if user is None:
        raise NotFound(f"no user named {username!r}")
    return user


def change_password(
    session: Session,
    *,
    principal: Principal,
    old_password: str,
    new_password: str,
    settings: Settings,
    now: datetime | None = None,
) -> None:
    """Replace the caller's password and end their other sessions.

    A wrong current password counts towards the lockout, as a failed login does.
    """
    now = now or utcnow()
    user = get_user(session, user_id=principal.user_id)
    state = _failure_state(user)
    if not verify_password(user.password_hash, old_password) or state.is_locked(now):
        _count_failure(user, state, now=now, settings=settings)
        record_event(
            session,
            actor=principal.actor,
            action="auth.password_change",
            outcome=Outcome.FAILURE,
            object_type="user",
            object_id=user.id,
            detail="wrong-password",
        )
        session.commit()
        raise Invalid("is not your current password", field="old_password")
    problem = password_problem(
        new_password,
        min_length=settings.password_min_length,
        username=user.username,
        email=user.email,
        full_name=user.full_name,
    )
    if problem is None and new_password == old_password:
        problem = "must differ from your current password"
    if problem:
        raise Invalid.from_errors([FieldError("new_password", problem)])
    user.password_hash = hash_password(new_password)
    user.password_changed_at = now
    ended = revoke_all_tokens(session, user_id=user.id, except_token_id=principal.token_id, now=now)
    record_event(
        session,
        actor=principal.actor,
        action="auth.password_change",
        object_type="user",
        object_id=user.id,
        detail=f"sessions_ended={ended}",
    )
    session.commit()


def begin_totp_enrolment(session: Session, *, principal: Principal) -> TotpEnrolment:
    """Make a new TOTP secret for the caller; it is off until confirmed with a code."""
    user = get_user(session, user_id=principal.user_id)
    if user.totp_enabled:
        raise Conflict("Two-step sign-in is already on for this account.")
    user.totp_secret, user.totp_confirmed_at, user.totp_last_counter = totp.new_secret(), None, None
    record_event(
        session,
        actor=principal.actor,
        action="auth.totp_enrol",
        object_type="user",
        object_id=user.id,
    )
    session.commit()
    return TotpEnrolment(
        provisioning_uri=totp.provisioning_uri(user.totp_secret, username=user.username),
        secret=user.totp_secret,
    )


def confirm_totp(
    session: Session, *, principal: Principal, code: str, now: datetime | None = None
) -> User:
    """Turn TOTP on once the caller proves their app makes the right codes."""
    now = now or utcnow()
    user = get_user(session, user_id=principal.user_id)
    if user.totp_enabled:
        raise Conflict("Two-step sign-in is already on for this account.")
    if user.totp_secret is None:
        raise Conflict("Start with POST /auth/totp/enrol, then confirm a code from the app.")
    step = totp.matching_step(user.totp_secret, code, now=now, last_step=user.totp_last_counter)
    if step is None:
        raise Invalid("is not the current code from your authenticator app", field="code")
    user.totp_confirmed_at, user.totp_last_counter = now, step
    record_event(
        session,
        actor=principal.actor,
        action="auth.totp_confirm",
        object_type="user",
        object_id=user.id,
    )
    session.commit()
    return user


def list_users(session: Session, *, actor: Actor, role: Role | None = None) -> list[User]:
    """Every account (or those of one role), oldest first."""
    query = select(User).order_by(User.id)
    if role is not None:
        query = query.where(User.role == role)
    users = list(session.scalars(query))
    record_event(session, actor=actor, action="user.list", object_type="user", detail=role)
    session.commit()
    return users


def disable_user(
    session: Session,
    *,
    actor: Actor,
    user_id: int | None = None,
    username: str | None = None,
    now: datetime | None = None,
) -> User:
    """Stop an account from signing in and end its sessions (by id or by username)."""
    if user_id is not None:
        user = get_user(session, user_id=user_id)
    elif username is not None:
        user = _user_named(session, username)
    else:
        raise ValueError("disable_user needs user_id or username")
    if actor.user_id is not None and actor.user_id == user.id:
        raise Conflict("You cannot disable your own account.")
    user.is_active = False
    ended = revoke_all_tokens(session, user_id=user.id, now=now)
    record_event(
        session,
        actor=actor,
        action="user.disable",
        object_type="user",
        object_id=user.id,
        detail=f"sessions_ended={ended}",
    )
    session.commit()
    return user


def reset_password(
    session: Session,
    *,
    actor: Actor,
    username: str,
    password: str,
    settings: Settings,
    now: datetime | None = None,
) -> User:
    """Set a new password chosen by an admin: clears the lockout, ends every session."""
    now = now or utcnow()
    user = _user_named(session, username)
    problem = password_problem(
        password,
        min_length=settings.password_min_length,
        username=user.username,
        email=user.email,
        full_name=user.full_name,
    )
    if problem:
        raise Invalid.from_errors([FieldError("password", problem)])
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.failed_login_count, user.first_failed_login_at, user.locked_until = 0, None, None
    ended = revoke_all_tokens(session, user_id=user.id, now=now)
    record_event(
        session,
        actor=actor,
        action="user.reset_password",
        object_type="user",
        object_id=user.id,
        detail=f"sessions_ended={ended}",
    )
    session.commit()
    return user
