"""Build synthetic users straight in the database, for tests that are not about accounts."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import httpx
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.accounts.passwords import hash_password
from server.accounts.tokens import issue_token
from server.config import Settings

DEFAULT_PASSWORD = "correct horse battery staple 42"
_PASSWORD_HASH = hash_password(DEFAULT_PASSWORD)  # hashed once: argon2 is slow on purpose
_serial = itertools.count(1)


@dataclass
class Account:
    """A user with a live token, and an HTTP client that sends it."""

    user: User
    token: str
    http: httpx.Client

    @property
    def id(self) -> int:
        return self.user.id


def add_user(session: Session, *, role: Role, username: str | None = None) -> User:
    n = next(_serial)
    username = username or f"{role.value}{n}"
    user = User(
        username=username,
        email=f"{username}@example.test",
        full_name=f"Test {role.value.title()} {n}",
        role=role,
        password_hash=_PASSWORD_HASH,
    )
    session.add(user)
    session.flush()
    return user


def signed_in(session: Session, *, role: Role, base_url: str, settings: Settings) -> Account:
    """A committed user of ``role`` and a client carrying its bearer token."""
    user = add_user(session, role=role)
    token = issue_token(session, user=user, settings=settings)
    session.commit()
    http = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
    return Account(user=user, token=token, http=http)
