"""The referral letter: checked by content, stored encrypted, or recorded as a paper fax."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases.models import Case, CaseStatus, Referral, ReferralSource
from server.cases.service import evaluate_readiness, lock_row
from server.db import utcnow
from server.problems import Conflict, UnsupportedMediaType
from server.storage import BlobStore


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
    lock_row(session, case)
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


def receive_upload(
    session: Session,
    *,
    case: Case,
    path: Path,
    blobs: BlobStore,
    max_bytes: int,
    actor: Actor,
    source: ReferralSource = ReferralSource.UPLOAD,
) -> Referral:
    """Check an uploaded file by content (415 if not a readable PDF), store it encrypted and
    record it. ``case`` is locked by the caller, who commits."""
    _referral_allowed(case)
    problem = referral_problem(path, max_bytes=max_bytes)
    if problem is not None:
        raise UnsupportedMediaType(problem, field="referral")
    ref = blobs.put_file(path)
    return attach_referral(
        session,
        case=case,
        sha256=ref.sha256,
        size=ref.size,
        source=source,
        actor=actor,
    )
