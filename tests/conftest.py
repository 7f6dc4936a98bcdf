"""Shared fixtures: the database engines (SQLite and PostgreSQL), a live server over loopback.

Every server test runs twice, once per engine (``db_url`` is parametrised). PostgreSQL
tests get a fresh database for the run, dropped after. Where PostgreSQL cannot be
reached they are skipped with the reason shown, unless ``READROOM_REQUIRE_POSTGRES=1``
(set by ``.ci/run``), which turns that skip into a failure.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.orm import Session

from server.app import create_app
from server.config import Settings
from server.db import make_engine, make_sessionmaker
from server.tables import Base

PG_ADMIN_URL = os.environ.get(
    "READROOM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REQUIRE_POSTGRES = os.environ.get("READROOM_REQUIRE_POSTGRES") == "1"


def fresh_postgres_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for the caller, dropped afterwards."""
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            name = f"readroom_test_{os.getpid()}_{secrets.token_hex(3)}"
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as error:
        admin.dispose()
        reason = f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(error).__name__}"
        if REQUIRE_POSTGRES:
            pytest.fail(reason + " (READROOM_REQUIRE_POSTGRES=1)")
        pytest.skip(reason)
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session", params=["sqlite", "postgresql"])
def db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """The database URL of this run's engine, with the schema created."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("sqlite") / "readroom.db"
        url = f"sqlite:///{path}"
        _create_schema(url)
        yield url
        return
    for url in fresh_postgres_database():
        _create_schema(url)
        yield url


def _create_schema(url: str) -> None:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    engine.dispose()


@pytest.fixture(scope="session")
def _engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _empty_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def engine(_engine: Engine) -> Iterator[Engine]:
    """The engine, with every table emptied after the test."""
    yield _engine
    _empty_tables(_engine)


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session on the test database for arranging and checking state directly."""
    session = make_sessionmaker(engine)()
    yield session
    session.close()


@pytest.fixture(scope="session")
def _server_settings(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data_dir = tmp_path_factory.mktemp("data")
    (data_dir / "blobs").mkdir()
    key_file = data_dir / "blob.key"
    key_file.write_bytes(secrets.token_bytes(32))
    key_file.chmod(0o600)
    return Settings(data_dir=data_dir, database_url=db_url)


class _Server(uvicorn.Server):
    """uvicorn that tells a waiting test when it is listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture(scope="session")
def live_app(_server_settings: Settings, _engine: Engine) -> FastAPI:
    """The application object behind ``live_server`` (for its state and settings)."""
    return create_app(_server_settings, engine=_engine)


@pytest.fixture(scope="session")
def live_server(live_app: FastAPI) -> Iterator[str]:
    """The real app over real HTTP on a free loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(live_app, log_level="warning", access_log=False, lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        pytest.fail("the test server did not start")
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture
def settings(live_app: FastAPI, engine: Engine) -> Settings:
    """The live server's settings; change them with ``monkeypatch.setattr`` in a test."""
    return live_app.state.settings


@pytest.fixture
def client(live_server: str, engine: Engine) -> Iterator[httpx.Client]:
    """An anonymous HTTP client of the live server (tables emptied after the test)."""
    with httpx.Client(base_url=live_server, timeout=30) as http:
        yield http


@pytest.fixture
def data_dir(_server_settings: Settings) -> Path:
    return _server_settings.data_dir
