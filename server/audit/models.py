"""The audit table and the single-row chain head that serialises appends."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Enum, String
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base, utcnow


def _values(enum: type[StrEnum]) -> list[str]:
    """Store an enum's values ("patient"), not its member names, so SQL reads naturally."""
    return [member.value for member in enum]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEvent(Base):
    """One thing someone did. Never updated or deleted; ``hash`` chains it to its predecessor."""

    __tablename__ = "audit_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(default=None)
    actor_name: Mapped[str | None] = mapped_column(String(64), default=None)
    actor_role: Mapped[str | None] = mapped_column(String(16), default=None)
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str | None] = mapped_column(String(32), default=None)
    object_id: Mapped[str | None] = mapped_column(String(128), default=None)
    case_id: Mapped[str | None] = mapped_column(String(32), default=None, index=True)
    client_addr: Mapped[str | None] = mapped_column(String(64), default=None)
    outcome: Mapped[Outcome] = mapped_column(
        Enum(Outcome, native_enum=False, length=16, values_callable=_values)
    )
    detail: Mapped[str | None] = mapped_column(String(500), default=None)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """Exactly one row: the newest event. Locking it serialises appends across processes,
    and comparing it with the table reveals a deleted last event."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_event_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
