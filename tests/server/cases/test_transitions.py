"""Every transition through the service on both engines: allowed ones are timestamped,
recorded and audited; refused ones are a 409 and change nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.audit.models import AuditEvent
from server.audit.service import SYSTEM
from server.cases import rules, service
from server.cases.models import Case, CaseEvent, CaseStatus
from server.problems import Conflict
from tests.server.cases.conftest import ONTARIO
from tests.server.factories import add_user

TIMESTAMP = {
    CaseStatus.SUBMITTED: "submitted_at",
    CaseStatus.READY: "ready_at",
    CaseStatus.READING: "reading_started_at",
    CaseStatus.SIGNED: "signed_at",
    CaseStatus.DELIVERED: "delivered_at",
    CaseStatus.REJECTED: "closed_at",
    CaseStatus.CANCELLED: "closed_at",
}


@pytest.mark.parametrize("current", list(CaseStatus), ids=lambda s: s.value)
def test_every_transition_from(db: Session, current: CaseStatus) -> None:
    """The table, row by row: from ``current`` to every status, each on a fresh case."""
    patient = add_user(db, role=Role.PATIENT)
    for target in CaseStatus:
        case = service.create_case(db, patient_user_id=patient.id, details=ONTARIO, actor=SYSTEM)
        case.status = current
        db.commit()
        if rules.can_transition(current, target):
            _allowed(db, case, current, target)
        else:
            _refused(db, case, current, target)


def _allowed(db: Session, case: Case, current: CaseStatus, target: CaseStatus) -> None:
    event = service.transition(db, case=case, to=target, actor=SYSTEM, note="test")
    db.commit()
    assert case.status is target
    assert (event.from_status, event.to_status) == (current, target)
    if target in TIMESTAMP:
        assert getattr(case, TIMESTAMP[target]) == event.at
    audit = db.scalars(
        select(AuditEvent).where(AuditEvent.case_id == case.id).order_by(AuditEvent.id.desc())
    ).first()
    assert audit.action == f"case.{target.value}"
    assert audit.detail.startswith(f"{current.value}->{target.value}")


def _refused(db: Session, case: Case, current: CaseStatus, target: CaseStatus) -> None:
    before = len(case.events)
    with pytest.raises(Conflict) as refused:
        service.transition(db, case=case, to=target, actor=SYSTEM)
    assert refused.value.status == 409, (current, target)
    db.rollback()
    db.expire_all()
    assert db.get(Case, case.id).status is current
    events = db.scalars(select(CaseEvent).where(CaseEvent.case_id == case.id)).all()
    assert len(events) == before


def test_a_free_text_reason_stays_out_of_the_audit_log(db: Session) -> None:
    """Reasons are shown to the patient and kept in the case history, never in the audit log."""
    patient = add_user(db, role=Role.PATIENT)
    case = service.create_case(db, patient_user_id=patient.id, details=ONTARIO, actor=SYSTEM)
    case.status = CaseStatus.SUBMITTED
    db.commit()
    reason = "Testperson's scan is of the wrong knee"
    event = service.transition(db, case=case, to=CaseStatus.REJECTED, actor=SYSTEM, note=reason)
    db.commit()
    assert event.note == reason
    details = db.scalars(select(AuditEvent.detail).where(AuditEvent.case_id == case.id)).all()
    assert not [d for d in details if d and "Testperson" in d]
