"""What every command needs: settings, a database session, prompts and one-line errors."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session

from server.audit.service import Actor
from server.config import Settings, get_settings
from server.db import make_engine, make_sessionmaker
from server.problems import Problem
from server.storage import BlobStore

#: The audit actor for admin commands run at the server's console.
CONSOLE_ACTOR = Actor(username=getpass.getuser(), role="admin", client_addr="console")


class CliError(Exception):
    """A failed command: one line on stderr, exit status 2."""


def settings() -> Settings:
    return get_settings()


@lru_cache(maxsize=1)
def engine() -> Engine:
    return make_engine(settings().sqlalchemy_url)


def blob_store(config: Settings) -> BlobStore:
    """The blob store ``config`` names; :class:`CliError` until ``init`` has made the key."""
    from server.app import open_blob_store  # the app's imports only for commands that need them

    if not config.key_file.exists():
        raise CliError(f"no blob key at {config.key_file}: run 'readroom-server init' first")
    return open_blob_store(config)


@contextmanager
def db_session() -> Iterator[Session]:
    """A session whose domain errors become :class:`CliError`; the command commits."""
    session = make_sessionmaker(engine())()
    try:
        yield session
    except Problem as problem:
        session.rollback()
        raise CliError(problem.detail) from None
    except (OperationalError, ProgrammingError) as error:
        session.rollback()
        raise CliError(
            f"cannot use the database ({type(error.orig).__name__}); "
            "run 'readroom-server init' first or check READROOM_DATABASE_URL"
        ) from None
    finally:
        session.close()


def print_table(rows: Sequence[Sequence[str]]) -> None:
    """Print ``rows`` (the first is the header) as left-aligned columns two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def prompt_secret(label: str, *, confirm: bool = True) -> str:
    """Ask for a secret without echo (or read one line from a pipe), never from argv."""
    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise CliError(f"{label.lower()} expected on standard input")
        return line.rstrip("\n")
    first = getpass.getpass(f"{label}: ")
    if confirm and getpass.getpass(f"{label} (again): ") != first:
        raise CliError(f"the two {label.lower()} entries differ")
    return first
