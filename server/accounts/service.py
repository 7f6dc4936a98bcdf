"""Account services: registration and administration (add, list, disable, reset a password).

Signing in, sessions, password changes and TOTP are in :mod:`server.accounts.signin`.
Every function takes a Session and keyword-only arguments and commits at its boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.accounts import totp
from server.accounts.models import Role, User
from server.accounts.passwords import hash_password
from server.accounts.rules import (
    email_problem,
    full_name_problem,
    normalise_email,
    normalise_username,
    password_problem,
    username_problem,
)
from server.accounts.tokens import revoke_all_tokens
from server.audit.service import Actor, record_event
from server.config import Settings
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, NotFound


@dataclass(frozen=True)
class NewUser:
    """A created account; ``provisioning_uri`` is set when a TOTP secret was made (show once)."""

    user: User
    provisioning_uri: str | None = None


def user_actor(user: User, client_addr: str | None) -> Actor:
    """``user`` as the audit actor, acting from ``client_addr``."""
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
        actor=user_actor(made.user, client_addr),
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


def get_user(session: Session, *, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.", field="user_id")
    return user


def _user_named(session: Session, username: str) -> User:
    user = session.scalars(
        select(User).where(User.username == normalise_username(username))
    ).first()
    if user is None:
        raise NotFound(f"no user named {username!r}", field="username")
    return user


def new_password_problem(user: User, password: str, *, settings: Settings) -> str | None:
    """Why ``password`` may not become ``user``'s password, or None."""
    return password_problem(
        password,
        min_length=settings.password_min_length,
        username=user.username,
        email=user.email,
        full_name=user.full_name,
    )


def set_password(user: User, password: str, *, now: datetime) -> None:
    """Store the hash of an already-checked ``password`` (the caller commits)."""
    user.password_hash = hash_password(password)
    user.password_changed_at = now


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
    problem = new_password_problem(user, password, settings=settings)
    if problem:
        raise Invalid.from_errors([FieldError("password", problem)])
    set_password(user, password, now=now)
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
