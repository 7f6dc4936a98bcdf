"""Objects held for an admin's review (a different patient than the case): list, accept, discard.

Accepting indexes the held object into its case exactly as intake would have (its
bytes are already in the blob store); discarding leaves it out for good. Both are
audited; neither writes patient data to the audit detail.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases.models import Case
from server.config import Settings
from server.db import utcnow
from server.imaging.dicom_header import read_header
from server.imaging.indexing import Index, tell_case
from server.imaging.judging import ACCEPTING, Judged
from server.imaging.models import FlagState, IngestFlag, Instance, Verdict
from server.imaging.unpack import Candidate
from server.imaging.verdicts import IMAGE_SOP_CLASSES, Decision
from server.problems import Conflict, NotFound
from server.storage import BlobStore

__all__ = ["accept_flag", "discard_flag", "list_flags"]


def list_flags(
    session: Session, *, state: FlagState | None = FlagState.PENDING, case_id: str | None = None
) -> Sequence[IngestFlag]:
    query = select(IngestFlag).order_by(IngestFlag.id)
    if state is not None:
        query = query.where(IngestFlag.state == state)
    if case_id is not None:
        query = query.where(IngestFlag.case_id == case_id)
    return session.scalars(query).all()


def _pending(session: Session, flag_id: int) -> IngestFlag:
    flag = session.get(IngestFlag, flag_id)
    if flag is None:
        raise NotFound(f"No held object {flag_id}.", field="flag_id")
    if flag.state is not FlagState.PENDING:
        raise Conflict(f"Held object {flag_id} was already {flag.state.value}.", field="flag_id")
    return flag


def accept_flag(
    session: Session, *, flag_id: int, blobs: BlobStore, actor: Actor, settings: Settings
) -> IngestFlag:
    """Index the held object into its case (same patient after all); commits."""
    flag = _pending(session, flag_id)
    case = session.scalars(select(Case).where(Case.id == flag.case_id).with_for_update()).one()
    if case.status not in ACCEPTING:
        raise Conflict(f"The case is {case.status}; images can no longer be added.")
    existing = session.scalars(
        select(Instance.blob_sha256).where(
            Instance.case_id == case.id, Instance.sop_instance_uid == flag.sop_instance_uid
        )
    ).first()
    if existing is not None and existing != flag.blob_sha256:
        raise Conflict("The case already holds a different object with the same identifier.")
    if existing is None:
        with tempfile.TemporaryDirectory(prefix="rr-review-") as work:
            path = Path(work) / "held.dcm"
            with path.open("wb") as out:
                for chunk in blobs.iter_chunks(flag.blob_sha256):
                    out.write(chunk)
            header = read_header(path)
        is_image = header.sop_class_uid in IMAGE_SOP_CLASSES
        judged = Judged(
            Candidate("held", None),
            outcome=None,  # type: ignore[arg-type]
            header=header,
            decision=Decision(Verdict.STORED, is_image=is_image),
            sha256=flag.blob_sha256,
            size=flag.size,
        )
        index = Index(session, case.id)
        index.add(judged, upload_id=flag.upload_id)
        index.write()
        if is_image:
            tell_case(session, case=case, actor=actor, settings=settings)
    flag.state, flag.resolved_at, flag.resolved_by_id = FlagState.ACCEPTED, utcnow(), actor.user_id
    record_event(
        session,
        actor=actor,
        action="imaging.review.accept",
        object_type="ingest_flag",
        object_id=flag.id,
        case_id=flag.case_id,
    )
    session.commit()
    return flag


def discard_flag(session: Session, *, flag_id: int, actor: Actor) -> IngestFlag:
    """Leave the held object out of its case for good; commits."""
    flag = _pending(session, flag_id)
    flag.state, flag.resolved_at, flag.resolved_by_id = FlagState.DISCARDED, utcnow(), actor.user_id
    record_event(
        session,
        actor=actor,
        action="imaging.review.discard",
        object_type="ingest_flag",
        object_id=flag.id,
        case_id=flag.case_id,
    )
    session.commit()
    return flag
