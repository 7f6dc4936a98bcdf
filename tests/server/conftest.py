"""Signed-in accounts of each role, as HTTP clients of the live server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.config import Settings
from tests.server.factories import Account, signed_in

AccountFactory = Callable[[Role], Account]


@pytest.fixture
def make_account(db: Session, live_server: str, settings: Settings) -> Iterator[AccountFactory]:
    """``make_account(Role.PATIENT)`` -> a new signed-in account; clients closed after."""
    made: list[Account] = []

    def make(role: Role) -> Account:
        account = signed_in(db, role=role, base_url=live_server, settings=settings)
        made.append(account)
        return account

    yield make
    for account in made:
        account.http.close()


@pytest.fixture
def patient(make_account: AccountFactory) -> Account:
    return make_account(Role.PATIENT)


@pytest.fixture
def radiologist(make_account: AccountFactory) -> Account:
    return make_account(Role.RADIOLOGIST)


@pytest.fixture
def admin(make_account: AccountFactory) -> Account:
    return make_account(Role.ADMIN)
