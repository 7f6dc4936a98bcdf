"""The audit chain verifies, and names the event when a row is altered, deleted or inserted
behind the service's back (plain SQL), on both engines."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.audit.models import AuditEvent
from server.audit.service import SYSTEM, Actor, event_hash, record_event, verify_chain


@pytest.fixture
def chain(db: Session) -> Session:
    """Five events, committed."""
    for n in range(1, 6):
        record_event(
            db,
            actor=Actor(user_id=n, username=f"user{n}", role="admin", client_addr="192.0.2.7"),
            action="user.add",
            object_type="user",
            object_id=n,
        )
    db.commit()
    return db


def _problems(db: Session) -> list[str]:
    db.commit()
    db.expire_all()
    report = verify_chain(db)
    db.commit()
    return report.problems


def test_intact_chain_verifies(chain: Session) -> None:
    report = verify_chain(chain)
    assert report.ok, report.problems
    assert report.checked == 5


def test_empty_chain_verifies(db: Session) -> None:
    assert verify_chain(db).ok


def test_altered_row_is_named(chain: Session) -> None:
    chain.execute(text("UPDATE audit_event SET actor_name = 'someone-else' WHERE id = 3"))
    problems = _problems(chain)
    assert problems == ["event 3: contents do not match its hash (altered or inserted)"]


def test_altered_and_rehashed_row_breaks_the_next_link(chain: Session) -> None:
    event = chain.get(AuditEvent, 3)
    assert event is not None
    event.detail = "rewritten"
    forged = event_hash(event)
    chain.rollback()
    chain.execute(
        text("UPDATE audit_event SET detail = 'rewritten', hash = :h WHERE id = 3"), {"h": forged}
    )
    problems = _problems(chain)
    assert problems == [
        "event 4: does not link to event 3 "
        "(one of them was altered, or an event between them deleted or inserted)"
    ]


def test_deleted_middle_row_is_named(chain: Session) -> None:
    chain.execute(text("DELETE FROM audit_event WHERE id = 3"))
    problems = _problems(chain)
    assert problems[0] == "event 3 deleted (missing before event 4)"
    assert any(p.startswith("event 4: does not link to event 2") for p in problems)


def test_deleted_last_row_is_named(chain: Session) -> None:
    chain.execute(text("DELETE FROM audit_event WHERE id = 5"))
    assert _problems(chain) == ["event 5 deleted (the newest events are missing)"]


def test_deleted_last_rows_are_named(chain: Session) -> None:
    chain.execute(text("DELETE FROM audit_event WHERE id >= 4"))
    assert _problems(chain) == ["events 4-5 deleted (the newest events are missing)"]


def test_deleted_first_row_is_named(chain: Session) -> None:
    chain.execute(text("DELETE FROM audit_event WHERE id = 1"))
    problems = _problems(chain)
    assert problems[0] == "event 1 deleted (missing before event 2)"


def test_row_inserted_at_the_end_is_named(chain: Session) -> None:
    chain.execute(
        text(
            "INSERT INTO audit_event (id, at, action, outcome, prev_hash, hash) "
            "SELECT 6, at, 'user.add', 'success', hash, :h FROM audit_event WHERE id = 5"
        ),
        {"h": "f" * 64},
    )
    problems = _problems(chain)
    assert "event 6: contents do not match its hash (altered or inserted)" in problems
    assert "event 6: not the chain head (inserted after the last event)" in problems


def test_row_inserted_with_a_forged_hash_is_named(chain: Session) -> None:
    """Even a forger who computes a valid hash is caught by the chain head."""
    last = chain.get(AuditEvent, 5)
    assert last is not None
    fake = AuditEvent(
        id=6,
        at=last.at,
        action="user.add",
        outcome=last.outcome,
        actor_name="intruder",
        prev_hash=last.hash,
    )
    forged = event_hash(fake)
    chain.rollback()
    chain.execute(
        text(
            "INSERT INTO audit_event (id, at, actor_name, action, outcome, prev_hash, hash) "
            "SELECT 6, at, 'intruder', 'user.add', outcome, hash, :h FROM audit_event WHERE id = 5"
        ),
        {"h": forged},
    )
    assert _problems(chain) == ["event 6: not the chain head (inserted after the last event)"]


def test_row_inserted_out_of_sequence_is_named(chain: Session) -> None:
    chain.execute(
        text(
            "INSERT INTO audit_event (id, at, action, outcome, prev_hash, hash) "
            "SELECT 9, at, 'user.add', 'success', hash, :h FROM audit_event WHERE id = 5"
        ),
        {"h": "e" * 64},
    )
    problems = _problems(chain)
    assert problems[0] == "events 6-8 deleted (missing before event 9)"
    assert any(p.startswith("event 9:") for p in problems)


def test_appending_after_verification_keeps_the_chain(chain: Session) -> None:
    record_event(chain, actor=SYSTEM, action="audit.verify")
    chain.commit()
    assert verify_chain(chain).ok
    assert chain.scalars(select(AuditEvent.id).order_by(AuditEvent.id.desc())).first() == 6


def _append(db: Session, n: int) -> None:
    record_event(db, actor=SYSTEM, action="test.event", object_type="test", object_id=n)


def test_events_of_one_transaction_chain_and_move_the_head_once(chain: Session) -> None:
    """Three events in one transaction link to each other, and the head row names the
    last of them once the transaction commits."""
    for n in range(3):
        _append(chain, n)
    chain.commit()
    head = chain.execute(text("SELECT last_event_id FROM audit_chain_head")).scalar_one()
    assert head == 8
    assert _problems(chain) == []


def test_events_of_a_rolled_back_transaction_leave_no_gap(chain: Session) -> None:
    """Events whose transaction is rolled back are gone, and the next transaction's
    events continue the chain from the head as it was."""
    _append(chain, 1)
    _append(chain, 2)
    chain.rollback()
    _append(chain, 3)
    chain.commit()
    ids = chain.scalars(select(AuditEvent.id).order_by(AuditEvent.id)).all()
    assert ids == [1, 2, 3, 4, 5, 6]
    assert _problems(chain) == []


def test_a_transaction_without_events_leaves_the_head_alone(chain: Session) -> None:
    _append(chain, 1)
    chain.rollback()
    chain.execute(text("SELECT 1"))
    chain.commit()  # the head read by the rolled-back event is not written back
    head = chain.execute(text("SELECT last_event_id FROM audit_chain_head")).scalar_one()
    assert head == 5
    _append(chain, 2)
    chain.commit()
    assert _problems(chain) == []
