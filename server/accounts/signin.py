"""Signing in and out, password changes and two-step sign-in (TOTP).

Every function takes a Session and keyword-only arguments and commits at its
boundary. A refused login commits too: its failure count and audit event must
outlive the refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts import totp
from server.accounts.models import ApiToken, User
from server.accounts.passwords import hash_password, needs_rehash, verify_dummy, verify_password
from server.accounts.principal import Principal
from server.accounts.rules import FailureState, LockoutPolicy, after_failure, normalise_username
from server.accounts.schemas import PASSWORD_MAX_LENGTH, TotpEnrolment, is_storable
from server.accounts.service import get_user, new_password_problem, set_password, user_actor
from server.accounts.tokens import issue_token_row, revoke_all_tokens
from server.audit.models import Outcome
from server.audit.service import Actor, record_event
from server.config import Settings
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, Unauthorized

#: The one answer to every refused login: it never tells which part was wrong,
#: whether the account exists, or that it is locked.
LOGIN_REFUSED = "Wrong username, password or code"


@dataclass(frozen=True)
class LoginResult:
    token: str
    expires_at: datetime
    user: User


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

    actor = user_actor(user, client_addr)
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
    problem = new_password_problem(user, new_password, settings=settings)
    if problem is None and new_password == old_password:
        problem = "must differ from your current password"
    if problem:
        raise Invalid.from_errors([FieldError("new_password", problem)])
    set_password(user, new_password, now=now)
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
