"""``init`` and ``db upgrade``: the data directory, the blob key and the schema."""

from __future__ import annotations

import argparse

from sqlalchemy import inspect
from sqlalchemy.exc import OperationalError

from server import migrate
from server.audit.models import AuditEvent
from server.audit.service import record_event
from server.cli.context import CONSOLE_ACTOR, CliError, db_session, engine, settings
from server.storage import create_key


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="create the data directory, the blob key and the schema")
    init.set_defaults(func=run_init)
    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, parser_class=type(db))
    db_sub.add_parser("upgrade", help="apply pending migrations").set_defaults(func=run_upgrade)


def run_init(_args: argparse.Namespace) -> int:
    config = settings()
    config.data_dir.mkdir(parents=True, exist_ok=True)
    config.blob_dir.mkdir(exist_ok=True)
    if create_key(config.key_file):
        print(f"created the blob encryption key {config.key_file} (mode 0600); back it up")
    _upgrade()
    _record("init")
    print(f"data directory ready: {config.data_dir.resolve()}")
    return 0


def run_upgrade(_args: argparse.Namespace) -> int:
    _upgrade()
    _record("db.upgrade")
    return 0


def _upgrade() -> None:
    try:
        migrate.upgrade(settings().sqlalchemy_url)
    except OperationalError as error:
        raise CliError(f"cannot reach the database: {type(error.orig).__name__}") from None
    print("database schema is up to date")


def _record(action: str) -> None:
    """Audit the command, once the schema holds the audit table (no migrations, no table)."""
    if not inspect(engine()).has_table(AuditEvent.__tablename__):
        return
    with db_session() as session:
        record_event(session, actor=CONSOLE_ACTOR, action=action)
        session.commit()
