"""Accounts made through the service (real password hashes, real TOTP secrets)."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import pyotp
import pytest
from sqlalchemy.orm import Session

from server.accounts import service
from server.accounts.models import Role, User
from server.audit.service import Actor
from server.config import Settings
from tests.server.accounts.hashing import use_cheap_argon2

STRONG = "correct horse battery staple 42"
TEST_ADMIN = Actor(username="test-admin", role="admin", client_addr="console")
_serial = itertools.count(1)


@dataclass
class Person:
    """A user, their password, and their authenticator app (when they have one)."""

    user: User
    password: str = STRONG

    @property
    def username(self) -> str:
        return self.user.username

    def code(self, at: datetime | None = None) -> str:
        assert self.user.totp_secret, "this user has no TOTP secret"
        otp = pyotp.TOTP(self.user.totp_secret)
        return otp.at(at) if at else otp.now()


MakePerson = Callable[..., Person]


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2id at test cost for this test (see :mod:`tests.server.accounts.hashing`)."""
    use_cheap_argon2(monkeypatch)


@pytest.fixture
def make_person(db: Session, settings: Settings, cheap_argon2: None) -> MakePerson:
    """``make_person(Role.RADIOLOGIST)`` -> a committed user made by ``user add``'s service."""

    def make(role: Role = Role.PATIENT, *, password: str = STRONG) -> Person:
        n = next(_serial)
        username = f"{role.value[:3]}{n:03d}"
        made = service.add_user(
            db,
            actor=TEST_ADMIN,
            username=username,
            email=f"{username}@example.test",
            full_name=f"Synthetic Person {n}",
            role=role,
            password=password,
            settings=settings,
        )
        return Person(user=made.user, password=password)

    return make
