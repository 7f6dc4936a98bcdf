"""The embedded database: SQLite in WAL mode with foreign keys enforced; UTC timestamps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError, StatementError

from server.accounts.models import ApiToken
from server.audit.models import AuditEvent, Outcome
from server.audit.service import SYSTEM, record_event
from server.db import begin_reading, json_dumps, make_engine, make_sessionmaker, utcnow
from server.tables import Base


@pytest.fixture
def sqlite_engine(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    Base.metadata.create_all(engine)
    yield engine
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(sqlite_engine) -> None:
    with sqlite_engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_foreign_keys_are_enforced(sqlite_engine) -> None:
    session = make_sessionmaker(sqlite_engine)()
    session.add(ApiToken(user_id=999, token_hash="0" * 64, expires_at=utcnow()))
    with pytest.raises(IntegrityError):
        session.commit()
    session.close()


def _event(*, at: datetime) -> AuditEvent:
    return AuditEvent(id=1, at=at, action="test", outcome=Outcome.SUCCESS, prev_hash="0", hash="1")


def test_timestamps_are_stored_and_returned_in_utc(sqlite_engine) -> None:
    toronto = timezone(timedelta(hours=-5))
    session = make_sessionmaker(sqlite_engine)()
    session.add(_event(at=datetime(2026, 11, 30, 9, 0, tzinfo=toronto)))
    session.commit()
    session.expunge_all()
    stored = session.scalars(select(AuditEvent)).one()
    assert stored.at == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    assert stored.at.tzinfo is UTC
    session.close()


def test_naive_timestamps_are_refused(sqlite_engine) -> None:
    session = make_sessionmaker(sqlite_engine)()
    session.add(_event(at=datetime(2026, 11, 30, 9, 0)))
    with pytest.raises(StatementError, match="naive datetime"):
        session.commit()
    session.close()


def test_json_columns_take_what_orjson_refuses() -> None:
    """An integer past 64 bits (a DICOM IS value can be one) still round-trips."""
    value = {"00181150": {"vr": "IS", "Value": [2**70]}, "name": "Hôpital"}
    assert json.loads(json_dumps(value)) == value
    assert json_dumps({"a": 1}) == '{"a":1}'


def test_a_reading_transaction_neither_waits_for_nor_blocks_a_writer(sqlite_engine) -> None:
    """STOW-RS authenticates in one while another upload commits (SQLite's write lock)."""
    factory = make_sessionmaker(sqlite_engine)
    with factory() as writer, factory() as reader:
        record_event(writer, actor=SYSTEM, action="test.write")  # BEGIN IMMEDIATE: the lock
        begin_reading(reader)
        assert reader.scalar(select(func.count()).select_from(AuditEvent)) == 0  # no wait
        writer.commit()  # the reader's snapshot holds up no writer
        assert reader.scalar(select(func.count()).select_from(AuditEvent)) == 0
        reader.rollback()
        begin_reading(reader)
        assert reader.scalar(select(func.count()).select_from(AuditEvent)) == 1
