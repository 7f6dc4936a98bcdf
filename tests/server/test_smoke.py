"""The server answers over real HTTP on both engines, and the audit chain holds."""

from __future__ import annotations

import httpx
from sqlalchemy.orm import Session

from server.audit.service import SYSTEM, record_event, verify_chain


def test_health_over_loopback(client: httpx.Client) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_unknown_route_is_a_problem(client: httpx.Client) -> None:
    response = client.get("/no-such-thing")
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == 404


def test_audit_chain_of_three_verifies(db: Session) -> None:
    for action in ("a", "b", "c"):
        record_event(db, actor=SYSTEM, action=action)
    db.commit()
    report = verify_chain(db)
    assert report.ok, report.problems
    assert report.checked == 3
