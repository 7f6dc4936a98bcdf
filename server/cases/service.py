"""Case services: intake, transitions, readiness, referral, rejection and reassignment.

Every function takes a Session and keyword-only arguments, knows nothing of HTTP, and
leaves the commit to its caller's single boundary (a route or a CLI command).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import Actor, record_event
from server.cases import rules
from server.cases.assignment import auto_assign
from server.cases.models import (
    DETAIL_FIELDS,
    Case,
    CaseEvent,
    CasePriority,
    CaseStatus,
    Coverage,
    Referral,
    ReferralSource,
)
from server.config import Settings, get_settings
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, NotFound

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
        case_id=case.id,
        at=now,
        from_status=previous,
        to_status=to,
        actor_id=actor.user_id,
        actor_name=actor.username,
        note=note,
    )
    session.add(event)
    record_event(
        session,
        actor=actor,
        action=f"case.{to.value}",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=f"{previous.value}->{to.value}" + (f": {note}" if note else ""),
    )
    return event


# --------------------------------------------------------------------------- intake


def _validated(raw: Mapping[str, str | None], *, merged_with: Case | None) -> dict[str, Any]:
    values, errors = rules.validate_details(raw, today=utcnow().date())
    merged = {f: getattr(merged_with, f) for f in DETAIL_FIELDS} if merged_with else {}
    merged.update(values)
    bad = {e.field for e in errors}
    errors += [e for e in rules.cross_check_details(merged) if e.field not in bad]
    if errors:
        raise Invalid.from_errors(errors)
    return values


def create_case(
    session: Session, *, patient_user_id: int, details: Mapping[str, str | None], actor: Actor
) -> Case:
    """A new draft for the patient, with whatever details are given (all checked)."""
    values = _validated(details, merged_with=None)
    case = Case(patient_user_id=patient_user_id, status=CaseStatus.DRAFT, **values)
    session.add(case)
    session.flush()
    session.add(
        CaseEvent(
            case_id=case.id,
            to_status=CaseStatus.DRAFT,
            actor_id=actor.user_id,
            actor_name=actor.username,
        )
    )
    record_event(
        session,
        actor=actor,
        action="case.create",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
    )
    return case


def update_case(
    session: Session, *, case: Case, details: Mapping[str, str | None], actor: Actor
) -> Case:
    """Change details of a draft (409 once submitted)."""
    if case.status is not CaseStatus.DRAFT:
        raise Conflict(f"The case is {case.status}; only a draft can be edited.", field="status")
    values = _validated(details, merged_with=case)
    for field, value in values.items():
        setattr(case, field, value)
    record_event(
        session,
        actor=actor,
        action="case.update",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=",".join(sorted(values)),
    )
    return case


def submit_case(
    session: Session, *, case: Case, actor: Actor, settings: Settings | None = None
) -> Case:
    """Submit a complete draft: fixes coverage and fee, then checks readiness."""
    settings = settings or get_settings()
    if case.status is not CaseStatus.DRAFT:
        raise Conflict(f"The case is already {case.status}.", field="status")
    details = {f: getattr(case, f) for f in DETAIL_FIELDS}
    errors = rules.missing_details(details) + rules.cross_check_details(details)
    if errors:
        raise Invalid.from_errors(errors)
    case.coverage = rules.coverage_for(details)
    fee = rules.fee_for(case.coverage, private_fee=settings.private_fee, tax_rate=settings.tax_rate)
    case.fee_amount, case.tax_amount = rules.to_cents(fee.amount), rules.to_cents(fee.tax)
    transition(
        session,
        case=case,
        to=CaseStatus.SUBMITTED,
        actor=actor,
        note=f"coverage {case.coverage.value}",
    )
    evaluate_readiness(session, case=case, actor=actor, settings=settings)
    return case


def missing(case: Case, *, settings: Settings | None = None) -> list[str]:
    """What the case still waits for, in plain words (empty once it is with a radiologist)."""
    settings = settings or get_settings()
    if case.status is CaseStatus.DRAFT:
        details = {f: getattr(case, f) for f in DETAIL_FIELDS}
        gaps = [e.field for e in rules.missing_details(details)]
        lead = [
            "Details: complete and submit the case"
            + (f" ({len(gaps)} required fields are empty)." if gaps else ".")
        ]
        return lead + _requirements_missing(case, settings)
    if case.status is CaseStatus.SUBMITTED:
        return _requirements_missing(case, settings)
    if case.status is CaseStatus.READY:
        return ["Radiologist: waiting for a radiologist with capacity to be assigned."]
    return []


def _requirements_missing(case: Case, settings: Settings) -> list[str]:
    owed = case.total_owed - case.amount_paid
    text = rules.money(rules.from_cents(owed), settings.currency) if owed > 0 else None
    if case.status is CaseStatus.DRAFT and case.coverage is None:
        # the fee is fixed at submission; show what it will be for a non-covered patient
        details = {f: getattr(case, f) for f in DETAIL_FIELDS}
        if details.get("patient_province") and rules.coverage_for(details) is Coverage.PRIVATE:
            fee = rules.fee_for(
                Coverage.PRIVATE, private_fee=settings.private_fee, tax_rate=settings.tax_rate
            )
            text = rules.money(fee.total, settings.currency)
    found = rules.missing_for_ready(case, money_text=text)
    if text and not any(m.startswith("Payment") for m in found):
        found.append(f"Payment: {text} will be owed.")
    return found


def evaluate_readiness(
    session: Session,
    *,
    case: Case,
    actor: Actor,
    now: datetime | None = None,
    settings: Settings | None = None,
) -> CaseStatus:
    """Move a submitted case to ready when images, referral and payment are in (starting
    the turnaround clock), then try to assign it. Returns the status reached; the caller
    commits."""
    if case.status is CaseStatus.SUBMITTED and not rules.missing_for_ready(case):
        now = now or utcnow()
        transition(
            session, case=case, to=CaseStatus.READY, actor=actor, note="requirements met", now=now
        )
        turnaround = (settings or get_settings()).turnaround_days
        case.due_at = rules.due_at(now, turnaround_days=turnaround)
    if case.status is CaseStatus.READY:
        auto_assign(session, case=case, actor=actor, now=now)
    return case.status


def record_images_accepted(
    session: Session,
    *,
    case: Case,
    image_count: int,
    modality: str | None,
    body_part: str | None,
    study_description: str | None,
    study_date: date | None,
    actor: Actor,
    series_count: int | None = None,
    study_instance_uid: str | None = None,
    settings: Settings | None = None,
) -> Case:
    """Imaging tells the case that ``image_count`` images (in total) of the study are in;
    readiness is re-evaluated. The caller commits."""
    if case.status not in (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.READY):
        raise Conflict(f"The case is {case.status}; images can no longer be added.", field="status")
    now = utcnow()
    case.images_accepted_count = image_count
    case.images_accepted_at = now if image_count > 0 else None
    case.modality, case.body_part = modality, body_part
    case.study_description, case.study_date = study_description, study_date
    if series_count is not None:
        case.series_count = series_count
    if study_instance_uid is not None:
        case.study_instance_uid = study_instance_uid
    record_event(
        session,
        actor=actor,
        action="case.images",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=f"{image_count} images",
    )
    evaluate_readiness(session, case=case, actor=actor, now=now, settings=settings)
    return case


# --------------------------------------------------------------------------- referral


def referral_problem(path: Path, *, max_bytes: int) -> str | None:
    """Why a file is not an acceptable referral PDF (checked by content), or ``None``."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    size = path.stat().st_size
    if size > max_bytes:
        return f"The file is larger than {max_bytes // (1024 * 1024)} MB."
    with path.open("rb") as handle:
        if handle.read(5) != b"%PDF-":
            return "The referral must be a PDF file."
    try:
        reader = PdfReader(str(path))
        if len(reader.pages) < 1:
            return "The PDF has no pages."
    except (PyPdfError, ValueError, OSError, KeyError, TypeError):
        return "The PDF cannot be read; it may be damaged."
    return None


