"""An in-memory stand-in for the Readroom server, served to the real client via httpx.MockTransport.

Speaks the same wire format as the server (JSON bodies, RFC 9457 problems,
DICOM JSON, multipart/related WADO-RS), so the workstation's real
:class:`~workstation.client.ReadroomClient` is exercised end to end without
a network. Synthetic patients only.
"""

from __future__ import annotations

import contextlib
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pyotp
from pydicom.dataset import Dataset
from textual.worker import WorkerFailed

from server.imaging.synthetic import make_ct_study, make_mr_study, to_bytes
from workstation.client import ReadroomClient
from workstation.config import Settings
from workstation.credentials import MemoryTokenStore
from workstation.services import Services, VolumeStore

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BOUNDARY = "readroom-test-boundary"
PASSWORD = "correct horse battery staple 42"
TOTP = "123456"


def problem(status: int, title: str, detail: str, field: str | None = None) -> httpx.Response:
    body: dict[str, Any] = {
        "type": f"https://readroom.example/problems/{title.lower().replace(' ', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
    }
    if field:
        body["field"] = field
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def case_json(
    case_id: str,
    *,
    priority: str = "routine",
    due_in: timedelta = timedelta(days=3),
    modality: str = "CT",
    body_part: str = "CHEST",
    study: str = "CT CHEST ABDOMEN WITH CONTRAST",
    age: int = 54,
    sex: str = "F",
    question: str = "Nodule follow-up",
    images: int = 41,
    study_uid: str | None = None,
) -> dict[str, Any]:
    return {
        "id": case_id,
        "priority": priority,
        "status": "assigned",
        "assigned_at": (NOW - timedelta(days=1)).isoformat(),
        "due_at": (NOW + due_in).isoformat(),
        "remaining_seconds": int(due_in.total_seconds()),
        "locked_by_me": False,
        "lock_expires_at": None,
        "modality": modality,
        "body_part": body_part,
        "study_description": study,
        "patient_age": age,
        "patient_sex": sex,
        "clinical_question": question,
        "series_count": 3,
        "image_count": images,
        "study_instance_uid": study_uid,
    }


