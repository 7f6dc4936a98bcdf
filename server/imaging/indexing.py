"""Index judged files into a case: one transaction per batch.

In one transaction holding the case row, :func:`commit_batch` finds repeats and
conflicts, writes Study / Series / Instance rows (and an upload's verdicts), tells the
case how many images it now has (:func:`tell_case`), audits the batch, and commits
it all together. A failure rolls the batch's rows back whole; blobs already stored
stay, unreferenced: they are write-once and content-addressed, so a stray one is
harmless (the same bytes stored later reuse it) and nothing is ever half-stored.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases.models import Case
from server.cases.service import record_images_accepted
from server.config import Settings
from server.imaging.dicom_header import Header
from server.imaging.judging import ACCEPTING, Judged, store_blob
from server.imaging.models import (
    FlagReason,
    FlagState,
    IngestFlag,
    IngestVerdict,
    Instance,
    RefusalReason,
    Series,
    Study,
    Upload,
    Verdict,
)
from server.imaging.verdicts import duplicate_verdict
from server.storage import BlobStore

__all__ = ["Index", "commit_batch", "tell_case"]


def commit_batch(
    session: Session,
    *,
    case_id: str,
    judged: list[Judged],
    blobs: BlobStore,
    settings: Settings,
    actor: Actor,
    upload_id: str | None,
    first_seq: int,
) -> None:
    """Index ``judged`` (whose blobs are durable already) into the case; commits."""
    try:
        case = session.scalars(_LOCK_CASE, {"case_id": case_id}).one()
        accepting = case.status in ACCEPTING
        existing = _existing_instances(session, case_id, judged)
        index = Index(session, case_id)
        stored_images = 0
        for item in judged:
            if item.header is None or item.decision is None or item.sha256 is None:
                continue
            uid = item.header.sop_instance_uid
            repeat = duplicate_verdict(existing_sha256=existing.get(uid), sha256=item.sha256)
            if repeat is not None and not item.decision.hold_for_review:
                # An identical repeat is "already stored" even once the case is closed.
                item.outcome.verdict, item.outcome.reason = repeat.verdict, repeat.reason
                continue
            if not accepting:
                item.outcome.verdict = Verdict.REFUSED
                item.outcome.reason = RefusalReason.CASE_CLOSED
                continue
            if item.decision.hold_for_review:
                _hold(session, case_id=case_id, item=item, blobs=blobs, upload_id=upload_id)
                continue
            if not store_blob(blobs, item):
                continue
            index.add(item, upload_id=upload_id)
            existing[uid] = item.sha256
            stored_images += int(item.decision.is_image)
        index.write()
        counts = Counter(item.outcome.verdict for item in judged)
        if upload_id is not None:
            _record_verdicts(session, upload_id=upload_id, judged=judged, first_seq=first_seq)
            _count_on_upload(session, upload_id, counts)
        if stored_images:
            tell_case(session, case=case, actor=actor, settings=settings, locked=True)
        record_event(
            session,
            actor=actor,
            action="imaging.ingest",
            object_type="upload" if upload_id else "stow",
            object_id=upload_id,
            case_id=case_id,
            detail=" ".join(f"{v.value}={counts.get(v, 0)}" for v in Verdict),
        )
        session.commit()
    except BaseException:
        session.rollback()
        raise


_instances = Instance.__table__
_studies = Study.__table__
_series = Series.__table__

#: The statements of a batch's index, built once (then compiled once and cached).
_LOCK_CASE = (
    select(Case)
    .where(Case.id == bindparam("case_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_EXISTING = select(_instances.c.sop_instance_uid, _instances.c.blob_sha256).where(
    _instances.c.case_id == bindparam("case_id"),
    _instances.c.sop_instance_uid.in_(bindparam("uids", expanding=True)),
)
_FIND_STUDY = select(
    _studies.c.id,
    _studies.c.modalities,
    _studies.c.number_of_series,
    _studies.c.number_of_instances,
).where(
    _studies.c.case_id == bindparam("case_id"), _studies.c.study_instance_uid == bindparam("uid")
)
_FIND_SERIES = select(
    _series.c.id, _series.c.number_of_instances, _series.c.number_of_images
).where(
    _series.c.study_id == bindparam("study_id"), _series.c.series_instance_uid == bindparam("uid")
)
_NEW_STUDY = insert(_studies)
_NEW_SERIES = insert(_series)
_NEW_INSTANCES = insert(_instances)
_COUNT_STUDY = (
    update(_studies)
    .where(_studies.c.id == bindparam("row_id"))
    .values(
        modalities=bindparam("new_modalities"),
        number_of_series=bindparam("new_series"),
        number_of_instances=bindparam("new_instances"),
    )
)
_COUNT_SERIES = (
    update(_series)
    .where(_series.c.id == bindparam("row_id"))
    .values(
        number_of_instances=bindparam("new_instances"), number_of_images=bindparam("new_images")
    )
)
#: Every series of a case, with its study's identity (to describe the main study).
_SERIES_OF_CASE = (
    select(
        _series.c.study_id,
        _series.c.modality,
        _series.c.body_part_examined,
        _series.c.number_of_images,
        _studies.c.study_instance_uid,
        _studies.c.study_description,
        _studies.c.study_date,
    )
    .join(_studies, _series.c.study_id == _studies.c.id)
    .where(_studies.c.case_id == bindparam("case_id"))
)


def _existing_instances(session: Session, case_id: str, judged: list[Judged]) -> dict[str, str]:
    uids = sorted({j.header.sop_instance_uid for j in judged if j.header is not None})
    found: dict[str, str] = {}
    connection = session.connection()
    for start in range(0, len(uids), 500):
        rows = connection.execute(
            _EXISTING, {"case_id": case_id, "uids": uids[start : start + 500]}
        )
        found.update({uid: sha for uid, sha in rows})
    return found


def _hold(
    session: Session, *, case_id: str, item: Judged, blobs: BlobStore, upload_id: str | None
) -> None:
    """Keep a different patient's object aside for an admin (never in the case's index)."""
    header = item.header
    assert header is not None
    assert item.sha256 is not None
    already = session.scalars(
        select(IngestFlag.id).where(
            IngestFlag.case_id == case_id,
            IngestFlag.sop_instance_uid == header.sop_instance_uid,
            IngestFlag.blob_sha256 == item.sha256,
            IngestFlag.state == FlagState.PENDING,
        )
    ).first()
    if already is not None or not store_blob(blobs, item):
        return
    session.add(
        IngestFlag(
            case_id=case_id,
            upload_id=upload_id,
            reason=FlagReason.DIFFERENT_PATIENT,
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            study_instance_uid=header.study_instance_uid,
            series_instance_uid=header.series_instance_uid,
            transfer_syntax_uid=header.transfer_syntax_uid,
            blob_sha256=item.sha256,
            size=item.size,
            metadata_json=header.metadata,
        )
    )


@dataclass
class _Counted:
    """A study or series row of the index and its counts, as they will be written."""

    id: int
    instances: int
    images: int = 0
    series: int = 0
    modalities: set[str] = field(default_factory=set)


class Index:
    """Study / Series rows of one case, found or created on first sight within the
    transaction; their counts are kept here and written, with the instances' rows, by
    :meth:`write`. Plain statements, not the unit of work: this is every batch's path."""

    def __init__(self, session: Session, case_id: str) -> None:
        self.connection, self.case_id = session.connection(), case_id
        self.studies: dict[str, _Counted] = {}
        self.series: dict[tuple[int, str], _Counted] = {}
        self._rows: list[dict[str, Any]] = []

    def study(self, header: Header) -> _Counted:
        uid = header.study_instance_uid
        if uid not in self.studies:
            row = self.connection.execute(
                _FIND_STUDY, {"case_id": self.case_id, "uid": uid}
            ).first()
            if row is None:
                values = {
                    "case_id": self.case_id,
                    "study_instance_uid": uid,
                    "study_date": header.study_date,
                    "study_time": header.study_time,
                    "accession_number": header.accession_number,
                    "study_description": header.study_description,
                    "study_id": header.study_id,
                    "patient_name": header.patient_name,
                    "patient_id": header.patient_id,
                    "patient_birth_date": header.patient_birth_date,
                    "patient_sex": header.patient_sex,
                    "referring_physician_name": header.referring_physician_name,
                    "modalities": "",
                    "number_of_series": 0,
                    "number_of_instances": 0,
                }
                study_id = self.connection.execute(_NEW_STUDY, values).inserted_primary_key[0]
                self.studies[uid] = _Counted(study_id, 0)
            else:
                modalities = set(filter(None, row.modalities.split("\\")))
                self.studies[uid] = _Counted(
                    row.id,
                    row.number_of_instances,
                    series=row.number_of_series,
                    modalities=modalities,
                )
        return self.studies[uid]

    def series_of(self, study: _Counted, header: Header) -> _Counted:
        key = (study.id, header.series_instance_uid)
        if key not in self.series:
            uid = header.series_instance_uid
            row = self.connection.execute(_FIND_SERIES, {"study_id": study.id, "uid": uid}).first()
            if row is None:
                modality = header.modality or "OT"
                values = {
                    "study_id": study.id,
                    "series_instance_uid": uid,
                    "modality": modality,
                    "series_number": header.series_number,
                    "series_description": header.series_description,
                    "body_part_examined": header.body_part_examined,
                    "series_date": header.series_date,
                    "series_time": header.series_time,
                    "number_of_instances": 0,
                    "number_of_images": 0,
                }
                series_id = self.connection.execute(_NEW_SERIES, values).inserted_primary_key[0]
                self.series[key] = _Counted(series_id, 0)
                study.series += 1
                study.modalities.add(modality)
            else:
                self.series[key] = _Counted(row.id, row.number_of_instances, row.number_of_images)
        return self.series[key]

    def add(self, item: Judged, *, upload_id: str | None) -> None:
        """Count the item into its series and study; its row is written by :meth:`write`."""
        header, decision = item.header, item.decision
        assert header is not None
        assert decision is not None
        assert item.sha256 is not None
        study = self.study(header)
        series = self.series_of(study, header)
        self._rows.append(
            {
                "series_id": series.id,
                "case_id": self.case_id,
                "sop_instance_uid": header.sop_instance_uid,
                "sop_class_uid": header.sop_class_uid,
                "instance_number": header.instance_number,
                "transfer_syntax_uid": header.transfer_syntax_uid,
                "number_of_frames": header.number_of_frames,
                "rows": header.rows,
                "columns": header.columns,
                "blob_sha256": item.sha256,
                "size": item.size,
                "metadata_json": header.metadata,
                "is_image": decision.is_image,
                "upload_id": upload_id,
            }
        )
        series.instances += 1
        series.images += int(decision.is_image)
        study.instances += 1

    def write(self) -> None:
        """Insert the rows of the instances added, in one statement, and the counts."""
        if not self._rows:
            return
        self.connection.execute(_NEW_INSTANCES, self._rows)
        self._rows = []
        self.connection.execute(
            _COUNT_SERIES,
            [
                {"row_id": s.id, "new_instances": s.instances, "new_images": s.images}
                for s in self.series.values()
            ],
        )
        self.connection.execute(
            _COUNT_STUDY,
            [
                {
                    "row_id": s.id,
                    "new_modalities": "\\".join(sorted(s.modalities))[:64],
                    "new_series": s.series,
                    "new_instances": s.instances,
                }
                for s in self.studies.values()
            ],
        )


