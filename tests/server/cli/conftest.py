"""Run ``readroom-server`` in-process against the test database of this engine."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine

from server.cli import context, main
from server.config import get_settings
from tests.server.accounts.hashing import use_cheap_argon2


@dataclass(frozen=True)
class Run:
    """What one command did: its exit status and what it printed."""

    status: int
    out: str
    err: str

    @property
    def err_lines(self) -> list[str]:
        return self.err.splitlines()


Cli = Callable[..., Run]


def _fresh_config() -> None:
    get_settings.cache_clear()
    context.engine.cache_clear()


@pytest.fixture
def cli_env(
    db_url: str, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[dict[str, str]]:
    """READROOM_* pointing at the test database (tables emptied after the test)."""
    use_cheap_argon2(monkeypatch)
    env = {"READROOM_DATABASE_URL": db_url, "READROOM_DATA_DIR": str(tmp_path / "data")}
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    _fresh_config()
    yield env
    if context.engine.cache_info().currsize:
        context.engine().dispose()
    _fresh_config()


@pytest.fixture
def cli(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Cli:
    """``cli("user", "list", stdin="...")`` -> :class:`Run`; stdin is a pipe, never a tty."""

    def run(*argv: str, stdin: str = "") -> Run:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        capsys.readouterr()
        try:
            status = main(list(argv))
        except SystemExit as stop:  # argparse: usage errors and --help
            status = stop.code if isinstance(stop.code, int) else 2
        out, err = capsys.readouterr()
        return Run(status=status, out=out, err=err)

    return run
