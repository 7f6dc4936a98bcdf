"""Imaging tables: the Study/Series/Instance index, objects held for review, uploads.

The index mirrors the DICOM information model (PS3.3 §A.1.2: Patient → Study →
Series → Instance), scoped to one case: the same study uploaded to two cases is
indexed twice, its blobs stored once (content-addressed). ``Instance.metadata_json``
holds the DICOM JSON model of the header without bulk data (PS3.18 §F.2), so
WADO-RS metadata and QIDO-RS answers never open a blob.

Upload tables: :class:`Upload` is one tus upload (PS: tus 1.0.0, core + creation +
checksum) whose bytes live in ``data_dir/uploads/<id>.part`` until ingested;
:class:`IngestVerdict` is the verdict on one file of it; :class:`UploadCode` is a
per-case, upload-only STOW-RS credential.
"""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Enum,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.cases import models as _cases  # noqa: F401  (patient_case, the FK target)
from server.db import Base, utcnow

__all__ = [
    "FlagReason",
    "FlagState",
    "IngestFlag",
    "IngestVerdict",
    "Instance",
    "RefusalReason",
    "Series",
    "Study",
    "Upload",
    "UploadCode",
    "UploadKind",
    "UploadState",
    "Verdict",
]


def _enum(cls: type[StrEnum], length: int = 24) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Study(Base):
    """One DICOM study within one case (PS3.3 C.7.2.1 General Study, C.7.1.1 Patient)."""

    __tablename__ = "imaging_study"
    __table_args__ = (UniqueConstraint("case_id", "study_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    study_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    study_date: Mapped[date | None] = mapped_column(default=None)
    study_time: Mapped[str | None] = mapped_column(String(16), default=None)
    accession_number: Mapped[str | None] = mapped_column(String(16), default=None)
    study_description: Mapped[str | None] = mapped_column(String(64), default=None)
    study_id: Mapped[str | None] = mapped_column(String(16), default=None)
    patient_name: Mapped[str | None] = mapped_column(String(324), default=None)
    patient_id: Mapped[str | None] = mapped_column(String(64), default=None)
    patient_birth_date: Mapped[date | None] = mapped_column(default=None)
    patient_sex: Mapped[str | None] = mapped_column(String(16), default=None)
    referring_physician_name: Mapped[str | None] = mapped_column(String(324), default=None)
    #: ModalitiesInStudy, backslash-separated and sorted (e.g. ``CT\\SR``).
    modalities: Mapped[str] = mapped_column(String(64), default="")
    number_of_series: Mapped[int] = mapped_column(default=0)
    number_of_instances: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    series: Mapped[list[Series]] = relationship(
        back_populates="study", passive_deletes=True, order_by="Series.series_number"
    )


class Series(Base):
    """One series of a study (PS3.3 C.7.3.1 General Series)."""

    __tablename__ = "imaging_series"
    __table_args__ = (UniqueConstraint("study_id", "series_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    study_id: Mapped[int] = mapped_column(
        ForeignKey("imaging_study.id", ondelete="CASCADE"), index=True
    )
    series_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    modality: Mapped[str] = mapped_column(String(16))
    series_number: Mapped[int | None] = mapped_column(default=None)
    series_description: Mapped[str | None] = mapped_column(String(64), default=None)
    body_part_examined: Mapped[str | None] = mapped_column(String(16), default=None)
    series_date: Mapped[date | None] = mapped_column(default=None)
    series_time: Mapped[str | None] = mapped_column(String(16), default=None)
    number_of_instances: Mapped[int] = mapped_column(default=0)
    #: Instances that count as images (not secondary captures or dose reports).
    number_of_images: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    study: Mapped[Study] = relationship(back_populates="series")
    instances: Mapped[list[Instance]] = relationship(
        back_populates="series", passive_deletes=True, order_by="Instance.instance_number"
    )


class Instance(Base):
    """One stored SOP instance; its bytes are the blob ``blob_sha256``, byte-identical to
    what was received (any transfer syntax, PS3.5 §10 / Annex A)."""

    __tablename__ = "imaging_instance"
    __table_args__ = (UniqueConstraint("case_id", "sop_instance_uid"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    series_id: Mapped[int] = mapped_column(
        ForeignKey("imaging_series.id", ondelete="CASCADE"), index=True
    )
    case_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    sop_instance_uid: Mapped[str] = mapped_column(String(64), index=True)
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    instance_number: Mapped[int | None] = mapped_column(default=None)
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    number_of_frames: Mapped[int] = mapped_column(default=1)
    rows: Mapped[int | None] = mapped_column(default=None)
    columns: Mapped[int | None] = mapped_column(default=None)
    blob_sha256: Mapped[str] = mapped_column(String(64), index=True)
    size: Mapped[int] = mapped_column(BigInteger)
    #: The DICOM JSON model of the header, bulk data left out (PS3.18 §F.2).
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    #: False for secondary captures and structured reports (kept, not counted as images).
    is_image: Mapped[bool] = mapped_column(default=True)
    upload_id: Mapped[str | None] = mapped_column(String(32), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    series: Mapped[Series] = relationship(back_populates="instances")


class FlagReason(StrEnum):
    DIFFERENT_PATIENT = "different_patient"


class FlagState(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DISCARDED = "discarded"


class IngestFlag(Base):
    """An object held back from a case for an admin to review (e.g. a different patient).

    Its bytes are stored (encrypted) but it is not indexed into the case until an admin
    accepts it; discarding leaves it out for good.
    """

    __tablename__ = "imaging_ingest_flag"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    upload_id: Mapped[str | None] = mapped_column(String(32), default=None)
    reason: Mapped[FlagReason] = mapped_column(_enum(FlagReason))
    state: Mapped[FlagState] = mapped_column(_enum(FlagState), default=FlagState.PENDING)
    sop_instance_uid: Mapped[str] = mapped_column(String(64))
    sop_class_uid: Mapped[str] = mapped_column(String(64))
    study_instance_uid: Mapped[str] = mapped_column(String(64))
    series_instance_uid: Mapped[str] = mapped_column(String(64))
    transfer_syntax_uid: Mapped[str] = mapped_column(String(64))
    blob_sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(BigInteger)
    metadata_json: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    resolved_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )


class UploadKind(StrEnum):
    ZIP = "zip"
    FILE = "file"


class UploadState(StrEnum):
    RECEIVING = "receiving"
    INGESTING = "ingesting"
    DONE = "done"
    FAILED = "failed"


class Upload(Base):
    """One resumable (tus 1.0.0) upload into a case: a zipped CD or one file of a folder.

    The received bytes are ``data_dir/uploads/<id>.part``; after a restart the offset is
    the file's size, so an interrupted upload resumes where it stopped.
    """

    __tablename__ = "imaging_upload"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[UploadKind] = mapped_column(_enum(UploadKind))
    filename: Mapped[str] = mapped_column(String(255), default="")
    #: Groups the files of one folder sent as separate uploads (client-chosen, optional).
    batch: Mapped[str | None] = mapped_column(String(64), default=None)
    length: Mapped[int] = mapped_column(BigInteger)
    state: Mapped[UploadState] = mapped_column(_enum(UploadState), default=UploadState.RECEIVING)
    stored_count: Mapped[int] = mapped_column(default=0)
    duplicate_count: Mapped[int] = mapped_column(default=0)
    refused_count: Mapped[int] = mapped_column(default=0)
    skipped_count: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    completed_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    verdicts: Mapped[list[IngestVerdict]] = relationship(
        back_populates="upload", passive_deletes=True, order_by="IngestVerdict.seq"
    )


class Verdict(StrEnum):
    STORED = "stored"
    DUPLICATE = "duplicate"
    REFUSED = "refused"
    SKIPPED = "skipped"


class RefusalReason(StrEnum):
    """Why a file was refused or skipped; each has a sentence a patient understands
    (:data:`server.imaging.verdicts.MESSAGES`)."""

    NOT_DICOM = "not_dicom"
    UNREADABLE = "unreadable"
    MODALITY = "modality"
    TOO_OLD = "too_old"
    STUDY_DATE = "study_date"
    DIFFERENT_PATIENT = "different_patient"
    CONFLICT = "conflict"
    SOP_CLASS = "sop_class"
    MISSING_UID = "missing_uid"
    TOO_LARGE = "too_large"
    UNSAFE_PATH = "unsafe_path"
    DICOMDIR = "dicomdir"
    COMPANION = "companion"
    STORAGE = "storage"
    CASE_CLOSED = "case_closed"
    STUDY_MISMATCH = "study_mismatch"
    ENCRYPTED = "encrypted"


class IngestVerdict(Base):
    """The verdict on one file of an upload (no patient data: a path and a reason code)."""

    __tablename__ = "imaging_ingest_verdict"
    __table_args__ = (Index("ix_imaging_ingest_verdict_upload_seq", "upload_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    upload_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("imaging_upload.id", ondelete="CASCADE")
    )
    seq: Mapped[int]
    name: Mapped[str] = mapped_column(Text)
    verdict: Mapped[Verdict] = mapped_column(_enum(Verdict))
    reason: Mapped[RefusalReason | None] = mapped_column(_enum(RefusalReason), default=None)
    sop_instance_uid: Mapped[str | None] = mapped_column(String(64), default=None)

    upload: Mapped[Upload] = relationship(back_populates="verdicts")


class UploadCode(Base):
    """A per-case STOW-RS credential a patient gives an image-transfer service.

    Upload-only: it authenticates ``POST /dicomweb/studies`` for its case and nothing
    else. Only the SHA-256 of the code is stored; it expires and can be revoked.
    """

    __tablename__ = "imaging_upload_code"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        String(16), ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(100), default=None)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
