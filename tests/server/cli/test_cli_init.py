"""``readroom-server init`` on an empty data directory (SQLite)."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect

from server.cli import context, main
from server.config import get_settings
from server.migrate import MIGRATIONS_DIR

HAS_MIGRATIONS = any((MIGRATIONS_DIR / "versions").glob("*.py"))


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    data = tmp_path / "new" / "data"
    monkeypatch.delenv("READROOM_DATABASE_URL", raising=False)
    monkeypatch.setenv("READROOM_DATA_DIR", str(data))
    get_settings.cache_clear()
    context.engine.cache_clear()
    yield data
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    get_settings.cache_clear()
    context.engine.cache_clear()


@pytest.mark.skipif(
    not HAS_MIGRATIONS, reason="server/migrations/versions has no revision yet (the lead adds it)"
)
def test_init_creates_the_data_dir_key_and_schema(
    data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init"]) == 0
    out = capsys.readouterr().out
    assert "data directory ready" in out
    key = data_dir / "blob.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert len(key.read_bytes()) == 32
    assert (data_dir / "blobs").is_dir()
    engine = create_engine(f"sqlite:///{data_dir / 'readroom.db'}")
    tables = set(inspect(engine).get_table_names())
    engine.dispose()
    assert {"alembic_version", "user_account", "api_token", "audit_event"} <= tables

    # a second run keeps the key and is a no-op for the schema
    before = key.read_bytes()
    assert main(["init"]) == 0
    assert key.read_bytes() == before
    assert main(["audit", "verify"]) == 0
    assert "audit chain intact: 2 events" in capsys.readouterr().out
