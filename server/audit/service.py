"""Append audit events to the hash chain, verify the chain, export it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.event import listens_for
from sqlalchemy.orm import Session, SessionTransaction

from server.audit.models import AuditChainHead, AuditEvent, Outcome
from server.db import utcnow

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class Actor:
    """Who acts: a signed-in user, or nobody yet (a failed login), from where."""

    user_id: int | None = None
    username: str | None = None
    role: str | None = None
    client_addr: str | None = None


SYSTEM = Actor(username="system", role="system")

_HASHED_FIELDS = (
    "id",
    "at",
    "actor_id",
    "actor_name",
    "actor_role",
    "action",
    "object_type",
    "object_id",
    "case_id",
    "client_addr",
    "outcome",
    "detail",
    "prev_hash",
)


_COLUMNS = (*_HASHED_FIELDS, "hash")


def event_hash(event: AuditEvent) -> str:
    """SHA-256 over the canonical JSON of every field but the hash itself."""
    values = {name: getattr(event, name) for name in _HASHED_FIELDS}
    values["at"] = event.at.isoformat(timespec="microseconds")
    values["outcome"] = str(event.outcome)
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


_events = AuditEvent.__table__
_heads = AuditChainHead.__table__
#: The statements of an append, built once (compiled once, then cached by SQLAlchemy).
_READ_HEAD = select(_heads.c.last_event_id, _heads.c.last_hash).with_for_update()
_NEW_HEAD = insert(_heads)
_MOVE_HEAD = (
    update(_heads)
    .where(_heads.c.id == 1)
    .values(last_event_id=bindparam("new_id"), last_hash=bindparam("new_hash"))
)
_APPEND = insert(_events)


def _locked_head(connection: Connection) -> tuple[int, str]:
    """The newest event's id and hash, read with the head row locked (``FOR UPDATE``)."""
    row = connection.execute(_READ_HEAD).first()
    if row is None:
        connection.execute(_NEW_HEAD, {"id": 1, "last_event_id": 0, "last_hash": GENESIS_HASH})
        return 0, GENESIS_HASH
    return row.last_event_id, row.last_hash


@dataclass
class _Head:
    """The chain's head as one transaction leaves it, to be written when it commits."""

    transaction: SessionTransaction
    last_id: int
    last_hash: str
    moved: bool = False


_HEAD = "readroom.audit_head"


def _head_of(session: Session, connection: Connection) -> _Head:
    """The head as this transaction has it: read and locked by its first event, then
    kept, so that a transaction's further events neither read nor write the head row
    before it commits."""
    transaction = session.get_transaction()
    head = session.info.get(_HEAD)
    if head is None or head.transaction is not transaction:
        assert transaction is not None  # session.connection() began one
        head = session.info[_HEAD] = _Head(transaction, *_locked_head(connection))
    return head


@listens_for(Session, "before_commit")
def _move_head(session: Session) -> None:
    """Write the head the transaction's events moved, as part of the transaction."""
    head = session.info.pop(_HEAD, None)
    if head is not None and head.moved and head.transaction is session.get_transaction():
        session.connection().execute(
            _MOVE_HEAD, {"new_id": head.last_id, "new_hash": head.last_hash}
        )


def record_event(
    session: Session,
    *,
    actor: Actor,
    action: str,
    outcome: Outcome = Outcome.SUCCESS,
    object_type: str | None = None,
    object_id: str | int | None = None,
    case_id: str | None = None,
    detail: str | None = None,
) -> AuditEvent:
    """Append one event in the caller's transaction (the caller commits); the event is
    returned as written, detached from the session.

    ``detail`` is for codes and reasons, never patient data. Written with plain
    statements, not through the unit of work: appends are on every request's path. The
    chain's head row is read once per transaction and written once, as it commits.
    """
    session.flush()  # the caller's pending changes first, as they happened
    connection = session.connection()
    head = _head_of(session, connection)
    event = AuditEvent(
        id=head.last_id + 1,
        at=utcnow(),
        actor_id=actor.user_id,
        actor_name=actor.username,
        actor_role=actor.role,
        action=action,
        object_type=object_type,
        object_id=None if object_id is None else str(object_id),
        case_id=case_id,
        client_addr=actor.client_addr,
        outcome=outcome,
        detail=detail,
        prev_hash=head.last_hash,
    )
    event.hash = event_hash(event)
    connection.execute(_APPEND, {name: getattr(event, name) for name in _COLUMNS})
    head.last_id, head.last_hash, head.moved = event.id, event.hash, True
    return event


def record_case_event(
    session: Session, *, actor: Actor, action: str, case_id: str, detail: str | None = None
) -> AuditEvent:
    """Append one event about a case as a whole (the case is its object); the caller commits."""
    return record_event(
        session,
        actor=actor,
        action=action,
        object_type="case",
        object_id=case_id,
        case_id=case_id,
        detail=detail,
    )


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_chain(session: Session) -> ChainReport:
    """Walk the chain from the first event: names every altered, deleted or inserted row."""
    problems: list[str] = []
    expected_id, prev_hash, checked = 1, GENESIS_HASH, 0
    for event in session.scalars(select(AuditEvent).order_by(AuditEvent.id)).yield_per(1000):
        checked += 1
        if event.id > expected_id:
            gap = (
                f"event {expected_id}"
                if event.id == expected_id + 1
                else f"events {expected_id}-{event.id - 1}"
            )
            problems.append(f"{gap} deleted (missing before event {event.id})")
        elif event.id < expected_id:
            problems.append(f"event {event.id} inserted out of order")
        if event.prev_hash != prev_hash:
            problems.append(
                f"event {event.id}: does not link to event {expected_id - 1} "
                "(one of them was altered, or an event between them deleted or inserted)"
                if expected_id > 1
                else f"event {event.id}: does not start the chain (altered or inserted)"
            )
        if event_hash(event) != event.hash:
            problems.append(
                f"event {event.id}: contents do not match its hash (altered or inserted)"
            )
        expected_id, prev_hash = event.id + 1, event.hash
    head = session.execute(select(AuditChainHead.last_event_id, AuditChainHead.last_hash)).first()
    last_id = expected_id - 1
    if head is not None and (head.last_event_id, head.last_hash) != (last_id, prev_hash):
        if head.last_event_id > last_id:
            missing = (
                f"event {head.last_event_id}"
                if head.last_event_id == last_id + 1
                else f"events {last_id + 1}-{head.last_event_id}"
            )
            problems.append(f"{missing} deleted (the newest events are missing)")
        else:
            problems.append(f"event {last_id}: not the chain head (inserted after the last event)")
    return ChainReport(checked=checked, problems=problems)


def iter_events(session: Session, *, since: datetime | None = None) -> Iterator[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.id)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    yield from session.scalars(query).yield_per(1000)


def case_events(session: Session, *, case_id: str) -> list[AuditEvent]:
    """Every event about one case, oldest first."""
    query = select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)
    return list(session.scalars(query))


def export_events(session: Session, out: IO[str], *, since: datetime | None = None) -> int:
    """Write events as JSON lines; returns how many."""
    count = 0
    for event in iter_events(session, since=since):
        row = {name: getattr(event, name) for name in _COLUMNS}
        row["at"] = event.at.isoformat()
        row["outcome"] = str(event.outcome)
        out.write(json.dumps(row, sort_keys=True) + "\n")
        count += 1
    return count
