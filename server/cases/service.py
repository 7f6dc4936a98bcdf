"""Case services: intake (draft, edit, submit), readiness, and the images imaging reports.

Every function takes a Session and keyword-only arguments, knows nothing of HTTP, and
leaves the commit to its caller's single boundary (a route or a CLI command).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import bindparam, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from server.audit.service import Actor, record_case_event
from server.cases import rules
from server.cases.assignment import auto_assign
from server.cases.models import (
    DETAIL_FIELDS,
    Case,
    CaseEvent,
    CaseStatus,
    Coverage,
)
from server.cases.transitions import transition
from server.config import Settings, get_settings
from server.db import utcnow
from server.problems import Conflict, Invalid

__all__ = [
    "create_case",
    "evaluate_readiness",
    "lock_row",
    "missing",
    "record_images_accepted",
    "submit_case",
    "transition",
    "update_case",
]


def lock_row(session: Session, case: Case) -> Case:
    """Re-read ``case`` with its row locked (``FOR UPDATE``), so that readiness and
    assignment decide on the latest committed state. Pending changes are flushed first."""
    session.flush()
    session.refresh(case, with_for_update=True)
    return case


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
            case=case,
            to_status=CaseStatus.DRAFT,
            actor_id=actor.user_id,
            actor_name=actor.username,
        )
    )
    record_case_event(
        session,
        actor=actor,
        action="case.create",
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
    record_case_event(
        session,
        actor=actor,
        action="case.update",
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


_cases = Case.__table__
#: The image summary's columns, written by one statement built once: this is every
#: imaging batch's path, where the unit of work's flush of the case cost several times more.
_IMAGE_SUMMARY = (
    "images_accepted_count",
    "images_accepted_at",
    "modality",
    "body_part",
    "study_description",
    "study_date",
    "series_count",
    "study_instance_uid",
    "updated_at",
)
_WRITE_IMAGE_SUMMARY = (
    update(_cases)
    .where(_cases.c.id == bindparam("case_id"))
    .values({name: bindparam(name) for name in _IMAGE_SUMMARY})
)


def _write_image_summary(session: Session, case: Case, **values: Any) -> None:
    """Write the image summary to the case's row, and to ``case`` as already written."""
    session.flush()  # changes already pending go first, in the order they were made
    session.connection().execute(_WRITE_IMAGE_SUMMARY, {"case_id": case.id, **values})
    for name, value in values.items():
        set_committed_value(case, name, value)


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
    if case.status is CaseStatus.SUBMITTED and rules.is_ready(case):
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
    reevaluate: bool = True,
    locked: bool = False,
) -> Case:
    """Imaging tells the case that ``image_count`` images (in total) of the study are in.

    With ``reevaluate`` (the default) readiness is checked, so the case may become ready and
    be assigned at once: report mid-upload batches with ``reevaluate=False`` and the
    finished upload (or STOW-RS request) with ``True``. ``locked``: the caller read the
    case with its row locked in this transaction (else it is re-read so). The caller
    commits.
    """
    if not locked:
        lock_row(session, case)
    if case.status not in (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.READY):
        raise Conflict(f"The case is {case.status}; images can no longer be added.", field="status")
    now = utcnow()
    _write_image_summary(
        session,
        case,
        images_accepted_count=image_count,
        images_accepted_at=now if image_count > 0 else None,
        modality=modality,
        body_part=body_part,
        study_description=study_description,
        study_date=study_date,
        series_count=case.series_count if series_count is None else series_count,
        study_instance_uid=(
            case.study_instance_uid if study_instance_uid is None else study_instance_uid
        ),
        updated_at=now,
    )
    record_case_event(
        session,
        actor=actor,
        action="case.images",
        case_id=case.id,
        detail=f"{image_count} images",
    )
    if reevaluate:
        evaluate_readiness(session, case=case, actor=actor, now=now, settings=settings)
    return case
