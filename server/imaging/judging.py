"""One file's verdict before the database is consulted, and its blob stored.

:func:`prepare` is what runs for each file of an upload, on a worker thread and
outside any transaction: parse the header, judge it against the case
(:class:`IntakeRules`), hash the bytes and, when the file may be kept, store its blob
(encrypted, content-addressed). What the index then makes of it — repeats,
conflicts, rows — is :mod:`server.imaging.indexing`'s.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date
from pathlib import Path

from sqlalchemy.orm import Session

from server.cases.models import Case, CaseStatus
from server.config import Settings
from server.db import begin_reading, utcnow
from server.imaging.dicom_header import Header, HeaderError, read_header
from server.imaging.models import RefusalReason, Verdict
from server.imaging.unpack import Candidate
from server.imaging.verdicts import CasePatient, Decision, decide, message_for
from server.storage import BlobStore, WriteBatch

__all__ = [
    "ACCEPTING",
    "FileOutcome",
    "IngestResult",
    "IntakeRules",
    "Judged",
    "judge_candidate",
    "prepare",
    "store_blob",
    "submission_day",
]

log = logging.getLogger(__name__)
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
    #: Set by :func:`store_blob`: the blob is stored (durable once its batch is synced) /
    #: storing it failed.
    blob_stored: bool = False
    blob_failed: bool = False


def submission_day(case: Case) -> date:
    """The day a study's age is counted to: the case's submission, else today.

    Taken in UTC, which is never behind Ontario: a study scanned this evening in
    Toronto is not "in the future", at the price of counting at most one day more.
    """
    moment = case.submitted_at or utcnow()
    return moment.astimezone(UTC).date()


@dataclass(frozen=True)
class IntakeRules:
    """What every file of one upload is judged against, read once from the case."""

    case_id: str
    patient: CasePatient
    day: date
    settings: Settings
    #: The case takes images now (else blobs are stored only if it does at commit).
    accepting: bool
    expected_study_uid: str | None = None

    @classmethod
    def load(
        cls,
        session: Session,
        *,
        case_id: str,
        settings: Settings,
        expected_study_uid: str | None = None,
    ) -> IntakeRules:
        """Read the case (``LookupError`` if there is none) in a reading transaction,
        ended before any file is parsed."""
        begin_reading(session)
        case = session.get(Case, case_id)
        if case is None:
            raise LookupError(case_id)
        rules = cls.of(case, settings=settings, expected_study_uid=expected_study_uid)
        session.rollback()
        return rules

    @classmethod
    def of(
        cls, case: Case, *, settings: Settings, expected_study_uid: str | None = None
    ) -> IntakeRules:
        """The rules of a case already read (its attributes loaded)."""
        return cls(
            case.id,
            CasePatient.of(case),
            submission_day(case),
            settings,
            case.status in ACCEPTING,
            expected_study_uid,
        )


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
    source = candidate.source
    if candidate.verdict is not None or source is None:
        return Judged(candidate, outcome)
    try:
        header = read_header(source)
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
        judged.sha256, judged.size = _digest(source)
    return judged


def _digest(source: Path | bytes) -> tuple[str, int]:
    if isinstance(source, bytes):
        return hashlib.sha256(source).hexdigest(), len(source)
    digest, size = hashlib.sha256(), 0
    with source.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def prepare(
    candidate: Candidate, *, rules: IntakeRules, blobs: BlobStore, batch: WriteBatch
) -> Judged:
    """Judge one file and, if the case may keep it, store its blob into ``batch``; the
    bytes are let go once stored. Runs on a worker thread: no database here."""
    item = judge_candidate(
        candidate,
        patient=rules.patient,
        day=rules.day,
        settings=rules.settings,
        expected=rules.expected_study_uid,
    )
    if rules.accepting and item.sha256 is not None:
        store_blob(blobs, item, batch)
        if item.blob_stored:
            candidate.discard()
    return item


def store_blob(blobs: BlobStore, item: Judged, batch: WriteBatch | None = None) -> bool:
    """Store the item's bytes as a blob, once; False, and the item refused, when the
    store failed (the reason is logged, never the file's name or content)."""
    if not (item.blob_stored or item.blob_failed):
        source = item.candidate.source
        assert source is not None
        assert item.sha256 is not None
        try:
            if isinstance(source, bytes):
                blobs.put_bytes(source, sha256=item.sha256, batch=batch)
            else:
                blobs.put_file(source, sha256=item.sha256, batch=batch)
            item.blob_stored = True
        except OSError as error:
            log.error("blob store failed: %s", type(error).__name__)
            item.blob_failed = True
    if item.blob_failed:
        item.outcome.verdict, item.outcome.reason = Verdict.REFUSED, RefusalReason.STORAGE
        return False
    return True
