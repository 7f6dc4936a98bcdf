"""Take candidate files into a case: parse, judge, store the blob, index — one batch at a time.

For each batch, headers are parsed and judged, the files hashed and their blobs
stored (encrypted, content-addressed, streamed from the file, fsynced — several at
once) *outside* any transaction; then, in one transaction holding the case row,
repeats and conflicts are found, Study / Series / Instance rows and verdicts
written, the case told how many images it now has
(:func:`server.cases.service.record_images_accepted`), and the batch audited — and
committed together. A failure rolls the batch's rows back whole; the blobs it stored
stay, unreferenced: blobs are write-once and content-addressed, so a stray one is
harmless (the same bytes stored later reuse it) and nothing is ever half-stored.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date
from itertools import islice
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases.models import Case, CaseStatus
from server.cases.service import record_images_accepted
from server.config import Settings
from server.db import utcnow
from server.imaging.dicom_header import Header, HeaderError, read_header
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
from server.imaging.unpack import Candidate
from server.imaging.verdicts import CasePatient, Decision, decide, duplicate_verdict, message_for
from server.storage import BlobStore

__all__ = [
    "BATCH_SIZE",
    "FileOutcome",
    "Index",
    "IngestResult",
    "Judged",
    "ingest_candidates",
    "judge_candidate",
    "submission_day",
    "tell_case",
]

log = logging.getLogger(__name__)
BATCH_SIZE = 64
#: Files of a batch judged and stored at once (hashing, encryption, writes and fsyncs
#: release the GIL); shared by all requests: more threads only fight for the GIL.
STORE_THREADS = 4
ACCEPTING = (CaseStatus.DRAFT, CaseStatus.SUBMITTED, CaseStatus.READY)


@dataclass
class FileOutcome:
    """The verdict on one file, with what STOW-RS needs to answer for it."""

    name: str
    verdict: Verdict
    reason: RefusalReason | None = None
    sop_class_uid: str | None = None
    sop_instance_uid: str | None = None
    study_instance_uid: str | None = None
    series_instance_uid: str | None = None
    message: str | None = None

    @property
    def text(self) -> str:
        return self.message or message_for(self.verdict, self.reason)


@dataclass
class IngestResult:
    outcomes: list[FileOutcome] = field(default_factory=list)

    @property
    def counts(self) -> Counter[Verdict]:
        return Counter(o.verdict for o in self.outcomes)


@dataclass
class Judged:
    candidate: Candidate
    outcome: FileOutcome
    header: Header | None = None
    decision: Decision | None = None
    sha256: str | None = None
    size: int = 0
    #: Set by :func:`_prepare` (or under the lock): the blob is durably stored / storing it failed.
    blob_stored: bool = False
    blob_failed: bool = False


def submission_day(case: Case) -> date:
    """The day a study's age is counted to: the case's submission, else today.

    Taken in UTC, which is never behind Ontario: a study scanned this evening in
    Toronto is not "in the future", at the price of counting at most one day more.
    """
    moment = case.submitted_at or utcnow()
    return moment.astimezone(UTC).date()


def ingest_candidates(
    session: Session,
    *,
    case_id: str,
    candidates: Iterable[Candidate],
    blobs: BlobStore,
    settings: Settings,
    actor: Actor,
    upload_id: str | None = None,
    expected_study_uid: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Ingest ``candidates`` into case ``case_id``; commits once per batch.

    Temporary candidate files are deleted as their batch completes. ``on_batch`` is
    called after each commit with the running result (progress reporting).
    """
    case = session.get(Case, case_id)
    if case is None:
        raise LookupError(case_id)
    patient, day = CasePatient.of(case), submission_day(case)
    accepting = case.status in ACCEPTING
    session.rollback()  # do not hold a read transaction (SQLite: the write lock) while parsing
    result = IngestResult()
    seq = 0
    for batch in _batches(candidates, batch_size):
        try:
            judged = _prepare(
                batch,
                lambda c: judge_candidate(
                    c, patient=patient, day=day, settings=settings, expected=expected_study_uid
                ),
                blobs=blobs if accepting else None,  # else stored under the lock if reopened
            )
            _commit_batch(
                session,
                case_id=case_id,
                judged=judged,
                blobs=blobs,
                settings=settings,
                actor=actor,
                upload_id=upload_id,
                first_seq=seq,
            )
        finally:
            for candidate in batch:
                candidate.discard()
        seq += len(batch)
        result.outcomes.extend(j.outcome for j in judged)
        if on_batch is not None:
            on_batch(result)
    return result


