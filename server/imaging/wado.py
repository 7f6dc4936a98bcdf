"""WADO-RS: find the instances a retrieve names, check the caller may see them, audit it
(PS3.18 §10.4).

:func:`locate` resolves ``/studies/{study}[/series/{series}[/instances/{sop}]]`` to the
stored instances of one case the caller may see (a study sent to several cases is
indexed in each; the first visible one answers). An unknown study and one the caller
may not see both give :class:`NotFound` — the refusal is audited as ``denied``.
:func:`audit_retrieve` records the access once the response is about to be sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.models import Outcome
from server.audit.service import Actor, record_event
from server.cases.access import CasePrincipal, load_case_for
from server.imaging.models import Instance, Series, Study
from server.problems import NotFound

__all__ = [
    "AuditedPrincipal",
    "Located",
    "RetrieveAction",
    "StoredInstance",
    "audit_retrieve",
    "locate",
    "metadata_of",
]


class RetrieveAction(StrEnum):
    """What a WADO-RS request read, as the audit log names it."""

    INSTANCES = "dicomweb.retrieve"
    METADATA = "dicomweb.metadata"
    FRAMES = "dicomweb.frames"


class AuditedPrincipal(CasePrincipal, Protocol):
    """A caller that can be authorised per case and named in the audit log."""

    @property
    def actor(self) -> Actor: ...


@dataclass(frozen=True)
class StoredInstance:
    """What a retrieve needs of one instance (no ORM object outlives the session)."""

    id: int
    study_uid: str
    series_uid: str
    sop_uid: str
    transfer_syntax_uid: str
    blob_sha256: str
    size: int
    number_of_frames: int


@dataclass(frozen=True)
class Located:
    """The instances of one retrieve, the case they belong to, and the object named."""

    case_id: str
    object_type: str
    object_id: int
    instances: list[StoredInstance]


def locate(
    session: Session,
    *,
    principal: AuditedPrincipal,
    study_uid: str,
    series_uid: str | None = None,
    sop_uid: str | None = None,
) -> Located:
    """The stored instances named by the path, in series then instance order."""
    studies = session.scalars(
        select(Study).where(Study.study_instance_uid == study_uid).order_by(Study.id)
    ).all()
    study = _first_visible(session, principal, studies)
    if study is None:
        if studies:
            record_event(
                session,
                actor=principal.actor,
                action="dicomweb.retrieve",
                outcome=Outcome.DENIED,
                object_type="study",
                object_id=studies[0].id,
                case_id=studies[0].case_id,
            )
            session.commit()
        raise NotFound("No such study among your cases.", field="study")
    query = (
        select(*_COLUMNS, Series.series_instance_uid)
        .join(Series, Instance.series_id == Series.id)
        .where(Series.study_id == study.id)
        .order_by(Series.series_number, Series.id, Instance.instance_number, Instance.id)
    )
    if series_uid is not None:
        query = query.where(Series.series_instance_uid == series_uid)
    if sop_uid is not None:
        query = query.where(Instance.sop_instance_uid == sop_uid)
    rows = session.execute(query).all()
    if not rows:
        raise NotFound(
            "No such instance in this study." if sop_uid else "No such series in this study.",
            field="instance" if sop_uid else "series",
        )
    instances = [_stored(row, study_uid) for row in rows]
    if sop_uid is not None:
        object_type, object_id = "instance", instances[0].id
    elif series_uid is not None:
        object_type, object_id = "series", rows[0].series_id
    else:
        object_type, object_id = "study", study.id
    return Located(study.case_id, object_type, object_id, instances)


def _first_visible(session: Session, principal: CasePrincipal, studies: Any) -> Study | None:
    for study in studies:
        try:
            load_case_for(session, principal=principal, case_id=study.case_id)
        except NotFound:
            continue
        return study
    return None


#: What a retrieve reads of an instance row: never ``metadata_json`` (decoding 300 headers
#: would cost more than streaming the pixels).
_COLUMNS = (
    Instance.id,
    Instance.series_id,
    Instance.sop_instance_uid,
    Instance.transfer_syntax_uid,
    Instance.blob_sha256,
    Instance.size,
    Instance.number_of_frames,
)


def _stored(row: Any, study_uid: str) -> StoredInstance:
    return StoredInstance(
        id=row.id,
        study_uid=study_uid,
        series_uid=row.series_instance_uid,
        sop_uid=row.sop_instance_uid,
        transfer_syntax_uid=row.transfer_syntax_uid,
        blob_sha256=row.blob_sha256,
        size=row.size,
        number_of_frames=row.number_of_frames,
    )


def metadata_of(session: Session, located: Located) -> list[dict[str, Any]]:
    """The stored headers of the located instances, in order."""
    ids = [i.id for i in located.instances]
    rows: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        query = select(Instance.id, Instance.metadata_json).where(Instance.id.in_(chunk))
        rows.update({key: value for key, value in session.execute(query)})
    return [rows[i] for i in ids]


def audit_retrieve(
    session: Session,
    *,
    principal: AuditedPrincipal,
    located: Located,
    action: RetrieveAction,
    detail: str | None = None,
) -> None:
    """Record the access and commit (before any byte of the response is sent)."""
    record_event(
        session,
        actor=principal.actor,
        action=str(action),
        object_type=located.object_type,
        object_id=located.object_id,
        case_id=located.case_id,
        detail=detail or f"instances={len(located.instances)}",
    )
    session.commit()