def _referral_allowed(case: Case) -> None:
    if case.status not in (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.READY):
        raise Conflict(
            f"The case is {case.status}; the referral can no longer change.", field="status"
        )


def attach_referral(
    session: Session,
    *,
    case: Case,
    sha256: str | None,
    size: int | None,
    source: ReferralSource,
    actor: Actor,
    received_at: datetime | None = None,
) -> Referral:
    """Record a referral (already stored in the blob store, or a paper fax) and re-check
    readiness. The caller commits."""
    _referral_allowed(case)
    referral = Referral(
        case_id=case.id,
        source=source,
        sha256=sha256,
        size=size,
        received_at=received_at or utcnow(),
        recorded_by=actor.username,
    )
    session.add(referral)
    case.referrals.append(referral)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="case.referral",
        object_type="referral",
        object_id=referral.id,
        case_id=case.id,
        detail=source.value,
    )
    evaluate_readiness(session, case=case, actor=actor)
    return referral


def latest_referral(case: Case) -> Referral | None:
    return case.referrals[-1] if case.referrals else None


# --------------------------------------------------------------------------- admin actions


def get_case(session: Session, *, case_id: str, for_update: bool = False) -> Case:
    """Any case by id (admin console)."""
    query = select(Case).where(Case.id == case_id.strip().upper())
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
    record_event(
        session,
        actor=actor,
        action="case.reassign",
        object_type="case",
        object_id=case.id,
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
    record_event(
        session,
        actor=actor,
        action="case.priority",
        object_type="case",
        object_id=case.id,
        case_id=case.id,
        detail=priority.value,
    )
    return case
