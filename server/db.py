"""Declarative base with a naming convention, engines and sessions."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import DateTime, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}  # noqa: RUF012


def utcnow() -> datetime:
    return datetime.now(UTC)


#: Seconds a SQLite transaction waits for the write lock before failing.
SQLITE_BUSY_TIMEOUT = 30.0


def json_dumps(value: Any) -> str:
    """JSON columns' serializer: orjson (an instance's DICOM JSON model in a tenth of the
    time), or the standard library for what orjson refuses (integers past 64 bits)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine; SQLite gets WAL, foreign keys and a busy timeout on every connection."""
    kwargs.setdefault("json_serializer", json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        kwargs.setdefault(
            "connect_args", {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT}
        )
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        # Take over from pysqlite: IMMEDIATE makes writers queue on the lock instead of failing
        # with SQLITE_BUSY_SNAPSHOT when a read-then-write transaction races another writer.
        event.listen(engine, "begin", _begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


#: Execution option of a transaction that reads (see :func:`begin_reading`).
READING = "readroom_reading"


def begin_reading(session: Session) -> None:
    """Begin the session's transaction as one that reads, writing at most a trifle.

    On SQLite it begins DEFERRED: it reads a WAL snapshot without waiting for the write
    lock, and holds up no writer. A write in it takes the lock only then, and fails
    (``OperationalError``) if another writer committed since the snapshot — so write only
    what may be lost, such as a last-seen time. Call before the transaction's first
    statement (within a transaction already begun it changes nothing). Elsewhere
    (PostgreSQL) it changes nothing.
    """
    if not session.in_transaction():
        session.connection(execution_options={READING: True})


def _begin(conn: Any) -> None:
    dbapi_connection = conn.connection.dbapi_connection
    if conn.get_execution_options().get(READING):
        dbapi_connection.execute("BEGIN DEFERRED")
    else:
        _begin_immediate(dbapi_connection)


def _begin_immediate(dbapi_connection: Any) -> None:
    """``BEGIN IMMEDIATE``, polling for the write lock every 0.5–2 ms.

    SQLite's own busy handler sleeps 1, 2, 5, 10 … up to 100 ms between tries, so a
    writer often sleeps long after a short transaction has ended: with four concurrent
    STOW-RS clients, waits of 200 ms for a 10 ms transaction. The busy timeout is off
    for this statement only; after :data:`SQLITE_BUSY_TIMEOUT` seconds the error is
    raised as before.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT
    attempt = 0
    dbapi_connection.execute("PRAGMA busy_timeout = 0")
    try:
        while True:
            try:
                dbapi_connection.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                busy = (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
            attempt += 1
            time.sleep(min(0.002, 0.0005 * attempt))
    finally:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(SQLITE_BUSY_TIMEOUT * 1000)}")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def session_scope(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session that rolls back on error and always closes; the caller commits."""
    session = factory()
    try:
        yield session
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
