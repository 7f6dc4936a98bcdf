"""The workstation's HTTP client and app against the real server over loopback.

Lives under tests/server for the ``live_server``, ``db`` and account fixtures (run on
SQLite and PostgreSQL). Synthetic patients only.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.db import utcnow
from tests.server.factories import DEFAULT_PASSWORD, Account, add_user
from tests.server.imaging.dicomweb_support import StoredStudy, add_case, ct_study, store_study
from tests.workstation.fakes import settle
from workstation.app import make_app
from workstation.client import LoginRefused, NotSignedIn, ReadroomClient, ServerUnreachable
from workstation.config import Settings
from workstation.credentials import MemoryTokenStore
from workstation.screens.worklist import WorklistScreen
from workstation.services import Services, VolumeStore


@pytest.fixture
def study(db: Session, live_app: FastAPI, patient: Account, radiologist: Account) -> StoredStudy:
    """A small CT in a case assigned to ``radiologist``."""
    case = add_case(db, patient_id=patient.id, radiologist_id=radiologist.id)
    stored = store_study(db, live_app.state.blobs, case_id=case.id, datasets=ct_study(slices=4))
    case.study_instance_uid = stored.study_uid
    case.modality, case.study_description = "CT", "CT CHEST ABDOMEN WITH CONTRAST"
    db.commit()
    return stored


def test_login_me_logout(db: Session, live_server: str) -> None:
    user = add_user(db, role=Role.RADIOLOGIST)
    user.totp_secret, user.totp_confirmed_at = pyotp.random_base32(), utcnow()
    db.commit()
    client = ReadroomClient(live_server)
    sign_in = client.login(user.username, DEFAULT_PASSWORD, pyotp.TOTP(user.totp_secret).now())
    assert sign_in.user.username == user.username
    assert client.me().id == user.id
    client.logout()
    client.token = sign_in.token
    with pytest.raises(NotSignedIn):
        client.me()


def test_wrong_password_is_refused_with_the_servers_words(db: Session, live_server: str) -> None:
    user = add_user(db, role=Role.RADIOLOGIST)
    db.commit()
    with pytest.raises(LoginRefused) as caught:
        ReadroomClient(live_server).login(user.username, "not the password", "000000")
    assert caught.value.message
    assert "Traceback" not in caught.value.message


def test_unreachable_server() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(ServerUnreachable, match="Cannot reach"):
        ReadroomClient(f"http://127.0.0.1:{port}", timeout=5).worklist()


def test_worklist_open_reading_and_images(
    live_server: str, radiologist: Account, study: StoredStudy
) -> None:
    client = ReadroomClient(live_server, token=radiologist.token)
    items = client.worklist()
    assert [i.id for i in items] == [study.case_id]
    assert client.open_case(study.case_id).holder_id == radiologist.id
    client.heartbeat(study.case_id)
    reading = client.reading(study.case_id)
    assert reading.study_instance_uid == study.study_uid
    series = client.series(study.study_uid)
    assert [s.series_instance_uid for s in series] == study.series_uids()
    axial = series[1].series_instance_uid
    datasets = client.retrieve_series(study.study_uid, axial)
    assert sorted(str(d.SOPInstanceUID) for d in datasets) == sorted(
        str(d.SOPInstanceUID) for d in study.of_series(axial)
    )
    volumes = VolumeStore(client)
    volume = volumes.load(study.study_uid, axial)
    assert volume.count == 4
    assert volumes.load(study.study_uid, axial) is volume  # cached: fetched once
    assert volumes.fetched == [axial]
    volumes.close()


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


@pytest.fixture
def stoppable_server(live_app: FastAPI) -> Iterator[tuple[str, _Server, threading.Thread]]:
    """A second server of the same app that a test may stop."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = _Server(uvicorn.Config(live_app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    assert server.ready.wait(30)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}", server, thread
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.mark.anyio
async def test_server_going_away_is_a_notification(
    stoppable_server, radiologist: Account, study: StoredStudy, tmp_path: Path
) -> None:
    url, server, thread = stoppable_server
    client = ReadroomClient(url, token=radiologist.token, timeout=5)
    services = Services(client=client, tokens=MemoryTokenStore(), volumes=VolumeStore(client))
    settings = Settings(server_url=url, token=radiologist.token, data_dir=tmp_path)
    app = make_app(settings, services)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, WorklistScreen)
        assert [c.id for c in screen.table.cases] == [study.case_id]
        server.should_exit = True
        thread.join(10)
        await pilot.press("r")
        await settle(pilot)
        assert app.screen is screen
        messages = [n.message for n in app._notifications]
        assert any(m.startswith("Cannot reach the server") for m in messages), messages
        assert [c.id for c in screen.table.cases] == [study.case_id]  # nothing lost
    services.close()