def _batches(items: Iterable[Candidate], size: int) -> Iterator[list[Candidate]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def judge_candidate(
    candidate: Candidate,
    *,
    patient: CasePatient,
    day: date,
    settings: Settings,
    expected: str | None,
) -> Judged:
    """Parse and judge one candidate without the database (never raises on bad bytes)."""
    outcome = FileOutcome(candidate.name, candidate.verdict or Verdict.REFUSED, candidate.reason)
    if candidate.verdict is not None or candidate.path is None:
        return Judged(candidate, outcome)
    try:
        header = read_header(candidate.path)
    except HeaderError as error:
        skip = error.reason is RefusalReason.DICOMDIR
        outcome.verdict, outcome.reason = (
            (Verdict.SKIPPED if skip else Verdict.REFUSED),
            error.reason,
        )
        return Judged(candidate, outcome)
    outcome.sop_class_uid = header.sop_class_uid
    outcome.sop_instance_uid = header.sop_instance_uid
    outcome.study_instance_uid = header.study_instance_uid
    outcome.series_instance_uid = header.series_instance_uid
    decision = decide(
        header, patient=patient, submitted_on=day, settings=settings, expected_study_uid=expected
    )
    outcome.verdict, outcome.reason, outcome.message = (
        decision.verdict,
        decision.reason,
        decision.message,
    )
    judged = Judged(candidate, outcome, header, decision)
    if decision.verdict is Verdict.STORED or decision.hold_for_review:
        judged.sha256, judged.size = _digest(candidate.path)
    return judged


def _digest(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _commit_batch(
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
    try:
        case = session.scalars(select(Case).where(Case.id == case_id).with_for_update()).one()
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
            if not _put(blobs, item):
                continue
            index.add(item, upload_id=upload_id)
            existing[uid] = item.sha256
            stored_images += int(item.decision.is_image)
        counts = Counter(item.outcome.verdict for item in judged)
        if upload_id is not None:
            _record_verdicts(session, upload_id=upload_id, judged=judged, first_seq=first_seq)
            _count_on_upload(session, upload_id, counts)
        if stored_images:
            tell_case(session, case=case, actor=actor, settings=settings)
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


def _existing_instances(session: Session, case_id: str, judged: list[Judged]) -> dict[str, str]:
    uids = sorted({j.header.sop_instance_uid for j in judged if j.header is not None})
    found: dict[str, str] = {}
    for start in range(0, len(uids), 500):
        rows = session.execute(
            select(Instance.sop_instance_uid, Instance.blob_sha256).where(
                Instance.case_id == case_id,
                Instance.sop_instance_uid.in_(uids[start : start + 500]),
            )
        )
        found.update({uid: sha for uid, sha in rows})
    return found


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def _store_pool() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(STORE_THREADS, thread_name_prefix="blob-store")
        return _pool


def _prepare(
    batch: list[Candidate], judge: Callable[[Candidate], Judged], *, blobs: BlobStore | None
) -> list[Judged]:
    """Judge the batch's files and store the blobs of those that may be kept, several
    files at once (hashing, encryption, writes and fsyncs release the GIL), before the
    batch's transaction — so the case row is never locked while files are processed.

    Every blob is durable when this returns (the store's ``synced_together`` block, if
    it has one, syncs the batch's directories once each at its end), so before the
    transaction that references it commits. A file that turns out to be a repeat, a
    conflict or too late leaves an unreferenced blob (see the module)."""

    def one(candidate: Candidate) -> Judged:
        item = judge(candidate)
        if blobs is not None and item.sha256 is not None and candidate.path is not None:
            _put_one(blobs, item)
        return item

    together = getattr(blobs, "synced_together", None)
    with together() if together is not None else nullcontext():
        if len(batch) == 1:
            return [one(batch[0])]
        context = contextvars.copy_context()
        return list(_store_pool().map(lambda c: context.copy().run(one, c), batch))


def _put_one(blobs: BlobStore, item: Judged) -> None:
    assert item.candidate.path is not None
    try:
        blobs.put_file(item.candidate.path, sha256=item.sha256)
        item.blob_stored = True
    except OSError as error:
        log.error("blob store failed: %s", type(error).__name__)
        item.blob_failed = True


def _put(blobs: BlobStore, item: Judged) -> bool:
    """The item's blob is stored (by :func:`_prepare`, else now); False, and the item
    refused, when storing failed."""
    if not (item.blob_stored or item.blob_failed):
        _put_one(blobs, item)
    if item.blob_failed:
        item.outcome.verdict, item.outcome.reason = Verdict.REFUSED, RefusalReason.STORAGE
        return False
    return True


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
    if already is not None or not _put(blobs, item):
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


class Index:
    """Study / Series rows of one case, created on first sight within the transaction."""

    def __init__(self, session: Session, case_id: str) -> None:
        self.session, self.case_id = session, case_id
        self.studies: dict[str, Study] = {}
        self.series: dict[tuple[int, str], Series] = {}

    def study(self, header: Header) -> Study:
        uid = header.study_instance_uid
        if uid not in self.studies:
            row = self.session.scalars(
                select(Study).where(Study.case_id == self.case_id, Study.study_instance_uid == uid)
            ).first()
            if row is None:
                row = Study(
                    case_id=self.case_id,
                    study_instance_uid=uid,
                    study_date=header.study_date,
                    study_time=header.study_time,
                    accession_number=header.accession_number,
                    study_description=header.study_description,
                    study_id=header.study_id,
                    patient_name=header.patient_name,
                    patient_id=header.patient_id,
                    patient_birth_date=header.patient_birth_date,
                    patient_sex=header.patient_sex,
                    referring_physician_name=header.referring_physician_name,
                    modalities="",
                    number_of_series=0,
                    number_of_instances=0,
                )
                self.session.add(row)
                self.session.flush()
            self.studies[uid] = row
        return self.studies[uid]

    def series_of(self, study: Study, header: Header) -> Series:
        key = (study.id, header.series_instance_uid)
        if key not in self.series:
            row = self.session.scalars(
                select(Series).where(
                    Series.study_id == study.id,
                    Series.series_instance_uid == header.series_instance_uid,
                )
            ).first()
            if row is None:
                row = Series(
                    study_id=study.id,
                    series_instance_uid=header.series_instance_uid,
                    modality=header.modality or "OT",
                    series_number=header.series_number,
                    series_description=header.series_description,
                    body_part_examined=header.body_part_examined,
                    series_date=header.series_date,
                    series_time=header.series_time,
                    number_of_instances=0,
                    number_of_images=0,
                )
                self.session.add(row)
                self.session.flush()
                study.number_of_series += 1
                modalities = set(filter(None, study.modalities.split("\\"))) | {row.modality}
                study.modalities = "\\".join(sorted(modalities))[:64]
            self.series[key] = row
        return self.series[key]

    def add(self, item: Judged, *, upload_id: str | None) -> Instance:
        header, decision = item.header, item.decision
        assert header is not None
        assert decision is not None
        assert item.sha256 is not None
        study = self.study(header)
        series = self.series_of(study, header)
        instance = Instance(
            series_id=series.id,
            case_id=self.case_id,
            sop_instance_uid=header.sop_instance_uid,
            sop_class_uid=header.sop_class_uid,
            instance_number=header.instance_number,
            transfer_syntax_uid=header.transfer_syntax_uid,
            number_of_frames=header.number_of_frames,
            rows=header.rows,
            columns=header.columns,
            blob_sha256=item.sha256,
            size=item.size,
            metadata_json=header.metadata,
            is_image=decision.is_image,
            upload_id=upload_id,
        )
        self.session.add(instance)
        series.number_of_instances += 1
        series.number_of_images += int(decision.is_image)
        study.number_of_instances += 1
        return instance


def _record_verdicts(
    session: Session, *, upload_id: str, judged: list[Judged], first_seq: int
) -> None:
    for offset, item in enumerate(judged):
        session.add(
            IngestVerdict(
                upload_id=upload_id,
                seq=first_seq + offset,
                name=item.outcome.name[:1024],
                verdict=item.outcome.verdict,
                reason=item.outcome.reason,
                sop_instance_uid=item.outcome.sop_instance_uid,
            )
        )


def _count_on_upload(session: Session, upload_id: str, counts: Counter[Verdict]) -> None:
    upload = session.get(Upload, upload_id)
    if upload is None:
        return
    upload.stored_count += counts.get(Verdict.STORED, 0)
    upload.duplicate_count += counts.get(Verdict.DUPLICATE, 0)
    upload.refused_count += counts.get(Verdict.REFUSED, 0)
    upload.skipped_count += counts.get(Verdict.SKIPPED, 0)


def tell_case(session: Session, *, case: Case, actor: Actor, settings: Settings) -> None:
    """Totals over the case's index, and the main study's description, to the cases service."""
    session.flush()
    image_count = session.scalar(
        select(func.count(Instance.id)).where(Instance.case_id == case.id, Instance.is_image)
    )
    main = session.scalars(
        select(Study)
        .join(Series, Series.study_id == Study.id)
        .where(Study.case_id == case.id)
        .group_by(Study.id)
        .order_by(func.sum(Series.number_of_images).desc(), Study.id)
    ).first()
    series_rows = (
        session.scalars(
            select(Series).where(Series.study_id == main.id, Series.number_of_images > 0)
        ).all()
        if main
        else []
    )
    modality = _most_common(s.modality for s in series_rows)
    body_part = _most_common(s.body_part_examined for s in series_rows)
    record_images_accepted(
        session,
        case=case,
        image_count=int(image_count or 0),
        modality=modality,
        body_part=body_part,
        study_description=main.study_description if main else None,
        study_date=main.study_date if main else None,
        actor=actor,
        series_count=len(series_rows),
        study_instance_uid=main.study_instance_uid if main else None,
        settings=settings,
    )


def _most_common(values: Iterable[Any]) -> Any:
    counted = Counter(v for v in values if v)
    return counted.most_common(1)[0][0] if counted else None
