"""STOW-RS identifies its caller while the body's first bytes arrive: never more than a
bounded head of a body is read for a caller not yet known, and a caller refused is
answered as such whatever the body holds."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.cases.models import Case
from server.config import Settings
from server.imaging import routes_stow, stow
from server.imaging.models import Instance
from server.imaging.uploads import uploads_dir
from server.problems import Unauthorized
from tests.server.factories import Account
from tests.server.imaging.intake_support import add_case, ct, stow_body, to_bytes

CHUNK = 256 * 1024


@pytest.fixture
def case(db: Session, patient: Account) -> Case:
    return add_case(db, patient_id=patient.id)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (
            b"--x\r\nContent-Type: application/dicom\r\n\r\nnot closed",
            "multipart/related; boundary=x",
        ),
        (b"{}", "application/json"),
        (None, None),  # a well-formed body of one CT slice
    ],
    ids=["malformed-multipart", "wrong-content-type", "well-formed"],
)
def test_an_unknown_token_is_answered_401_whatever_the_body(
    live_server: str,
    case: Case,
    db: Session,
    settings: Settings,
    body: bytes | None,
    content_type: str | None,
) -> None:
    if body is None:
        body, content_type = stow_body([to_bytes(ct()[0])])
    assert content_type is not None
    response = httpx.post(
        f"{live_server}/dicomweb/studies",
        params={"case_id": case.id},
        content=body,
        headers={"Authorization": "Bearer not-a-token", "Content-Type": content_type},
    )
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert db.scalar(select(func.count()).select_from(Instance)) == 0
    assert not list(uploads_dir(settings).rglob("part-*"))


def test_the_body_is_read_while_the_caller_is_being_identified(
    patient: Account, case: Case, live_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Identification is held until the server has read a first part of the body: were
    the body read only after it, the request would never end (the guard below)."""
    read_while_identifying = threading.Event()
    real_begin, real_receive = routes_stow.begin_store, stow.receive_parts

    def begin_store(*args: object, **kwargs: object) -> object:
        if not read_while_identifying.wait(timeout=30):  # a guard, not a wait for work
            raise AssertionError("no byte of the body was read before the caller was known")
        return real_begin(*args, **kwargs)  # type: ignore[arg-type]

    async def receive_parts(body: AsyncIterator[bytes], **kwargs: object) -> int:
        async def watched() -> AsyncIterator[bytes]:
            async for chunk in body:
                read_while_identifying.set()
                yield chunk

        return await real_receive(watched(), **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(routes_stow, "begin_store", begin_store)
    monkeypatch.setattr(stow, "receive_parts", receive_parts)
    files = [to_bytes(ds) for ds in ct(slices=3)]
    body, content_type = stow_body(files)
    response = patient.http.post(
        "/dicomweb/studies",
        params={"case_id": case.id},
        content=body,
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 200, response.text
    assert len(response.json()["00081199"]["Value"]) == 3


class _Reading:
    """A body of eight chunks read through :func:`routes_stow._held` with ``limit`` free
    bytes, while the test holds the caller's identification: what was pulled from the
    body, and in what order chunks were received and the caller identified."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.log: list[str] = []
        self.pulled: list[int] = []
        self.past_limit = asyncio.Event()
        self.identifying: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        held = routes_stow._held(self._body(), self.identifying, limit)
        self.consumer = asyncio.ensure_future(self._consume(held))

    async def _body(self) -> AsyncIterator[bytes]:
        for index in range(8):
            self.pulled.append(index)
            if (index + 1) * CHUNK > self.limit:
                self.past_limit.set()
            yield bytes(CHUNK)

    async def _consume(self, held: AsyncIterator[bytes]) -> None:
        index = 0
        async for _chunk in held:
            self.log.append(f"received {index}")
            index += 1


@pytest.mark.anyio
async def test_past_the_limit_the_body_waits_for_the_caller() -> None:
    reading = _Reading(limit=4 * CHUNK)
    await asyncio.wait_for(reading.past_limit.wait(), timeout=30)
    reading.log.append("identified")
    reading.identifying.set_result(("caller", "rules"))
    await reading.consumer
    assert reading.log == [
        *(f"received {n}" for n in range(4)),
        "identified",
        *(f"received {n}" for n in range(4, 8)),
    ]


@pytest.mark.anyio
async def test_a_refused_caller_stops_the_body() -> None:
    reading = _Reading(limit=2 * CHUNK)
    await asyncio.wait_for(reading.past_limit.wait(), timeout=30)
    reading.identifying.set_exception(Unauthorized("Your session has expired or was ended."))
    with pytest.raises(Unauthorized):
        await reading.consumer
    assert reading.log == ["received 0", "received 1"]
    assert reading.pulled == [0, 1, 2]  # nothing read past the chunk that waited


def test_nothing_of_an_unknown_callers_body_reaches_the_disk() -> None:
    assert routes_stow.UNIDENTIFIED_BODY_MAX < stow.MEMORY_PART_MAX
