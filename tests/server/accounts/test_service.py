"""Account services with the clock moved by hand: lockout, session expiry, TOTP, passwords."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts import service, signin
from server.accounts.models import Role
from server.accounts.tokens import find_live_token
from server.audit.models import AuditEvent, Outcome
from server.config import Settings
from server.problems import Conflict, Invalid, Unauthorized
from tests.server.accounts.conftest import STRONG, MakePerson

pytestmark = pytest.mark.usefixtures("cheap_argon2")

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)


def _login(
    db: Session,
    settings: Settings,
    username: str,
    password: str,
    *,
    totp_code: str | None = None,
    now: datetime | None = None,
) -> signin.LoginResult:
    return signin.login(
        db,
        username=username,
        password=password,
        totp_code=totp_code,
        settings=settings,
        client_addr="192.0.2.1",
        now=now,
    )


def test_lockout_after_five_failures_and_its_expiry(
    db: Session, settings: Settings, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    for minute in range(5):
        with pytest.raises(Unauthorized):
            _login(
                db, settings, person.username, "wrong " + STRONG, now=T0 + timedelta(minutes=minute)
            )
    # locked: the right password is refused, with the same answer
    with pytest.raises(Unauthorized, match=r"^Wrong username, password or code$"):
        _login(db, settings, person.username, STRONG, now=T0 + timedelta(minutes=18))
    # 15 minutes after the fifth failure the lock is gone
    result = _login(db, settings, person.username, STRONG, now=T0 + timedelta(minutes=19))
    assert result.user.id == person.user.id
    assert result.user.failed_login_count == 0
    details = db.scalars(
        select(AuditEvent.detail).where(AuditEvent.action == "auth.login").order_by(AuditEvent.id)
    ).all()
    assert details == [
        *["wrong-password"] * 4,
        "wrong-password; account locked",
        "locked",
        None,
    ]


def test_four_failures_then_a_success_reset_the_count(
    db: Session, settings: Settings, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            _login(db, settings, person.username, "nope nope nope 1", now=T0)
    _login(db, settings, person.username, STRONG, now=T0)
    for _ in range(4):
        with pytest.raises(Unauthorized):
            _login(db, settings, person.username, "nope nope nope 1", now=T0)
    assert _login(db, settings, person.username, STRONG, now=T0).user.locked_until is None


def test_unknown_user_is_refused_and_audited_by_attempted_name(
    db: Session, settings: Settings
) -> None:
    with pytest.raises(Unauthorized, match=r"^Wrong username, password or code$"):
        _login(db, settings, "x" * 100, STRONG)
    event = db.scalars(select(AuditEvent)).one()
    assert (event.actor_name, event.outcome, event.detail) == (
        "x" * 64,
        Outcome.FAILURE,
        "unknown-user",
    )


def test_session_idle_timeout(db: Session, settings: Settings, make_person: MakePerson) -> None:
    person = make_person(Role.PATIENT)
    token = _login(db, settings, person.username, STRONG, now=T0).token
    db.commit()
    assert find_live_token(db, token=token, settings=settings, now=T0 + timedelta(minutes=29))
    # each use restarts the idle clock
    at = T0 + timedelta(minutes=29 + 29)
    assert find_live_token(db, token=token, settings=settings, now=at)
    assert (
        find_live_token(db, token=token, settings=settings, now=at + timedelta(minutes=30)) is None
    )


def test_session_absolute_lifetime(
    db: Session, settings: Settings, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    result = _login(db, settings, person.username, STRONG, now=T0)
    assert result.expires_at == T0 + timedelta(hours=settings.token_lifetime_hours)
    at = T0
    while at + timedelta(minutes=20) < result.expires_at:
        at += timedelta(minutes=20)
        assert find_live_token(db, token=result.token, settings=settings, now=at), at
    assert find_live_token(db, token=result.token, settings=settings, now=result.expires_at) is None


@pytest.mark.parametrize("role", [Role.RADIOLOGIST, Role.ADMIN])
def test_staff_need_a_code_and_a_code_is_good_once(
    db: Session, settings: Settings, make_person: MakePerson, role: Role
) -> None:
    person = make_person(role)
    with pytest.raises(Unauthorized):
        _login(db, settings, person.username, STRONG, now=T0)
    with pytest.raises(Unauthorized):
        _login(db, settings, person.username, STRONG, totp_code="000000", now=T0)
    code = person.code(T0)
    _login(db, settings, person.username, STRONG, totp_code=code, now=T0)
    with pytest.raises(Unauthorized):
        _login(db, settings, person.username, STRONG, totp_code=code, now=T0 + timedelta(seconds=5))
    # the next step's code works (one step of drift either way is allowed)
    later = T0 + timedelta(seconds=30)
    _login(db, settings, person.username, STRONG, totp_code=person.code(later), now=T0)
    # a code from two steps away does not
    far = T0 + timedelta(seconds=120)
    with pytest.raises(Unauthorized):
        _login(db, settings, person.username, STRONG, totp_code=person.code(far), now=T0)


def test_registration_names_every_bad_field(db: Session, settings: Settings) -> None:
    with pytest.raises(Invalid) as caught:
        service.register_patient(
            db,
            username="X",
            email="nope",
            full_name="  ",
            password="short",
            settings=settings,
            client_addr=None,
        )
    assert [e.field for e in caught.value.errors] == ["username", "email", "full_name", "password"]


def test_registration_refuses_a_taken_username_or_email(
    db: Session, settings: Settings, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    for username, email, field in (
        (person.username.upper(), "other@example.test", "username"),
        ("someone-else", person.user.email, "email"),
    ):
        with pytest.raises(Conflict) as caught:
            service.register_patient(
                db,
                username=username,
                email=email,
                full_name="Another Person",
                password=STRONG,
                settings=settings,
                client_addr=None,
            )
        assert caught.value.field == field


def test_every_refusal_costs_one_password_verification(
    db: Session, settings: Settings, make_person: MakePerson, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unknown users are checked against a dummy hash, so timing does not reveal them."""
    calls: list[str] = []
    real_verify, real_dummy = signin.verify_password, signin.verify_dummy

    def verify(password_hash: str, password: str) -> bool:
        calls.append("real")
        return real_verify(password_hash, password)

    def dummy(password: str) -> bool:
        calls.append("dummy")
        return real_dummy(password)

    monkeypatch.setattr(signin, "verify_password", verify)
    monkeypatch.setattr(signin, "verify_dummy", dummy)
    person = make_person(Role.PATIENT)
    for username, password in (("nobody", STRONG), (person.username, "wrong " + STRONG)):
        with pytest.raises(Unauthorized):
            _login(db, settings, username, password)
    assert calls == ["dummy", "real"]
