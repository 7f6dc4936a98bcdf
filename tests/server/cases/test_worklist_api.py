"""The radiologist's worklist, the reading lock, and the full reading view."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.models import AuditEvent
from server.audit.service import SYSTEM
from server.cases import management
from server.cases.models import Case, CasePriority, CaseStatus
from server.cases.rules import age_in_years
from server.db import utcnow
from tests.server.cases.conftest import make_radiologist, ready_case
from tests.server.factories import Account


@pytest.fixture
def assigned(db: Session, patient: Account, radiologist: Account) -> Case:
    """A case assigned (automatically) to ``radiologist``."""
    make_radiologist(db, user=db.get(User, radiologist.id), subspecialties=("neuro",))
    case = ready_case(db, patient=patient.id)
    assert case.assigned_radiologist_id == radiologist.id
    return case


def test_worklist_shows_only_my_cases_without_names(
    assigned: Case, radiologist: Account, make_account, db: Session
) -> None:
    items = radiologist.http.get("/worklist").json()
    assert [i["id"] for i in items] == [assigned.id]
    item = items[0]
    assert item["status"] == "assigned"
    assert item["priority"] == "routine"
    assert item["modality"] == "MR"
    assert item["body_part"] == "BRAIN"
    assert item["study_description"] == "MR BRAIN WO"
    assert item["patient_sex"] == "F"
    assert item["patient_age"] == age_in_years(date(1970, 1, 31), assigned.study_date)
    assert item["clinical_question"] == "Persistent headache; any mass?"
    assert (item["series_count"], item["image_count"]) == (4, 120)
    assert 6 * 86400 < item["remaining_seconds"] <= 7 * 86400
    assert item["study_instance_uid"]
    text = str(items)
    for secret in ("Testperson", "Alex", "9876543217"):
        assert secret not in text

    other = make_account(Role.RADIOLOGIST)
    assert other.http.get("/worklist").json() == []
    assert other.http.get(f"/cases/{assigned.id}/reading").status_code == 404
    assert other.http.post(f"/cases/{assigned.id}/open").status_code == 404


def test_urgent_cases_come_first(assigned: Case, radiologist: Account, db: Session, patient):
    second = ready_case(db, patient=patient.id)
    management.set_priority(db, case=second, priority=CasePriority.URGENT, actor=SYSTEM)
    db.commit()
    assert [i["id"] for i in radiologist.http.get("/worklist").json()] == [second.id, assigned.id]


def test_patients_cannot_use_the_worklist(patient: Account) -> None:
    assert patient.http.get("/worklist").status_code == 403


def test_open_heartbeat_and_reading_view(assigned: Case, radiologist: Account, db: Session):
    opened = radiologist.http.post(f"/cases/{assigned.id}/open")
    assert opened.status_code == 200, opened.text
    lock = opened.json()
    assert lock["status"] == "reading"
    assert lock["holder_id"] == radiologist.id
    beat = radiologist.http.post(f"/cases/{assigned.id}/heartbeat").json()
    assert beat["expires_at"] >= lock["expires_at"]
    again = radiologist.http.post(f"/cases/{assigned.id}/open")
    assert again.status_code == 200  # re-opening one's own case is fine

    view = radiologist.http.get(f"/cases/{assigned.id}/reading").json()
    assert view["patient_family_name"] == "Testperson"
    assert view["physician_fax"] == "+14165550199"
    assert view["locked_by_me"] is True
    assert view["referral_received_at"] is not None
    db.expire_all()
    reads = db.scalars(
        select(AuditEvent).where(
            AuditEvent.case_id == assigned.id, AuditEvent.action == "case.read_full"
        )
    ).all()
    assert [r.actor_id for r in reads] == [radiologist.id]
    assert db.get(Case, assigned.id).reading_started_at is not None


def test_reassigned_case_is_locked_until_the_lock_expires(
    assigned: Case, radiologist: Account, make_account, db: Session, settings
) -> None:
    assert radiologist.http.post(f"/cases/{assigned.id}/open").status_code == 200
    second = make_account(Role.RADIOLOGIST)
    db.expire_all()
    case = db.get(Case, assigned.id)
    management.reassign_case(db, case=case, radiologist=db.get(User, second.id), actor=SYSTEM)
    db.commit()

    # the first radiologist lost the case; the second waits for the live lock
    assert radiologist.http.post(f"/cases/{assigned.id}/heartbeat").status_code == 404
    refused = second.http.post(f"/cases/{assigned.id}/open")
    assert refused.status_code == 409
    assert refused.json()["field"] == "lock"
    assert second.http.post(f"/cases/{assigned.id}/heartbeat").status_code == 409

    case.lock_expires_at = utcnow() - timedelta(seconds=1)
    db.commit()
    taken = second.http.post(f"/cases/{assigned.id}/open")
    assert taken.status_code == 200, taken.text
    assert taken.json()["holder_id"] == second.id
    db.expire_all()
    actions = db.scalars(select(AuditEvent.action).where(AuditEvent.case_id == assigned.id)).all()
    assert "case.reassign" in actions
    assert "case.lock_takeover" in actions


def test_closed_cases_cannot_be_opened(assigned: Case, radiologist: Account, db: Session):
    management.reject_case(db, case=assigned, reason="Not a diagnostic study", actor=SYSTEM)
    db.commit()
    assert radiologist.http.post(f"/cases/{assigned.id}/open").status_code == 409


def test_rejection_reason_is_shown_to_the_patient(db: Session, patient: Account) -> None:
    case = ready_case(db, patient=patient.id)
    management.reject_case(
        db, case=case, reason="The images are not from a CT or MR.", actor=SYSTEM
    )
    db.commit()
    body = patient.http.get(f"/cases/{case.id}").json()
    assert body["status"] == CaseStatus.REJECTED
    assert body["rejection_reason"] == "The images are not from a CT or MR."
    assert body["missing"] == []


def test_whole_intake_over_http(patient: Account, radiologist: Account, db: Session) -> None:
    """A private patient opens, submits, uploads the referral; images and payment arrive;
    the case is assigned and appears on the radiologist's worklist."""
    from server.cases.billing import record_payment
    from server.cases.models import PaymentMethod
    from tests.server.cases.conftest import BRITISH_COLUMBIA, accept_images
    from tests.server.cases.test_billing_referral import a_pdf

    make_radiologist(db, user=db.get(User, radiologist.id), subspecialties=("general",))
    case_id = patient.http.post("/cases", json=BRITISH_COLUMBIA).json()["id"]
    assert patient.http.post(f"/cases/{case_id}/submit").status_code == 200
    assert patient.http.post(f"/cases/{case_id}/submit").status_code == 409
    assert patient.http.put(f"/cases/{case_id}/referral", content=a_pdf()).status_code == 201
    accept_images(
        db, db.get(Case, case_id), modality="CT", body_part="CHEST", description="CT CHEST"
    )
    missing = patient.http.get(f"/cases/{case_id}").json()["missing"]
    assert missing == ["Payment: $508.50 CAD is still owed."]
    assert radiologist.http.get("/worklist").json() == []

    record_payment(
        db,
        case=db.get(Case, case_id),
        amount=Decimal("508.50"),
        method=PaymentMethod.ETRANSFER,
        reference="ET-1",
        actor=SYSTEM,
    )
    db.commit()
    body = patient.http.get(f"/cases/{case_id}").json()
    assert body["status"] == "assigned"
    assert body["missing"] == []
    assert [h["to_status"] for h in body["history"]] == ["draft", "submitted", "ready", "assigned"]
    assert [i["id"] for i in radiologist.http.get("/worklist").json()] == [case_id]
    assert patient.http.get(f"/cases/{case_id}/receipt.pdf").status_code == 200