@dataclass
class FakeServer:
    """Accounts, worklist, case locks and DICOMweb over one dict of studies."""

    users: dict[str, str] = field(default_factory=lambda: {"drsmith": PASSWORD})
    locked: set[str] = field(default_factory=set)
    tokens: set[str] = field(default_factory=set)
    cases: list[dict[str, Any]] = field(default_factory=list)
    studies: dict[str, list[Dataset]] = field(default_factory=dict)
    held_by_other: set[str] = field(default_factory=set)
    totp_secret: str | None = None
    broken_series: set[str] = field(default_factory=set)
    down: bool = False
    calls: list[str] = field(default_factory=list)

    def add_study(self, datasets: Sequence[Dataset]) -> str:
        uid = str(datasets[0].StudyInstanceUID)
        self.studies[uid] = list(datasets)
        return uid

    def issue_token(self) -> str:
        token = secrets.token_urlsafe(16)
        self.tokens.add(token)
        return token

    def expire_all(self) -> None:
        self.tokens.clear()

    # -- dispatch ------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls.append(f"{request.method} {path}")
        if self.down:
            raise httpx.ConnectError("connection refused", request=request)
        if path == "/auth/login" and request.method == "POST":
            return self._login(request)
        token = request.headers.get("authorization", "").removeprefix("Bearer ")
        if token not in self.tokens:
            return problem(401, "Not signed in", "Sign in first.")
        if path == "/auth/me":
            return httpx.Response(
                200,
                json={
                    "id": 7,
                    "username": "drsmith",
                    "full_name": "Dr Test Smith",
                    "role": "radiologist",
                },
            )
        if path == "/auth/logout":
            self.tokens.discard(token)
            return httpx.Response(204)
        if path == "/worklist":
            return httpx.Response(200, json=self.cases)
        if m := re.fullmatch(r"/cases/([^/]+)/(open|heartbeat|reading)", path):
            return self._case(m.group(1), m.group(2))
        if m := re.fullmatch(r"/dicomweb/studies/([^/]+)/series", path):
            return self._qido_series(m.group(1))
        if m := re.fullmatch(r"/dicomweb/studies/([^/]+)/series/([^/]+)", path):
            return self._wado_series(m.group(1), m.group(2))
        return problem(404, "Not found", f"No route {path}.")

    def _login(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        import json

        data = json.loads(body)
        username = data.get("username")
        if username in self.locked:
            return problem(423, "Locked", "Too many failed sign-ins; try again in 15 minutes.")
        code = pyotp.TOTP(self.totp_secret).now() if self.totp_secret else TOTP
        if self.users.get(username) != data.get("password") or data.get("totp_code") != code:
            return problem(401, "Not signed in", "Wrong username, password or code.")
        token = self.issue_token()
        return httpx.Response(
            200,
            json={
                "token": token,
                "expires_at": (NOW + timedelta(hours=12)).isoformat(),
                "idle_timeout_minutes": 30,
                "user": {
                    "id": 7,
                    "username": username,
                    "full_name": "Dr Test Smith",
                    "role": "radiologist",
                },
            },
        )

    def _case(self, case_id: str, what: str) -> httpx.Response:
        case = next((c for c in self.cases if c["id"] == case_id), None)
        if case is None:
            return problem(404, "Not found", f"No case {case_id} among yours.", "case_id")
        if what == "open" and case_id in self.held_by_other:
            return problem(409, "Conflict", f"Case {case_id} is being read by another radiologist.")
        if what == "heartbeat":
            return httpx.Response(204)
        if what == "open":
            lock = {"case_id": case_id, "status": "reading", "holder_id": 7,
                    "expires_at": (NOW + timedelta(minutes=5)).isoformat()}  # fmt: skip
            return httpx.Response(200, json=lock)
        reading = {
            **case,
            "patient_family_name": "SYNTHETIC",
            "patient_given_names": "ALEX",
            "patient_birth_date": "1972-01-01",
            "exam_requested": case["study_description"],
            "physician_name": "Dr Referring Test",
            "physician_cpso_number": "12345",
            "physician_fax": "+14165550100",
            "study_date": NOW.date().isoformat(),
            "referral_received_at": None,
        }
        return httpx.Response(200, json=reading)

    def _qido_series(self, study_uid: str) -> httpx.Response:
        by_series: dict[str, list[Dataset]] = {}
        for ds in self.studies.get(study_uid, []):
            by_series.setdefault(str(ds.SeriesInstanceUID), []).append(ds)
        out = []
        for uid, items in by_series.items():
            first = items[0]
            out.append(
                {
                    "0020000D": {"vr": "UI", "Value": [study_uid]},
                    "0020000E": {"vr": "UI", "Value": [uid]},
                    "00080060": {"vr": "CS", "Value": [str(first.Modality)]},
                    "0008103E": {"vr": "LO", "Value": [str(first.get("SeriesDescription", ""))]},
                    "00200011": {"vr": "IS", "Value": [int(first.get("SeriesNumber", 0))]},
                    "00201209": {"vr": "IS", "Value": [len(items)]},
                }
            )
        return httpx.Response(200, json=out, headers={"content-type": "application/dicom+json"})

    def _wado_series(self, study_uid: str, series_uid: str) -> httpx.Response:
        if series_uid in self.broken_series:
            return problem(500, "Internal error", "The server failed; the request was not applied.")
        parts = [
            to_bytes(ds)
            for ds in self.studies.get(study_uid, [])
            if str(ds.SeriesInstanceUID) == series_uid
        ]
        if not parts:
            return problem(404, "Not found", "No such series.")
        body = b""
        for part in parts:
            body += f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n".encode()
            body += part + b"\r\n"
        body += f"--{BOUNDARY}--\r\n".encode()
        content_type = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
        return httpx.Response(200, content=body, headers={"content-type": content_type})


def small_study(seed: int = 0, slices: int = 12) -> list[Dataset]:
    """A small synthetic CT (scout + two axial series, 64x64)."""
    return make_ct_study(slices=slices, rows=64, cols=64, seed=seed, study_date=NOW.date())


def fake_services(server: FakeServer, *, token: str | None = None) -> Services:
    client = ReadroomClient(
        "http://readroom.test", token=token, transport=httpx.MockTransport(server)
    )
    return Services(
        client=client,
        tokens=MemoryTokenStore(),
        volumes=VolumeStore(client),
        clock=lambda: NOW,
    )


def settings_for(tmp_path: Any, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "server_url": "http://readroom.test",
        "poll_interval": 3600.0,
        "heartbeat_interval": 3600.0,
        "data_dir": tmp_path,
    }
    values.update(changes)
    return Settings(**values)


def worklist_server() -> FakeServer:
    """Three cases on the worklist; the first two have a small synthetic CT each."""
    server = FakeServer()
    first = server.add_study(small_study(seed=1))
    second = server.add_study(small_study(seed=2))
    brain = server.add_study(
        make_mr_study(slices=8, rows=64, cols=64, seed=3, study_date=NOW.date())
    )
    server.cases = [
        case_json("RR-0000000A", due_in=timedelta(days=5), study_uid=first, question="Nodule"),
        case_json(
            "RR-0000000B",
            priority="urgent",
            due_in=timedelta(hours=-3),
            body_part="ABDOMEN",
            study="CT ABDOMEN PELVIS",
            age=71,
            sex="M",
            question="Liver lesion characterisation",
            study_uid=second,
        ),
        case_json(
            "RR-0000000C",
            due_in=timedelta(hours=20),
            modality="MR",
            body_part="HEAD",
            study="MR BRAIN WITHOUT CONTRAST",
            age=33,
            question="Headache, exclude mass",
            images=120,
            study_uid=brain,
        ),
    ]
    return server


async def settle(pilot: Any) -> None:
    """Wait until no worker is pending or running and the messages they posted are handled."""
    app = pilot.app
    await pilot.pause()
    while running := [w for w in app.workers if not w.is_finished]:
        with contextlib.suppress(WorkerFailed):  # failures are the app's to report
            await app.workers.wait_for_complete(running)
        await pilot.pause()
