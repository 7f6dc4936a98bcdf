"""Wire contract of image intake: uploads, their per-file verdicts, upload codes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from server.imaging.models import RefusalReason, UploadKind, UploadState, Verdict

__all__ = [
    "FileVerdictRead",
    "UploadCodeCreate",
    "UploadCodeCreated",
    "UploadCodeRead",
    "UploadCounts",
    "UploadRead",
]


class UploadCounts(BaseModel):
    stored: int = 0
    duplicate: int = 0
    refused: int = 0
    skipped: int = 0


class FileVerdictRead(BaseModel):
    """What became of one file, in words a patient understands."""

    name: str
    verdict: Verdict
    reason: RefusalReason | None = None
    message: str
    sop_instance_uid: str | None = None


class UploadRead(BaseModel):
    """One upload into a case and how far it got (``receiving`` → ``ingesting`` → ``done``)."""

    id: str
    case_id: str
    kind: UploadKind
    filename: str
    batch: str | None = None
    length: int
    offset: int = Field(description="Bytes received so far")
    state: UploadState
    counts: UploadCounts
    error: str | None = None
    created_at: datetime
    completed_at: datetime | None = None
    finished_at: datetime | None = None
    files: list[FileVerdictRead] = Field(default_factory=list)


class UploadCodeCreate(BaseModel):
    label: str | None = Field(default=None, max_length=100, description="e.g. the sender's name")
    valid_days: int = Field(default=7, ge=1, le=30, description="Days until the code expires")


class UploadCodeRead(BaseModel):
    id: int
    case_id: str
    label: str | None = None
    created_at: datetime
    expires_at: datetime
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None


class UploadCodeCreated(UploadCodeRead):
    code: str = Field(description="Shown once: send it as 'Authorization: Bearer <code>'")
