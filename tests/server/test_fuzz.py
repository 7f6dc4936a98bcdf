"""Property-based fuzzing of every route in the OpenAPI document, over real HTTP.

Schemathesis reads ``/openapi.json`` from the live server at run time, so routes
added by any domain are fuzzed without touching this file. Each generated request is
sent as a signed-in admin and as a signed-in patient, with a fresh token per request
(a fuzzed ``POST /auth/logout`` must not sign the fuzzer out). A 5xx, an undocumented
status, or a body or content type the document does not describe fails the test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
import schemathesis
from argon2 import PasswordHasher
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from server.accounts import passwords
from server.accounts.models import Role
from server.accounts.tokens import issue_token
from server.config import Settings
from tests.server.factories import add_user

#: Examples per operation and caller: keeps the whole fuzz (both engines) within ~1 minute.
MAX_EXAMPLES = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ_SETTINGS = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure fast
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)

HeadersFactory = Callable[[], dict[str, str]]


@pytest.fixture
def api_schema(live_server: str) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, at a cost that lets thousands of fuzzed logins run in seconds."""
    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    dummy = cheap.hash("not anybody's password")
    monkeypatch.setattr(passwords, "_hasher", lambda: cheap)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: dummy)


def _signed_in(db: Session, settings: Settings, role: Role) -> Iterator[HeadersFactory]:
    user = add_user(db, role=role)
    db.commit()

    def headers() -> dict[str, str]:
        token = issue_token(db, user=user, settings=settings)
        db.commit()
        return {"Authorization": f"Bearer {token}"}

    yield headers


@pytest.fixture
def as_admin(db: Session, settings: Settings, cheap_argon2: None) -> Iterator[HeadersFactory]:
    yield from _signed_in(db, settings, Role.ADMIN)


@pytest.fixture
def as_patient(db: Session, settings: Settings, cheap_argon2: None) -> Iterator[HeadersFactory]:
    yield from _signed_in(db, settings, Role.PATIENT)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_admin(case: Case, as_admin: HeadersFactory) -> None:
    case.call_and_validate(headers=as_admin(), checks=CHECKS)


@schema.parametrize()
@FUZZ_SETTINGS
def test_api_as_patient(case: Case, as_patient: HeadersFactory) -> None:
    case.call_and_validate(headers=as_patient(), checks=CHECKS)
