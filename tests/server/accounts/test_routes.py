"""The accounts API over real HTTP, on both engines."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from server.accounts.models import ApiToken, Role
from server.accounts.tokens import hash_token
from server.audit.models import AuditEvent, Outcome
from server.db import utcnow
from tests.server.accounts.conftest import STRONG, MakePerson, Person
from tests.server.conftest import AccountFactory
from tests.server.factories import Account

pytestmark = pytest.mark.usefixtures("cheap_argon2")

REFUSED = "Wrong username, password or code"


def _register(client: httpx.Client, **changes: str) -> httpx.Response:
    body = {
        "username": "jdoe",
        "email": "jordan.doe@example.test",
        "full_name": "Jordan Doe",
        "password": STRONG,
    } | changes
    return client.post("/auth/register", json=body)


def _login(client: httpx.Client, person: Person, **changes: str | None) -> httpx.Response:
    body = {"username": person.username, "password": person.password} | changes
    return client.post("/auth/login", json=body)


def _assert_problem(response: httpx.Response, status: int, field: str | None = None) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status
    if field is not None:
        assert body["field"] == field, body
        assert body["errors"][0]["message"]
    return body


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- registration -------------------------------------------------------------------------


def test_patient_registers_and_signs_in(client: httpx.Client, db: Session) -> None:
    response = _register(client)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["role"] == "patient"
    assert created["totp_enabled"] is False
    assert "password" not in response.text
    login = client.post("/auth/login", json={"username": "JDoe", "password": STRONG})
    assert login.status_code == 200, login.text
    actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["account.register", "auth.login"]


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Tr0ub4dor&3", "at least 12 characters"),
        ("password123456", "too easy to guess"),
        ("qwertyuiopasdf", "too easy to guess"),
        ("jordan staple battery 42", "must not contain your name"),
        ("doe-staple-battery-42", "must not contain your name"),
        ("jdoe staple battery 42", "must not contain your name"),
        ("jordan.doe staple battery", "must not contain your name"),
    ],
)
def test_registration_refuses_weak_passwords(
    client: httpx.Client, password: str, reason: str
) -> None:
    body = _assert_problem(_register(client, password=password), 422, "password")
    assert reason in body["errors"][0]["message"]


def test_registration_refuses_bad_fields_by_name(client: httpx.Client) -> None:
    _assert_problem(_register(client, username="J"), 422, "username")
    _assert_problem(_register(client, email="not-an-email"), 422, "email")
    _assert_problem(_register(client, full_name="\x00"), 422, "full_name")
    _assert_problem(client.post("/auth/register", json={"username": "x"}), 422)
    _assert_problem(client.post("/auth/register", content=b"{not json"), 422)


def test_registration_refuses_a_taken_username(client: httpx.Client) -> None:
    assert _register(client).status_code == 201
    _assert_problem(_register(client, email="another@example.test"), 409, "username")


# --- login, sessions, logout -------------------------------------------------------------


def test_login_returns_a_session(
    client: httpx.Client, db: Session, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    response = _login(client, person)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["idle_timeout_minutes"] == 30
    assert body["user"] == {
        "id": person.user.id,
        "username": person.username,
        "full_name": person.user.full_name,
        "role": "patient",
    }
    assert len(body["token"]) >= 43  # 32 random bytes, base64url
    rows = db.scalars(select(ApiToken).where(ApiToken.user_id == person.user.id)).all()
    assert [r.token_hash for r in rows] == [hash_token(body["token"])]  # only the hash is kept
    db.commit()
    me = client.get("/auth/me", headers=_bearer(body["token"]))
    assert me.status_code == 200
    assert me.json()["username"] == person.username


def test_unknown_user_wrong_password_and_locked_look_the_same(
    client: httpx.Client, db: Session, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    unknown = _login(client, person, username="nobody-here")
    wrong = _login(client, person, password="wrong " + STRONG)
    for _ in range(4):
        _login(client, person, password="wrong " + STRONG)
    locked = _login(client, person)  # right password, locked account
    bodies = [_assert_problem(r, 401) for r in (unknown, wrong, locked)]
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["detail"] == REFUSED
    db.refresh(person.user)
    assert person.user.locked_until is not None
    db.commit()


def test_logout_ends_the_session(
    client: httpx.Client, db: Session, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    token = _login(client, person).json()["token"]
    assert client.post("/auth/logout", headers=_bearer(token)).status_code == 204
    _assert_problem(client.get("/auth/me", headers=_bearer(token)), 401)
    assert db.scalars(select(AuditEvent.action).order_by(AuditEvent.id.desc())).first() == (
        "auth.logout"
    )
    db.commit()


def test_idle_and_expired_sessions_are_refused(
    client: httpx.Client, db: Session, patient: Account
) -> None:
    assert patient.http.get("/auth/me").status_code == 200
    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == patient.id)
        .values(last_seen_at=utcnow() - timedelta(minutes=31))
    )
    db.commit()
    _assert_problem(patient.http.get("/auth/me"), 401)

    db.execute(
        update(ApiToken)
        .where(ApiToken.user_id == patient.id)
        .values(last_seen_at=utcnow(), expires_at=utcnow() - timedelta(seconds=1))
    )
    db.commit()
    _assert_problem(patient.http.get("/auth/me"), 401)


def test_no_or_a_made_up_token_is_refused(client: httpx.Client) -> None:
    body = _assert_problem(client.get("/auth/me"), 401)
    assert body["detail"].startswith("Sign in first")
    _assert_problem(client.get("/auth/me", headers=_bearer("made-up")), 401)


# --- TOTP ---------------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.RADIOLOGIST, Role.ADMIN])
def test_staff_must_give_a_code_once(
    client: httpx.Client, make_person: MakePerson, role: Role
) -> None:
    person = make_person(role)
    _assert_problem(_login(client, person), 401)
    _assert_problem(_login(client, person, totp_code="12345x"), 401)
    code = person.code()
    assert _login(client, person, totp_code=code).status_code == 200
    body = _assert_problem(_login(client, person, totp_code=code), 401)  # replayed
    assert body["detail"] == REFUSED


def test_patient_enrols_in_totp_and_then_needs_it(
    client: httpx.Client, make_person: MakePerson
) -> None:
    person = make_person(Role.PATIENT)
    token = _login(client, person).json()["token"]
    enrol = client.post("/auth/totp/enrol", headers=_bearer(token))
    assert enrol.status_code == 200, enrol.text
    uri = enrol.json()["provisioning_uri"]
    assert uri.startswith("otpauth://totp/Readroom:")
    app = pyotp.parse_uri(uri)
    # not on yet: a login without a code still works
    assert _login(client, person).status_code == 200
    wrong = client.post("/auth/totp/confirm", headers=_bearer(token), json={"code": "000000"})
    _assert_problem(wrong, 422, "code")
    code = app.now()
    confirm = client.post("/auth/totp/confirm", headers=_bearer(token), json={"code": code})
    assert confirm.status_code == 200, confirm.text
    assert confirm.json()["totp_enabled"] is True
    _assert_problem(client.post("/auth/totp/enrol", headers=_bearer(token)), 409)
    _assert_problem(_login(client, person), 401)
    _assert_problem(_login(client, person, totp_code=code), 401)  # used to confirm


# --- password change ----------------------------------------------------------------------


def test_password_change_ends_other_sessions(client: httpx.Client, make_person: MakePerson) -> None:
    person = make_person(Role.PATIENT)
    this = _login(client, person).json()["token"]
    other = _login(client, person).json()["token"]
    new = "a quieter harbour at dawn 7"

    def change(old: str, new: str) -> httpx.Response:
        return client.post(
            "/auth/password", headers=_bearer(this), json={"old_password": old, "new_password": new}
        )

    _assert_problem(change("wrong " + STRONG, new), 422, "old_password")
    _assert_problem(change(STRONG, "short"), 422, "new_password")
    _assert_problem(change(STRONG, STRONG), 422, "new_password")
    assert change(STRONG, new).status_code == 204
    assert client.get("/auth/me", headers=_bearer(this)).status_code == 200
    _assert_problem(client.get("/auth/me", headers=_bearer(other)), 401)
    _assert_problem(_login(client, person), 401)
    assert _login(client, person, password=new).status_code == 200


# --- roles and admin routes ---------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.PATIENT, Role.RADIOLOGIST])
def test_admin_routes_refuse_other_roles(make_account: AccountFactory, role: Role) -> None:
    account = make_account(role)
    _assert_problem(account.http.get("/admin/users"), 403)
    _assert_problem(account.http.post(f"/admin/users/{account.id}/disable"), 403)


def test_admin_lists_and_disables_users(admin: Account, patient: Account, db: Session) -> None:
    listing = admin.http.get("/admin/users")
    assert listing.status_code == 200
    assert {u["username"] for u in listing.json()} == {admin.user.username, patient.user.username}
    only = admin.http.get("/admin/users", params={"role": "patient"}).json()
    assert [u["id"] for u in only] == [patient.id]

    disabled = admin.http.post(f"/admin/users/{patient.id}/disable")
    assert disabled.status_code == 200
    assert disabled.json()["is_active"] is False
    _assert_problem(patient.http.get("/auth/me"), 401)
    _assert_problem(admin.http.post(f"/admin/users/{admin.id}/disable"), 409)
    _assert_problem(admin.http.post("/admin/users/999999/disable"), 404)
    _assert_problem(admin.http.post("/admin/users/0/disable"), 422, "user_id")
    event = db.scalars(select(AuditEvent).where(AuditEvent.action == "user.disable")).one()
    assert (event.actor_id, event.object_id, event.outcome) == (
        admin.id,
        str(patient.id),
        Outcome.SUCCESS,
    )
    db.commit()


def test_radiologist_route_refuses_a_patient(patient: Account, radiologist: Account) -> None:
    _assert_problem(patient.http.get("/worklist"), 403)
    assert radiologist.http.get("/worklist").status_code == 200


def test_openapi_documents_problem_bodies(client: httpx.Client) -> None:
    document = client.get("/openapi.json").json()
    assert "Problem" in document["components"]["schemas"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
    login = document["paths"]["/auth/login"]["post"]["responses"]
    assert set(login) >= {"200", "401", "422", "default"}
    assert "application/problem+json" in login["422"]["content"]
