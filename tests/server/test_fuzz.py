"""Property-based fuzzing of every route in the OpenAPI document, over real HTTP.

Schemathesis reads ``/openapi.json`` from the live server at run time, so routes
added by any domain are fuzzed without touching this file. Each generated request is
sent as a signed-in admin, patient and radiologist, with a fresh token per request
(a fuzzed ``POST /auth/logout`` must not sign the fuzzer out). A 5xx, an undocumented
status, or a body or content type the document does not describe fails the test.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.accounts.tokens import issue_token
from server.config import Settings
from tests.server.accounts.hashing import CHEAP_HASHER, use_cheap_argon2
from tests.server.factories import DEFAULT_PASSWORD, add_user

#: Generated requests per operation. The admin run also sends schemathesis' deterministic
#: coverage cases (boundaries, missing and wrong-typed fields); the patient and radiologist
#: runs reach the routes only their role may use. Together about 30–50 s per engine for
#: ~50 operations, depending on load: lower these if the API grows much.
ADMIN_EXAMPLES = 8
OTHER_ROLE_EXAMPLES = 3
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
FUZZ_SETTINGS = settings(
    deadline=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure fast
    suppress_health_check=list(HealthCheck),
    print_blob=True,
    database=None,
)

HeadersFactory = Callable[[], dict[str, str]]

# Binary request bodies (a referral PDF, DICOM files, zips) go on the wire as raw bytes.
schemathesis.serializer.alias(
    ["application/pdf", "application/dicom", "application/zip"], "application/octet-stream"
)


@pytest.fixture
def api_schema(live_server: str) -> schemathesis.BaseSchema:
    """The document as served now: every router's routes, whoever added them."""
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json")


@pytest.fixture
def api_schema_generated_only(live_server: str) -> schemathesis.BaseSchema:
    """The same, without the coverage phase (for the quicker second caller)."""
    config = SchemathesisConfig.from_dict({"phases": {"coverage": {"enabled": False}}})
    return schemathesis.openapi.from_url(f"{live_server}/openapi.json", config=config)


@pytest.fixture
def cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Still argon2id, at a cost that lets thousands of fuzzed logins run in seconds."""
    use_cheap_argon2(monkeypatch)


def _signed_in(db: Session, settings: Settings, role: Role) -> HeadersFactory:
    """Headers with a new token of one user of ``role`` on every call."""
    user = add_user(db, role=role)
    user.password_hash = CHEAP_HASHER.hash(DEFAULT_PASSWORD)
    db.commit()

    def headers() -> dict[str, str]:
        token = issue_token(db, user=user, settings=settings)
        db.commit()
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture
def as_admin(db: Session, settings: Settings, cheap_argon2: None) -> HeadersFactory:
    return _signed_in(db, settings, Role.ADMIN)


@pytest.fixture
def as_patient(db: Session, settings: Settings, cheap_argon2: None) -> HeadersFactory:
    return _signed_in(db, settings, Role.PATIENT)


@pytest.fixture
def as_radiologist(db: Session, settings: Settings, cheap_argon2: None) -> HeadersFactory:
    return _signed_in(db, settings, Role.RADIOLOGIST)


schema = schemathesis.pytest.from_fixture("api_schema")
schema_generated_only = schemathesis.pytest.from_fixture("api_schema_generated_only")


@pytest.mark.slow
@schema.parametrize()
@settings(FUZZ_SETTINGS, max_examples=ADMIN_EXAMPLES)
def test_api_as_admin(case: Case, as_admin: HeadersFactory) -> None:
    case.call_and_validate(headers=as_admin(), checks=CHECKS)


@pytest.mark.slow
@schema_generated_only.parametrize()
@settings(FUZZ_SETTINGS, max_examples=OTHER_ROLE_EXAMPLES)
def test_api_as_patient(case: Case, as_patient: HeadersFactory) -> None:
    case.call_and_validate(headers=as_patient(), checks=CHECKS)


@pytest.mark.slow
@schema_generated_only.parametrize()
@settings(FUZZ_SETTINGS, max_examples=OTHER_ROLE_EXAMPLES)
def test_api_as_radiologist(case: Case, as_radiologist: HeadersFactory) -> None:
    case.call_and_validate(headers=as_radiologist(), checks=CHECKS)
