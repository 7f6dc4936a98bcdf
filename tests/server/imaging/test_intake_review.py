"""``readroom-server review``: objects of a different patient, held back, then resolved."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from server.cli import context, main
from server.cli import imaging as imaging_cli
from server.config import Settings
from server.imaging.models import FlagState, IngestFlag, Instance
from tests.server.factories import Account
from tests.server.imaging.intake_support import OTHER_PATIENT, add_case, ct, stow_body, to_bytes


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch, engine: Engine, settings: Settings) -> None:
    monkeypatch.setattr(context, "engine", lambda: engine)
    monkeypatch.setattr(imaging_cli, "settings", lambda: settings)


def test_list_accept_and_discard(
    cli: None, patient: Account, db: Session, capsys: pytest.CaptureFixture[str]
) -> None:
    case = add_case(db, patient_id=patient.id)
    case_id = case.id
    others = [to_bytes(ds) for ds in ct(patient=OTHER_PATIENT, slices=2, seed=11)]
    body, content_type = stow_body(others)
    response = patient.http.post(
        "/dicomweb/studies",
        content=body,
        params={"case_id": case_id},
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 409
    flags = db.scalars(select(IngestFlag).order_by(IngestFlag.id)).all()
    first, second = flags[0].id, flags[1].id
    db.commit()

    assert main(["review", "list"]) == 0
    listed = capsys.readouterr().out
    assert "OTHERSON^JORDAN" in listed
    assert case_id in listed

    assert main(["review", "accept", str(first)]) == 0
    assert main(["review", "discard", str(second)]) == 0
    assert main(["review", "accept", str(second)]) == 2  # already resolved
    assert "already discarded" in capsys.readouterr().err

    db.expire_all()
    assert db.get(IngestFlag, first).state is FlagState.ACCEPTED
    assert db.get(IngestFlag, second).state is FlagState.DISCARDED
    assert db.scalar(select(func.count()).select_from(Instance)) == 1
    assert db.get(type(case), case_id).images_accepted_count == 1
