"""STOW-RS (PS3.18 §10.5) into a case, over real HTTP, and the per-case upload codes."""

from __future__ import annotations

import ctypes
import hashlib
import os
from datetime import timedelta
from functools import partial
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.audit.service import SYSTEM
from server.cases.models import Case, CaseStatus
from server.config import Settings
from server.db import utcnow
from server.imaging import indexing, ingest
from server.imaging import stow as stow_module
from server.imaging.models import Instance, UploadCode, Verdict
from server.imaging.stow import FailureReason
from server.imaging.unpack import Candidate
from server.imaging.uploads import uploads_dir
from server.storage import BlobRef, volume_sync
from tests.server.conftest import AccountFactory
from tests.server.factories import Account
from tests.server.imaging.intake_support import (
    OTHER_PATIENT,
    add_case,
    ct,
    old_ct,
    stow_body,
    to_bytes,
)

REFERENCED, FAILED, RETRIEVE_URL, FAILURE_REASON = "00081199", "00081198", "00081190", "00081197"


@pytest.fixture
def case(db: Session, patient: Account) -> Case:
    return add_case(db, patient_id=patient.id)


def stow(
    http: httpx.Client, parts: list[bytes], *, case_id: str | None, study: str | None = None
) -> httpx.Response:
    body, content_type = stow_body(parts)
    path = "/dicomweb/studies" + (f"/{study}" if study else "")
    params = {"case_id": case_id} if case_id else {}
    return http.post(path, content=body, headers={"Content-Type": content_type}, params=params)


def failure_reasons(response: httpx.Response) -> list[int]:
    return [item[FAILURE_REASON]["Value"][0] for item in response.json()[FAILED]["Value"]]


def test_all_stored_is_200_with_retrieve_urls(
    patient: Account, case: Case, db: Session, live_app: FastAPI
) -> None:
    study = ct(slices=3)
    files = [to_bytes(ds) for ds in study]
    response = stow(patient.http, files, case_id=case.id)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/dicom+json")
    body = response.json()
    assert body[RETRIEVE_URL]["Value"][0].endswith(f"/dicomweb/studies/{study[0].StudyInstanceUID}")
    referenced = body[REFERENCED]["Value"]
    assert len(referenced) == 3
    assert {r["00081155"]["Value"][0] for r in referenced} == {
        str(ds.SOPInstanceUID) for ds in study
    }
    assert FAILED not in body
    stored = db.scalars(select(Instance).where(Instance.case_id == case.id)).all()
    assert len(stored) == 3
    by_uid = {i.sop_instance_uid: i for i in stored}
    for ds, data in zip(study, files, strict=True):
        assert live_app.state.blobs.read_bytes(by_uid[str(ds.SOPInstanceUID)].blob_sha256) == data
    db.expire_all()
    assert db.get(Case, case.id).images_accepted_count == 3
    db.commit()  # end the read (SQLite: release the lock) before the server writes again
    # the same instances again: idempotent, still 200
    again = stow(patient.http, files, case_id=case.id)
    assert again.status_code == 200
    assert db.scalar(select(func.count()).select_from(Instance)) == 3


def test_some_failed_is_202_with_failure_reasons(patient: Account, case: Case) -> None:
    good = to_bytes(ct()[0])
    response = stow(
        patient.http, [good, b"not dicom at all", to_bytes(old_ct()[0])], case_id=case.id
    )
    assert response.status_code == 202, response.text
    assert sorted(failure_reasons(response)) == sorted(
        [FailureReason.CANNOT_UNDERSTAND, FailureReason.NOT_AUTHORIZED]
    )
    assert len(response.json()[REFERENCED]["Value"]) == 1


def test_all_failed_is_409(patient: Account, case: Case) -> None:
    ds = ct()[0]
    stow(patient.http, [to_bytes(ds)], case_id=case.id)
    ds.SeriesDescription = "CHANGED"  # same SOPInstanceUID, different bytes
    stranger = to_bytes(ct(patient=OTHER_PATIENT, seed=9)[0])
    response = stow(patient.http, [to_bytes(ds), stranger], case_id=case.id)
    assert response.status_code == 409, response.text
    assert sorted(failure_reasons(response)) == sorted(
        [FailureReason.DUPLICATE_SOP_INSTANCE, FailureReason.NOT_AUTHORIZED]
    )


