"""Per-case upload codes: an upload-only STOW-RS credential a patient hands to an
image-transfer service. Stored as a SHA-256; shown once; expiring; revocable.

A code starts with :data:`CODE_PREFIX`, so a bearer token is told apart from a
login session without a database lookup. It is not an :class:`ApiToken`: every
route but STOW-RS refuses it (401), so it can never read anything.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases.models import Case
from server.db import utcnow
from server.imaging.models import UploadCode
from server.problems import NotFound

__all__ = [
    "CODE_PREFIX",
    "CodeHolder",
    "create_code",
    "find_live_code",
    "is_upload_code",
    "list_codes",
    "revoke_code",
]

CODE_PREFIX = "rrup_"
#: ``last_used_at`` is kept to within this much.
USE_RESOLUTION = timedelta(seconds=30)


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def is_upload_code(token: str) -> bool:
    return token.startswith(CODE_PREFIX)


@dataclass(frozen=True)
class CodeHolder:
    """Whoever presents a live code: may store into ``case_id``, nothing else."""

    code_id: int
    case_id: str
    client_addr: str | None

    @property
    def actor(self) -> Actor:
        return Actor(
            username=f"upload-code-{self.code_id}", role="upload-code", client_addr=self.client_addr
        )


def create_code(
    session: Session, *, case: Case, actor: Actor, label: str | None, valid_days: int
) -> tuple[UploadCode, str]:
    """A new code for ``case``; returns the row and the code (shown once). Commits."""
    code = CODE_PREFIX + secrets.token_urlsafe(24)
    now = utcnow()
    row = UploadCode(
        case_id=case.id,
        code_hash=_hash(code),
        label=label,
        created_by_id=actor.user_id,
        created_at=now,
        expires_at=now + timedelta(days=valid_days),
    )
    session.add(row)
    session.flush()
    record_event(
        session,
        actor=actor,
        action="imaging.upload_code.create",
        object_type="upload_code",
        object_id=row.id,
        case_id=case.id,
        detail=f"valid_days={valid_days}",
    )
    session.commit()
    return row, code


def list_codes(session: Session, *, case_id: str) -> Sequence[UploadCode]:
    return session.scalars(
        select(UploadCode).where(UploadCode.case_id == case_id).order_by(UploadCode.id)
    ).all()


def revoke_code(session: Session, *, case_id: str, code_id: int, actor: Actor) -> UploadCode:
    """Revoke a code of ``case_id`` (idempotent); commits."""
    row = session.get(UploadCode, code_id)
    if row is None or row.case_id != case_id:
        raise NotFound("No such upload code for this case.", field="code_id")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(
            session,
            actor=actor,
            action="imaging.upload_code.revoke",
            object_type="upload_code",
            object_id=row.id,
            case_id=case_id,
        )
    session.commit()
    return row


def find_live_code(session: Session, *, code: str) -> UploadCode | None:
    """The code's row if it is neither revoked nor expired; touches ``last_used_at`` (to
    within :data:`USE_RESOLUTION`: a burst of requests writes it once)."""
    row = session.scalars(select(UploadCode).where(UploadCode.code_hash == _hash(code))).first()
    now = utcnow()
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    if row.last_used_at is None or now - row.last_used_at >= USE_RESOLUTION:
        row.last_used_at = now
    return row
