"""Case management at the console and by patients: lookups, reject, cancel, reassign,
priority, and lists for the turnaround clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import Actor, record_case_event
from server.cases import rules
from server.cases.models import Case, CasePriority, CaseStatus, is_case_id
from server.cases.transitions import transition
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, NotFound


def get_case(session: Session, *, case_id: str, for_update: bool = False) -> Case:
    """Any case by id (admin console)."""
    case_id = case_id.strip().upper()
    if not is_case_id(case_id):
        raise NotFound(f"no case {case_id} (case ids look like RR-7K3QX9MZ)", field="case_id")
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = session.scalars(query).first()
    if case is None:
        raise NotFound(f"no case {case_id}", field="case_id")
    return case


def reject_case(session: Session, *, case: Case, reason: str, actor: Actor) -> Case:
    """Reject with a reason the patient will see."""
    reason = " ".join(reason.split())
    if not reason:
        raise Invalid.from_errors([FieldError("reason", "Give the patient a reason.")])
    transition(session, case=case, to=CaseStatus.REJECTED, actor=actor, note=reason)
    case.rejection_reason = reason[:500]
    case.lock_holder_id = case.lock_expires_at = None
    return case


def cancel_case(
    session: Session,
    *,
    case: Case,
    actor: Actor,
    reason: str | None = None,
    by_patient: bool = False,
) -> Case:
    """Cancel the case; a patient may do so only before a radiologist has it."""
    if by_patient and case.status not in rules.PATIENT_CANCELLABLE:
        raise Conflict(f"The case is {case.status}; ask us to cancel it instead.", field="status")
    transition(session, case=case, to=CaseStatus.CANCELLED, actor=actor, note=reason)
    case.lock_holder_id = case.lock_expires_at = None
    return case


def find_user(session: Session, *, who: str) -> User:
    """A user by username or numeric id."""
    query = (
        select(User).where(User.id == int(who))
        if who.isdigit()
        else select(User).where(User.username == who)
    )
    user = session.scalars(query).first()
    if user is None:
        raise NotFound(f"no user {who}", field="user")
    return user


def usernames(session: Session, *, user_ids: set[int]) -> dict[int, str]:
    """Username by id for ``user_ids`` (ids with no user are left out)."""
    if not user_ids:
        return {}
    query = select(User.id, User.username).where(User.id.in_(user_ids))
    return {user_id: username for user_id, username in session.execute(query)}


def reassign_case(session: Session, *, case: Case, radiologist: User, actor: Actor) -> Case:
    """Give the case to ``radiologist`` (ready, assigned or reading). A live reading lock
    of the previous radiologist stays until it expires."""
    if radiologist.role is not Role.RADIOLOGIST or not radiologist.is_active:
        raise Conflict(f"{radiologist.username} is not an active radiologist.", field="to")
    if case.status is CaseStatus.READY:
        case.assigned_radiologist_id, case.assigned_at = radiologist.id, utcnow()
        transition(
            session,
            case=case,
            to=CaseStatus.ASSIGNED,
            actor=actor,
            note=f"to user {radiologist.id}",
        )
        return case
    if case.status not in rules.REASSIGNABLE:
        raise Conflict(f"A {case.status} case cannot be assigned.", field="status")
    if case.assigned_radiologist_id == radiologist.id:
        raise Conflict(f"The case is already assigned to {radiologist.username}.", field="to")
    previous = case.assigned_radiologist_id
    case.assigned_radiologist_id, case.assigned_at = radiologist.id, utcnow()
    record_case_event(
        session,
        actor=actor,
        action="case.reassign",
        case_id=case.id,
        detail=f"user {previous} -> user {radiologist.id}",
    )
    return case


def cases_by_status(
    session: Session,
    *,
    statuses: Sequence[CaseStatus] | None = None,
    overdue_at: datetime | None = None,
) -> list[Case]:
    """Cases for the console: by status, or open past their due time at ``overdue_at``."""
    query = select(Case).order_by(Case.due_at.is_(None), Case.due_at, Case.created_at)
    if statuses:
        query = query.where(Case.status.in_(statuses))
    if overdue_at is not None:
        query = query.where(Case.status.in_(rules.CLOCK_RUNNING), Case.due_at < overdue_at)
    return list(session.scalars(query))


def set_priority(session: Session, *, case: Case, priority: CasePriority, actor: Actor) -> Case:
    if case.status not in rules.OPEN_STATUSES:
        raise Conflict(f"A {case.status} case has no priority to change.", field="status")
    case.priority = priority
    record_case_event(
        session,
        actor=actor,
        action="case.priority",
        case_id=case.id,
        detail=priority.value,
    )
    return case
