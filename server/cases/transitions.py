"""The one way a case changes status: checked against the state machine, timestamped,
recorded as a :class:`~server.cases.models.CaseEvent` and audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.audit.service import Actor, record_case_event
from server.cases import rules
from server.cases.models import Case, CaseEvent, CaseStatus
from server.db import utcnow
from server.problems import Conflict

#: The timestamp column each status sets when the case enters it.
_ENTERED_AT = {
    CaseStatus.SUBMITTED: "submitted_at",
    CaseStatus.READY: "ready_at",
    CaseStatus.READING: "reading_started_at",
    CaseStatus.SIGNED: "signed_at",
    CaseStatus.DELIVERED: "delivered_at",
    CaseStatus.REJECTED: "closed_at",
    CaseStatus.CANCELLED: "closed_at",
}


def transition(
    session: Session,
    *,
    case: Case,
    to: CaseStatus,
    actor: Actor,
    note: str | None = None,
    now: datetime | None = None,
) -> CaseEvent:
    """Move ``case`` to ``to`` if the state machine allows it (else 409): timestamp, history
    row and audit event. The caller commits."""
    refusal = rules.transition_refusal(case.status, to)
    if refusal is not None:
        raise Conflict(refusal, field="status")
    now = now or utcnow()
    previous = case.status
    case.status = to
    if (column := _ENTERED_AT.get(to)) is not None:
        setattr(case, column, now)
    if to is CaseStatus.READY and previous in (CaseStatus.ASSIGNED, CaseStatus.READING):
        case.assigned_radiologist_id = None
        case.lock_holder_id = case.lock_expires_at = None
    event = CaseEvent(
        case=case,
        at=now,
        from_status=previous,
        to_status=to,
        actor_id=actor.user_id,
        actor_name=actor.username,
        note=note,
    )
    session.add(event)
    record_case_event(
        session,
        actor=actor,
        action=f"case.{to.value}",
        case_id=case.id,
        # The note stays in the case history: a reason may be free text about the patient.
        detail=f"{previous.value}->{to.value}",
    )
    return event
