"""``readroom-server audit verify | export``."""

from __future__ import annotations

import json

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.service import Actor, record_event
from tests.server.cli.conftest import Cli


def _events(db: Session, count: int) -> None:
    for n in range(count):
        record_event(db, actor=Actor(username="tester", role="admin"), action=f"test.{n}")
    db.commit()


def test_verify_intact_chain(cli: Cli, db: Session) -> None:
    _events(db, 3)
    run = cli("audit", "verify")
    assert run.status == 0, run
    assert run.out.strip() == "audit chain intact: 3 events"
    # the verification is itself audited, and the chain still holds
    assert db.scalars(select(AuditEvent.action).where(AuditEvent.id == 4)).one() == "audit.verify"
    db.commit()
    assert cli("audit", "verify").out.strip() == "audit chain intact: 4 events"


def test_verify_names_an_altered_event(cli: Cli, db: Session) -> None:
    _events(db, 3)
    db.execute(text("UPDATE audit_event SET action = 'test.other' WHERE id = 2"))
    db.commit()
    run = cli("audit", "verify")
    assert run.status == 2
    assert run.err_lines == [
        "readroom-server: audit chain broken: "
        "event 2: contents do not match its hash (altered or inserted)"
    ]


def test_verify_names_a_deleted_last_event(cli: Cli, db: Session) -> None:
    _events(db, 3)
    db.execute(text("DELETE FROM audit_event WHERE id = 3"))
    db.commit()
    run = cli("audit", "verify")
    assert run.status == 2
    assert run.err_lines == [
        "readroom-server: audit chain broken: event 3 deleted (the newest events are missing)"
    ]


def test_export_since(cli: Cli, db: Session) -> None:
    _events(db, 2)
    db.execute(text("UPDATE audit_event SET at = :at WHERE id = 1"), {"at": "2020-01-01"})
    db.commit()
    run = cli("audit", "export", "--since", "2021-01-01")
    assert run.status == 0, run
    rows = [json.loads(line) for line in run.out.splitlines()]
    assert [r["action"] for r in rows] == ["test.1"]
    assert set(rows[0]) >= {"id", "at", "actor_name", "action", "outcome", "prev_hash", "hash"}
    last = db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert last is not None
    assert (last.action, last.detail) == ("audit.export", "since=2021-01-01 events=1")
    db.commit()


def test_export_refuses_a_bad_date(cli: Cli) -> None:
    run = cli("audit", "export", "--since", "yesterday")
    assert run.status == 2
    assert len(run.err_lines) == 1
    assert "not a date" in run.err