def _record_verdicts(
    session: Session, *, upload_id: str, judged: list[Judged], first_seq: int
) -> None:
    rows = [
        {
            "upload_id": upload_id,
            "seq": first_seq + offset,
            "name": item.outcome.name[:1024],
            "verdict": item.outcome.verdict,
            "reason": item.outcome.reason,
            "sop_instance_uid": item.outcome.sop_instance_uid,
        }
        for offset, item in enumerate(judged)
    ]
    if rows:
        session.execute(insert(IngestVerdict), rows)


def _count_on_upload(session: Session, upload_id: str, counts: Counter[Verdict]) -> None:
    upload = session.get(Upload, upload_id)
    if upload is None:
        return
    upload.stored_count += counts.get(Verdict.STORED, 0)
    upload.duplicate_count += counts.get(Verdict.DUPLICATE, 0)
    upload.refused_count += counts.get(Verdict.REFUSED, 0)
    upload.skipped_count += counts.get(Verdict.SKIPPED, 0)


def tell_case(
    session: Session, *, case: Case, actor: Actor, settings: Settings, locked: bool = False
) -> None:
    """Totals over the case's index, and the main study's description, to the cases service
    (``locked``: the case's row is locked in this transaction already)."""
    session.flush()
    connection = session.connection()
    series_of_case = connection.execute(_SERIES_OF_CASE, {"case_id": case.id}).all()
    images_by_study: Counter[int] = Counter()
    for row in series_of_case:  # each series counts its images as they are indexed
        images_by_study[row.study_id] += row.number_of_images
    # The main study: the most images, the first stored on a tie (the Index has its row).
    main_id = min(images_by_study, key=lambda sid: (-images_by_study[sid], sid), default=None)
    main = next((r for r in series_of_case if r.study_id == main_id), None)
    series_rows = [r for r in series_of_case if r.study_id == main_id and r.number_of_images > 0]
    modality = _most_common(r.modality for r in series_rows)
    body_part = _most_common(r.body_part_examined for r in series_rows)
    record_images_accepted(
        session,
        case=case,
        image_count=sum(images_by_study.values()),
        modality=modality,
        body_part=body_part,
        study_description=main.study_description if main else None,
        study_date=main.study_date if main else None,
        actor=actor,
        series_count=len(series_rows),
        study_instance_uid=main.study_instance_uid if main else None,
        settings=settings,
        locked=locked,
    )


def _most_common(values: Iterable[Any]) -> Any:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None
