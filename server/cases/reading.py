"""The radiologist's side: the worklist and the reading lock."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import case as sql_case
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.service import Actor, record_case_event
from server.cases import rules
from server.cases.models import Case, CasePriority, CaseStatus
from server.cases.referrals import latest_referral
from server.cases.schemas import ReadingCase, ReadingLockRead, WorklistItem
from server.cases.transitions import transition
from server.db import utcnow
from server.problems import Conflict

WORKLIST_STATUSES = (CaseStatus.ASSIGNED, CaseStatus.READING)


def lock_is_live(case: Case, *, now: datetime) -> bool:
    return (
        case.lock_holder_id is not None
        and case.lock_expires_at is not None
        and (case.lock_expires_at > now)
    )


def worklist(
    session: Session, *, radiologist_id: int, now: datetime | None = None
) -> list[WorklistItem]:
    """The radiologist's assigned cases, urgent first, then by due time."""
    now = now or utcnow()
    urgent_first = sql_case((Case.priority == CasePriority.URGENT, 0), else_=1)
    query = (
        select(Case)
        .where(Case.assigned_radiologist_id == radiologist_id, Case.status.in_(WORKLIST_STATUSES))
        .order_by(urgent_first, Case.due_at.is_(None), Case.due_at, Case.id)
    )
    return [
        worklist_item(case, radiologist_id=radiologist_id, now=now)
        for case in session.scalars(query)
    ]


def worklist_item(case: Case, *, radiologist_id: int, now: datetime) -> WorklistItem:
    return WorklistItem(**_item_fields(case, radiologist_id=radiologist_id, now=now))


def _item_fields(case: Case, *, radiologist_id: int, now: datetime) -> dict[str, object]:
    remaining = None if case.due_at is None else int((case.due_at - now).total_seconds())
    live = lock_is_live(case, now=now)
    return {
        "id": case.id,
        "status": case.status,
        "priority": case.priority,
        "assigned_at": case.assigned_at,
        "due_at": case.due_at,
        "remaining_seconds": remaining,
        "modality": case.modality,
        "body_part": case.body_part,
        "study_description": case.study_description,
        "patient_age": rules.age_in_years(case.patient_birth_date, case.study_date or now.date()),
        "patient_sex": case.patient_sex,
        "clinical_question": case.clinical_question,
        "study_instance_uid": case.study_instance_uid,
        "series_count": case.series_count,
        "image_count": case.images_accepted_count,
        "locked_by_me": live and case.lock_holder_id == radiologist_id,
        "lock_expires_at": case.lock_expires_at if live else None,
    }


def reading_view(case: Case, *, radiologist_id: int, now: datetime | None = None) -> ReadingCase:
    """All the workstation needs, patient name included (the caller audits the read)."""
    now = now or utcnow()
    referral = latest_referral(case)
    return ReadingCase(
        **_item_fields(case, radiologist_id=radiologist_id, now=now),
        patient_family_name=case.patient_family_name,
        patient_given_names=case.patient_given_names,
        patient_birth_date=case.patient_birth_date,
        exam_requested=case.exam_requested,
        physician_name=case.physician_name,
        physician_cpso_number=case.physician_cpso_number,
        physician_fax=case.physician_fax,
        study_date=case.study_date,
        referral_received_at=referral.received_at if referral else None,
    )


def _lock_read(case: Case) -> ReadingLockRead:
    assert case.lock_holder_id is not None
    assert case.lock_expires_at is not None
    return ReadingLockRead(
        case_id=case.id,
        status=case.status,
        holder_id=case.lock_holder_id,
        expires_at=case.lock_expires_at,
    )


def _take_lock(case: Case, *, radiologist_id: int, now: datetime, minutes: int) -> None:
    case.lock_holder_id = radiologist_id
    case.lock_expires_at = now + timedelta(minutes=minutes)


def open_case(
    session: Session,
    *,
    case: Case,
    radiologist_id: int,
    actor: Actor,
    lock_minutes: int,
    now: datetime | None = None,
) -> ReadingLockRead:
    """Start (or resume) reading: the case moves to reading and the caller takes the lock.

    Another radiologist's live lock is a 409; an expired one is taken over. The case row
    must be locked by the caller (``load_case_for(..., for_update=True)``).
    """
    now = now or utcnow()
    if case.status not in WORKLIST_STATUSES:
        raise Conflict(f"A {case.status} case cannot be opened for reading.", field="status")
    if lock_is_live(case, now=now) and case.lock_holder_id != radiologist_id:
        raise Conflict(
            f"Another radiologist is reading this case until "
            f"{case.lock_expires_at:%H:%M} UTC; try again after.",
            field="lock",
        )
    previous_holder = case.lock_holder_id
    _take_lock(case, radiologist_id=radiologist_id, now=now, minutes=lock_minutes)
    if case.status is CaseStatus.ASSIGNED:
        transition(session, case=case, to=CaseStatus.READING, actor=actor, now=now)
    elif previous_holder not in (None, radiologist_id):
        record_case_event(
            session,
            actor=actor,
            action="case.lock_takeover",
            case_id=case.id,
            detail=f"from user {previous_holder}",
        )
    else:
        record_case_event(
            session,
            actor=actor,
            action="case.open",
            case_id=case.id,
        )
    return _lock_read(case)


def heartbeat(
    session: Session,
    *,
    case: Case,
    radiologist_id: int,
    lock_minutes: int,
    now: datetime | None = None,
) -> ReadingLockRead:
    """Renew the caller's reading lock (409 if they do not hold it)."""
    now = now or utcnow()
    if case.status is not CaseStatus.READING or case.lock_holder_id != radiologist_id:
        raise Conflict("You do not hold the reading lock; open the case again.", field="lock")
    _take_lock(case, radiologist_id=radiologist_id, now=now, minutes=lock_minutes)
    return _lock_read(case)
