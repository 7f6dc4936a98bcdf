"""Opening a case over HTTP: draft, edit, submit, what is missing, and who may see it."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.cases.models import Case, CaseStatus
from tests.server.cases.conftest import BRITISH_COLUMBIA, ONTARIO, accept_images, ontario
from tests.server.factories import Account


def open_case(account: Account, details: dict[str, str] | None = None) -> dict:
    response = account.http.post("/cases", json=details if details is not None else ONTARIO)
    assert response.status_code == 201, response.text
    return response.json()


def errors_of(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {e["field"]: e["message"] for e in response.json()["errors"]}


def test_requirements_are_public(client: httpx.Client) -> None:
    body = client.get("/cases/requirements").json()
    assert body["accepted_modalities"] == ["CT", "MR"]
    assert body["study_max_age_days"] == 365
    assert body["turnaround_days"] == 7
    assert body["private_fee"] == "450.00"
    assert body["referral_required"] is True


def test_open_edit_and_submit(patient: Account, db: Session) -> None:
    draft = open_case(patient, {"clinical_question": "Any mass?"})
    assert draft["status"] == "draft"
    assert draft["id"].startswith("RR-")
    assert len(draft["id"]) == 11
    assert draft["missing"][0].startswith("Details")

    submit = patient.http.post(f"/cases/{draft['id']}/submit")
    assert "patient_family_name" in errors_of(submit)

    edited = patient.http.patch(f"/cases/{draft['id']}", json=ONTARIO)
    assert edited.status_code == 200, edited.text
    details = edited.json()["details"]
    assert details["patient_postal_code"] == "M5H 2N2"
    assert details["physician_fax"] == "+14165550199"
    assert details["patient_phone"] == "+14165550123"
    assert details["patient_health_card_number"] == "9876543217"

    submitted = patient.http.post(f"/cases/{draft['id']}/submit")
    assert submitted.status_code == 200, submitted.text
    body = submitted.json()
    assert body["status"] == "submitted"
    assert body["coverage"] == "ohip"
    assert body["amount_owed"] == "0.00"
    assert [m.split(":")[0] for m in body["missing"]] == ["Images", "Referral"]
    assert [h["to_status"] for h in body["history"]] == ["draft", "submitted"]

    again = patient.http.patch(f"/cases/{draft['id']}", json={"clinical_question": "changed"})
    assert again.status_code == 409
    assert again.json()["field"] == "status"
    actions = set(db.scalars(select(AuditEvent.action).where(AuditEvent.case_id == draft["id"])))
    assert {"case.create", "case.update", "case.submitted"} <= actions


def test_every_invalid_field_named_at_once(patient: Account) -> None:
    bad = ontario(
        patient_postal_code="D1A 1A1",
        patient_health_card_number="9876543210",
        physician_fax="116-555-0199",
        physician_cpso_number="123",
        patient_birth_date="2099-01-01",
        patient_email="not an address",
    )
    errors = errors_of(patient.http.post("/cases", json=bad))
    assert set(errors) == {
        "patient_postal_code",
        "patient_health_card_number",
        "physician_fax",
        "physician_cpso_number",
        "patient_birth_date",
        "patient_email",
    }
    assert "check digit" not in errors["patient_health_card_number"]  # plain words
    assert "A1A 1A1" in errors["patient_postal_code"]


def test_unknown_fields_refused(patient: Account) -> None:
    response = patient.http.post("/cases", json={"favourite_colour": "blue"})
    assert response.status_code == 422


def test_postal_code_must_match_province(patient: Account) -> None:
    errors = errors_of(patient.http.post("/cases", json=ontario(patient_postal_code="V6B 1A1")))
    assert set(errors) == {"patient_postal_code"}


def test_ontario_residents_give_their_health_card(patient: Account) -> None:
    draft = open_case(
        patient, ontario(patient_health_card_number="", patient_health_card_version="")
    )
    errors = errors_of(patient.http.post(f"/cases/{draft['id']}/submit"))
    assert set(errors) == {"patient_health_card_number", "patient_health_card_version"}


def test_out_of_province_patient_owes_the_fee(patient: Account) -> None:
    draft = open_case(patient, BRITISH_COLUMBIA)
    assert any(m.startswith("Payment: $508.50 CAD") for m in draft["missing"])
    body = patient.http.post(f"/cases/{draft['id']}/submit").json()
    assert body["coverage"] == "private"
    assert body["amount_owed"] == "508.50"
    assert "Payment: $508.50 CAD is still owed." in body["missing"]


def test_images_requirement_visible_until_imaging_reports(patient: Account, db: Session) -> None:
    case_id = open_case(patient)["id"]
    patient.http.post(f"/cases/{case_id}/submit")
    missing = patient.http.get(f"/cases/{case_id}").json()["missing"]
    assert missing[0] == "Images: no study has been received and accepted yet."
    accept_images(db, db.get(Case, case_id))
    missing = patient.http.get(f"/cases/{case_id}").json()["missing"]
    assert [m.split(":")[0] for m in missing] == ["Referral"]


def test_patient_cancels_before_reading(patient: Account, db: Session) -> None:
    case_id = open_case(patient)["id"]
    cancelled = patient.http.post(f"/cases/{case_id}/cancel")
    assert cancelled.json()["status"] == "cancelled"
    assert patient.http.post(f"/cases/{case_id}/cancel").status_code == 409
    case = db.get(Case, case_id)
    assert case.status is CaseStatus.CANCELLED
    assert case.closed_at is not None


# --------------------------------------------------------------------------- authorisation


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/cases/{id}", None),
        ("PATCH", "/cases/{id}", {"clinical_question": "mine now"}),
        ("POST", "/cases/{id}/submit", None),
        ("POST", "/cases/{id}/cancel", None),
        ("GET", "/cases/{id}/invoice", None),
        ("GET", "/cases/{id}/receipt.pdf", None),
    ],
)
def test_another_patients_case_does_not_exist(
    make_account, patient: Account, method: str, path: str, body: dict | None, db: Session
) -> None:
    from server.accounts.models import Role

    case_id = open_case(patient)["id"]
    intruder = make_account(Role.PATIENT)
    response = intruder.http.request(method, path.format(id=case_id), json=body)
    assert response.status_code == 404
    missing = intruder.http.request(method, path.format(id="RR-00000000"), json=body)
    assert missing.status_code == 404
    assert response.json()["detail"].replace(case_id, "X") == missing.json()["detail"].replace(
        "RR-00000000", "X"
    )  # the same answer: existence is not revealed
    assert db.get(Case, case_id).clinical_question == ONTARIO["clinical_question"]
    assert db.get(Case, case_id).status is CaseStatus.DRAFT


def test_patient_lists_only_own_cases(make_account, patient: Account) -> None:
    from server.accounts.models import Role

    mine = open_case(patient)["id"]
    other = make_account(Role.PATIENT)
    theirs = open_case(other)["id"]
    assert [c["id"] for c in patient.http.get("/cases").json()] == [mine]
    assert [c["id"] for c in other.http.get("/cases").json()] == [theirs]


def test_radiologists_cannot_open_cases_and_see_only_assigned(
    radiologist: Account, patient: Account, admin: Account
) -> None:
    case_id = open_case(patient)["id"]
    assert radiologist.http.post("/cases", json=ONTARIO).status_code == 403
    assert radiologist.http.get("/cases").json() == []
    assert radiologist.http.get(f"/cases/{case_id}/reading").status_code == 404
    assert admin.http.get(f"/cases/{case_id}").status_code == 200
    assert [c["id"] for c in admin.http.get("/cases").json()] == [case_id]


def test_signed_out_is_401(client: httpx.Client) -> None:
    assert client.post("/cases", json=ONTARIO).status_code == 401


@pytest.mark.parametrize("escaped", ["Any\\u0000mass?", "bad\\ud800", "bell\\u0007"])
def test_control_characters_refused(patient: Account, escaped: str) -> None:
    raw = '{"clinical_question": "' + escaped + '"}'  # JSON escapes, as a browser sends
    response = patient.http.post(
        "/cases", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    errors = errors_of(response)
    assert set(errors) == {"clinical_question"}
    assert "control characters" in errors["clinical_question"]


def test_line_breaks_are_fine(patient: Account) -> None:
    body = open_case(patient, {"clinical_question": "Line one.\nLine two.\tTabbed."})
    assert body["details"]["clinical_question"] == "Line one.\nLine two.\tTabbed."


@pytest.mark.parametrize("case_id", ["RR-%00", "nothing", "RR-ABCDEFGU", "rr-abcdefgh", "x" * 500])
def test_malformed_case_ids_are_404(patient: Account, case_id: str) -> None:
    response = patient.http.get(f"/cases/{case_id}")
    assert response.status_code == 404
    assert response.json()["detail"] == "No such case among yours."