def test_study_in_path_must_match(patient: Account, case: Case) -> None:
    response = stow(patient.http, [to_bytes(ct()[0])], case_id=case.id, study="1.2.3.4")
    assert response.status_code == 409
    assert failure_reasons(response) == [FailureReason.DATA_SET_DOES_NOT_MATCH]
    study = ct()
    ok = stow(
        patient.http, [to_bytes(study[0])], case_id=case.id, study=str(study[0].StudyInstanceUID)
    )
    assert ok.status_code == 200


def test_malformed_and_wrong_content_types(patient: Account, case: Case) -> None:
    data = to_bytes(ct()[0])
    body, content_type = stow_body([data])
    params = {"case_id": case.id}
    post = patient.http.post
    assert (
        post("/dicomweb/studies", content=data, params=params,
             headers={"Content-Type": "application/dicom"}).status_code
        == 415
    )  # fmt: skip
    assert (
        post("/dicomweb/studies", content=body, params=params,
             headers={"Content-Type": 'multipart/related; type="application/dicom+json"; '
                      "boundary=rr-test-boundary"}).status_code
        == 415
    )  # fmt: skip
    truncated = post(
        "/dicomweb/studies",
        content=body[: len(body) // 2],
        params=params,
        headers={"Content-Type": content_type},
    )
    assert truncated.status_code == 400
    assert truncated.headers["content-type"].startswith("application/problem+json")
    no_boundary = post(
        "/dicomweb/studies",
        content=body,
        params=params,
        headers={"Content-Type": 'multipart/related; type="application/dicom"'},
    )
    assert no_boundary.status_code == 400
    garbage = post(
        "/dicomweb/studies",
        content=b"\x00\xff" * 100,
        params=params,
        headers={"Content-Type": content_type},
    )
    assert garbage.status_code == 400
    missing_case = post("/dicomweb/studies", content=body, headers={"Content-Type": content_type})
    assert missing_case.status_code == 400


def test_part_with_wrong_type_is_a_failure(patient: Account, case: Case) -> None:
    boundary = "b0undary"
    body = f"--{boundary}\r\nContent-Type: text/plain\r\n\r\nhello\r\n--{boundary}--\r\n".encode()
    response = patient.http.post(
        "/dicomweb/studies",
        content=body,
        params={"case_id": case.id},
        headers={
            "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}'
        },
    )
    assert response.status_code == 409
    assert failure_reasons(response) == [FailureReason.CANNOT_UNDERSTAND]


def test_case_header_instead_of_query(patient: Account, case: Case) -> None:
    body, content_type = stow_body([to_bytes(ct()[0])])
    response = patient.http.post(
        "/dicomweb/studies",
        content=body,
        headers={"Content-Type": content_type, "X-Readroom-Case": case.id},
    )
    assert response.status_code == 200


def test_another_patients_case_is_404(
    case: Case, make_account: AccountFactory, db: Session
) -> None:
    stranger = make_account(Role.PATIENT)
    response = stow(stranger.http, [to_bytes(ct()[0])], case_id=case.id)
    assert response.status_code == 404
    assert db.scalar(select(func.count()).select_from(Instance)) == 0


def _code(patient: Account, case: Case, **body: object) -> dict:
    response = patient.http.post(f"/cases/{case.id}/upload-codes", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def _with_code(live_server: str, code: str) -> httpx.Client:
    return httpx.Client(
        base_url=live_server, headers={"Authorization": f"Bearer {code}"}, timeout=30
    )


def test_upload_code_stores_but_cannot_read(
    patient: Account, case: Case, live_server: str, db: Session
) -> None:
    created = _code(patient, case, label="Hospital PACS")
    assert created["code"].startswith("rrup_")
    assert db.scalars(select(UploadCode)).one().code_hash != created["code"]
    db.commit()
    with _with_code(live_server, created["code"]) as sender:
        response = stow(sender, [to_bytes(ct()[0])], case_id=None)
        assert response.status_code == 200, response.text
        assert sender.get(f"/cases/{case.id}/uploads").status_code == 401
        assert sender.get(f"/cases/{case.id}").status_code == 401
        assert sender.get("/dicomweb/studies").status_code == 401
        assert sender.post(f"/cases/{case.id}/upload-codes", json={}).status_code == 401
    listed = patient.http.get(f"/cases/{case.id}/upload-codes").json()
    assert listed[0]["last_used_at"] is not None
    assert "code" not in listed[0]


def test_revoked_and_expired_codes_refused(
    patient: Account, case: Case, live_server: str, db: Session
) -> None:
    revoked = _code(patient, case)
    assert patient.http.delete(f"/cases/{case.id}/upload-codes/{revoked['id']}").status_code == 204
    expired = _code(patient, case)
    row = db.get(UploadCode, expired["id"])
    row.expires_at = utcnow() - timedelta(minutes=1)
    db.commit()
    for code in (revoked["code"], expired["code"], "rrup_made-up"):
        with _with_code(live_server, code) as sender:
            assert stow(sender, [to_bytes(ct()[0])], case_id=None).status_code == 401


def test_only_the_patient_manages_codes(case: Case, make_account: AccountFactory) -> None:
    stranger = make_account(Role.PATIENT)
    assert stranger.http.post(f"/cases/{case.id}/upload-codes", json={}).status_code == 404
    assert stranger.http.get(f"/cases/{case.id}/upload-codes").status_code == 404


def test_too_large_request_is_413(
    patient: Account, case: Case, settings, monkeypatch: pytest.MonkeyPatch, db: Session
) -> None:
    monkeypatch.setattr(settings, "upload_max_bytes", 4096)
    response = stow(patient.http, [to_bytes(ct()[0])], case_id=case.id)
    assert response.status_code == 413
    assert db.scalar(select(func.count()).select_from(Instance)) == 0


def test_closed_case_refuses_new_but_repeats_are_still_200(
    patient: Account, case: Case, db: Session
) -> None:
    first = to_bytes(ct()[0])
    assert stow(patient.http, [first], case_id=case.id).status_code == 200
    db.get(Case, case.id).status = CaseStatus.CANCELLED
    db.commit()
    assert stow(patient.http, [first], case_id=case.id).status_code == 200
    response = stow(patient.http, [to_bytes(ct(seed=4)[0])], case_id=case.id)
    assert response.status_code == 409
    assert failure_reasons(response) == [FailureReason.NOT_AUTHORIZED]


def test_a_long_request_is_committed_batch_by_batch_and_a_break_says_what_was_stored(
    patient: Account,
    case: Case,
    db: Session,
    live_app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(ingest, "BATCH_SIZE", 2)
    files = [to_bytes(ds) for ds in ct(slices=6, seed=12)]
    body, content_type = stow_body(files)
    cut = body[: body.index(files[5]) + 1000]  # five whole parts, the sixth cut short
    response = patient.http.post(
        "/dicomweb/studies",
        content=cut,
        params={"case_id": case.id},
        headers={"Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    assert response.json()["detail"].endswith("The first 4 instances were stored.")
    assert db.scalar(select(func.count()).select_from(Instance)) == 4
    blobs = live_app.state.blobs  # the fifth, prepared but not committed, is let go
    assert not blobs.exists(hashlib.sha256(files[4]).hexdigest())
    assert not [p for p in blobs.root.rglob("*") if p.name.startswith(".tmp-")]
    db.commit()
    whole = stow(patient.http, files, case_id=case.id)  # the retry: repeats and the rest
    assert whole.status_code == 200, whole.text
    assert len(whole.json()[REFERENCED]["Value"]) == 6
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(Instance)) == 6
    assert db.get(Case, case.id).images_accepted_count == 6


def test_a_part_too_large_for_memory_goes_through_a_file_unchanged(
    patient: Account,
    case: Case,
    db: Session,
    live_app: FastAPI,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(stow_module, "MEMORY_PART_MAX", 4096)
    files = [to_bytes(ds) for ds in ct(slices=2, seed=11)]
    assert all(len(data) > 4096 for data in files)
    response = stow(patient.http, files, case_id=case.id)
    assert response.status_code == 200, response.text
    for data in files:
        assert live_app.state.blobs.read_bytes(hashlib.sha256(data).hexdigest()) == data
    assert not list(uploads_dir(settings).rglob("part-*"))  # the temporary files are gone


def test_a_blob_that_cannot_be_stored_is_refused_and_not_indexed(
    patient: Account, case: Case, db: Session, live_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    blobs = live_app.state.blobs
    good, bad = (to_bytes(ds) for ds in ct(slices=2))
    bad_sha = hashlib.sha256(bad).hexdigest()
    real_put = blobs.put_bytes

    def put_bytes(data: bytes, *, sha256: str | None = None, batch: object = None) -> BlobRef:
        if sha256 == bad_sha:
            raise OSError("disk full")
        return real_put(data, sha256=sha256, batch=batch)

    monkeypatch.setattr(blobs, "put_bytes", put_bytes)
    response = stow(patient.http, [good, bad], case_id=case.id)
    assert response.status_code == 202, response.text
    assert failure_reasons(response) == [FailureReason.OUT_OF_RESOURCES]
    stored = db.scalars(select(Instance.blob_sha256).where(Instance.case_id == case.id)).all()
    assert stored == [hashlib.sha256(good).hexdigest()]
    assert not blobs.exists(bad_sha)


def test_blobs_that_cannot_be_made_durable_are_refused_and_not_indexed(
    patient: Account, case: Case, db: Session, live_app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = [to_bytes(ds) for ds in ct(slices=2, seed=13)]

    def failing(_fd: int) -> None:
        raise OSError(5, "I/O error")

    def failing_syncfs(_fd: int) -> int:
        ctypes.set_errno(5)
        return -1

    with monkeypatch.context() as patched:  # the disk fails, whichever way a batch syncs
        patched.setattr(os, "fsync", failing)
        patched.setattr(volume_sync, "_syncfs", failing_syncfs)
        response = stow(patient.http, files, case_id=case.id)
    assert response.status_code == 409, response.text
    assert failure_reasons(response) == [FailureReason.OUT_OF_RESOURCES] * 2
    assert db.scalar(select(func.count()).select_from(Instance)) == 0
    assert not list(live_app.state.blobs.root.rglob(".tmp-*"))
    db.commit()
    assert stow(patient.http, files, case_id=case.id).status_code == 200  # the disk is back


def test_a_batch_that_fails_leaves_no_rows_and_only_whole_blobs(
    case: Case,
    db: Session,
    live_app: FastAPI,
    settings: Settings,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Blobs are stored before the batch's transaction; if it rolls back, no row refers
    to them (they stay, unreferenced, whole) and a retry stores the batch."""
    blobs = live_app.state.blobs
    files = [to_bytes(ds) for ds in ct(slices=2)]

    def candidates() -> list[Candidate]:
        paths = [tmp_path / f"{index}.dcm" for index in range(len(files))]
        for path, data in zip(paths, files, strict=True):
            path.write_bytes(data)
        return [Candidate(path.name, path) for path in paths]

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit store down")

    run = partial(
        ingest.ingest_candidates, db, case_id=case.id, blobs=blobs, settings=settings, actor=SYSTEM
    )
    with monkeypatch.context() as patched:
        patched.setattr(indexing, "record_event", fail)
        with pytest.raises(RuntimeError):
            run(candidates=candidates())
    assert db.scalar(select(func.count()).select_from(Instance)) == 0
    assert db.get(Case, case.id).images_accepted_count == 0
    for data in files:  # stored before the transaction: whole, readable
        assert blobs.read_bytes(hashlib.sha256(data).hexdigest()) == data
    db.rollback()
    result = run(candidates=candidates())
    assert [o.verdict for o in result.outcomes] == [Verdict.STORED, Verdict.STORED]
    assert db.scalar(select(func.count()).select_from(Instance)) == 2


def test_identifying_the_caller_reads_the_token_with_its_user_and_the_case_once(
    patient: Account, case: Case, engine: Engine, settings: Settings
) -> None:
    """Every STOW-RS request pays for this before its first instance."""
    from server.db import make_sessionmaker
    from server.imaging.routes_stow import StowCredentials, begin_store

    statements: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        with make_sessionmaker(engine)() as session:
            caller, rules = begin_store(
                session,
                settings=settings,
                client_addr="127.0.0.1",
                credentials=StowCredentials(patient.token, case.id),
                study=None,
            )
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert (caller.case_id, rules.case_id) == (case.id, case.id)
    assert rules.accepting
    reads = [" ".join(s.split()) for s in statements]
    assert len(reads) == 2, reads  # the token joined with its user; the case
    assert "JOIN user_account" in reads[0]
    assert "FROM patient_case" in reads[1]


def test_a_request_whose_transaction_fails_keeps_no_row_and_holds_up_no_other(
    patient: Account, case: Case, db: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its transaction rolled back, the write lock is free for the next request."""
    files = [to_bytes(ds) for ds in ct(slices=2, seed=21)]

    def fail(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("audit store down")

    with monkeypatch.context() as patched:
        patched.setattr(indexing, "record_event", fail)
        response = stow(patient.http, files, case_id=case.id)
    assert response.status_code == 500, response.text
    assert response.json()["detail"] == "The server failed; the request was not applied."
    assert response.headers["connection"] == "close"  # the server closes it: not reused
    assert db.scalar(select(func.count()).select_from(Instance)) == 0
    db.commit()
    assert stow(patient.http, files, case_id=case.id).status_code == 200  # not locked out
    assert db.scalar(select(func.count()).select_from(Instance)) == 2
