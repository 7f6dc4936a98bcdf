"""Resumable (tus 1.0.0) uploads over real HTTP, and what ingestion makes of them."""

from __future__ import annotations

import base64
import hashlib
import io
import socket
import zipfile
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydicom.uid import JPEGBaseline8Bit, JPEGLosslessSV1
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.app import create_app
from server.audit.models import AuditEvent
from server.cases.models import Case
from server.config import Settings
from server.imaging.models import IngestFlag, Instance, Series, Study, UploadState
from server.imaging.synthetic import SUPPORTED_TRANSFER_SYNTAXES, write_cd, zip_cd
from server.storage import EncryptedFileStore
from tests.server.conftest import AccountFactory
from tests.server.factories import Account
from tests.server.imaging.intake_support import (
    OTHER_PATIENT,
    TUS,
    add_case,
    ct,
    extras,
    jpeg_encoded,
    metadata,
    mr,
    old_ct,
    to_bytes,
    tus_create,
    tus_patch,
    upload_bytes,
    upload_status,
    wait_ingested,
)


@pytest.fixture
def case(db: Session, patient: Account) -> Case:
    return add_case(db, patient_id=patient.id)


def test_options_advertises_protocol(patient: Account, settings: Settings) -> None:
    response = patient.http.options("/uploads")
    assert response.status_code == 204
    assert response.headers["Tus-Version"] == "1.0.0"
    assert set(response.headers["Tus-Extension"].split(",")) >= {"creation", "checksum"}
    assert response.headers["Tus-Max-Size"] == str(settings.upload_max_bytes)
    assert "sha1" in response.headers["Tus-Checksum-Algorithm"].split(",")


def test_interrupted_upload_resumes_from_head(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    study = ct(slices=3)
    data = to_bytes(study[0])
    url = tus_create(patient.http, case_id=case.id, length=len(data), filename="IM0001")
    half = len(data) // 2
    assert tus_patch(patient.http, url, data[:half], offset=0).status_code == 204
    head = patient.http.head(url, headers=TUS)
    assert head.status_code == 200
    assert head.headers["Upload-Offset"] == str(half)
    assert head.headers["Cache-Control"] == "no-store"
    listed = patient.http.get(f"/cases/{case.id}/uploads").json()
    assert listed[0]["state"] == "receiving"
    assert listed[0]["offset"] == half
    # a PATCH at the wrong offset is refused and changes nothing
    wrong = tus_patch(patient.http, url, data[half:], offset=0)
    assert wrong.status_code == 409
    done = tus_patch(patient.http, url, data[half:], offset=half)
    assert done.status_code == 204
    assert done.headers["Upload-Offset"] == str(len(data))
    upload_id = url.rsplit("/", 1)[1]
    assert wait_ingested(live_app, upload_id) is UploadState.DONE
    status = upload_status(patient.http, case.id, upload_id)
    assert status["state"] == "done"
    assert status["counts"] == {"stored": 1, "duplicate": 0, "refused": 0, "skipped": 0}
    assert status["files"][0]["verdict"] == "stored"
    db.expire_all()
    assert db.get(Case, case.id).images_accepted_count == 1


def test_checksum_mismatch_discards_chunk(patient: Account, case: Case) -> None:
    data = to_bytes(ct()[0])
    url = tus_create(patient.http, case_id=case.id, length=len(data), filename="x.dcm")
    bad = base64.b64encode(hashlib.sha256(b"something else").digest()).decode()
    response = patient.http.patch(
        url,
        content=data[:1000],
        headers={
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Upload-Checksum": f"sha256 {bad}",
        },
    )
    assert response.status_code == 460
    assert patient.http.head(url, headers=TUS).headers["Upload-Offset"] == "0"
    ok = tus_patch(patient.http, url, data[:1000], offset=0, checksum="sha256")
    assert ok.status_code == 204
    assert ok.headers["Upload-Offset"] == "1000"


def test_protocol_errors(patient: Account, case: Case) -> None:
    no_version = patient.http.post(
        "/uploads",
        headers={"Upload-Length": "10", "Upload-Metadata": metadata(case_id=case.id)},
    )
    assert no_version.status_code == 412
    assert no_version.headers["Tus-Version"] == "1.0.0"
    url = tus_create(patient.http, case_id=case.id, length=10, filename="a.dcm")
    wrong_type = patient.http.patch(
        url,
        content=b"0123456789",
        headers={**TUS, "Content-Type": "application/octet-stream", "Upload-Offset": "0"},
    )
    assert wrong_type.status_code == 415
    too_long = tus_patch(patient.http, url, b"x" * 11, offset=0)
    assert too_long.status_code == 413
    assert patient.http.head(url, headers=TUS).headers["Upload-Offset"] == "0"
    bad_algo = patient.http.patch(
        url,
        content=b"0",
        headers={
            **TUS,
            "Content-Type": "application/offset+octet-stream",
            "Upload-Offset": "0",
            "Upload-Checksum": "md5 AAAA",
        },
    )
    assert bad_algo.status_code == 400
    bad_meta = patient.http.post(
        "/uploads", headers={**TUS, "Upload-Length": "10", "Upload-Metadata": "case_id ***"}
    )
    assert bad_meta.status_code == 400
    huge = patient.http.post(
        "/uploads",
        headers={
            **TUS,
            "Upload-Length": str(10**13),
            "Upload-Metadata": metadata(case_id=case.id),
        },
    )
    assert huge.status_code == 413
    assert patient.http.delete(url, headers=TUS).status_code == 204
    assert patient.http.head(url, headers=TUS).status_code == 404


def test_other_patients_case_and_uploads_are_not_found(
    patient: Account, case: Case, make_account: AccountFactory
) -> None:
    stranger = make_account(Role.PATIENT)
    response = stranger.http.post(
        "/uploads",
        headers={**TUS, "Upload-Length": "10", "Upload-Metadata": metadata(case_id=case.id)},
    )
    assert response.status_code == 404
    url = tus_create(patient.http, case_id=case.id, length=10, filename="a.dcm")
    assert stranger.http.head(url, headers=TUS).status_code == 404
    assert tus_patch(stranger.http, url, b"0123456789", offset=0).status_code == 404
    assert stranger.http.get(f"/cases/{case.id}/uploads").status_code == 404


def test_partial_upload_survives_restart(
    patient: Account, case: Case, live_app: FastAPI, engine
) -> None:
    data = to_bytes(ct()[0])
    url = tus_create(patient.http, case_id=case.id, length=len(data), filename="a.dcm")
    assert tus_patch(patient.http, url, data[:700], offset=0).status_code == 204
    # a new server process: nothing in memory, only the database row and the file
    restarted = create_app(live_app.state.settings, engine=engine)
    with TestClient(restarted, headers={"Authorization": f"Bearer {patient.token}"}) as http:
        head = http.head(url, headers=TUS)
        assert head.status_code == 200
        assert head.headers["Upload-Offset"] == "700"
        rest = tus_patch(http, url, data[700:], offset=700)
        assert rest.status_code == 204
        assert wait_ingested(restarted, url.rsplit("/", 1)[1]) is UploadState.DONE


@pytest.mark.parametrize("transfer_syntax", SUPPORTED_TRANSFER_SYNTAXES, ids=lambda u: u.name)
def test_each_transfer_syntax_stored_byte_identical(
    transfer_syntax: str,
    patient: Account,
    case: Case,
    live_app: FastAPI,
    db: Session,
) -> None:
    data = to_bytes(ct(transfer_syntax=transfer_syntax)[0])
    upload_id = upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="IM1.dcm")
    assert upload_status(patient.http, case.id, upload_id)["counts"]["stored"] == 1
    instance = db.scalars(select(Instance).where(Instance.case_id == case.id)).one()
    assert instance.transfer_syntax_uid == transfer_syntax
    assert live_app.state.blobs.read_bytes(instance.blob_sha256) == data


@pytest.mark.parametrize("transfer_syntax", [JPEGBaseline8Bit, JPEGLosslessSV1])
def test_jpeg_transfer_syntaxes_stored_byte_identical(
    transfer_syntax: str, patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    data = to_bytes(jpeg_encoded(ct()[0], transfer_syntax))
    upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="IM1.dcm")
    instance = db.scalars(select(Instance).where(Instance.case_id == case.id)).one()
    assert instance.transfer_syntax_uid == transfer_syntax
    assert live_app.state.blobs.read_bytes(instance.blob_sha256) == data


@pytest.mark.parametrize("maker", ["ct", "mr"])
def test_enhanced_multiframe(
    maker: str, patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    study = ct(slices=4, enhanced=True) if maker == "ct" else mr(slices=4, enhanced=True)
    data = to_bytes(study[-1])
    upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="E.dcm")
    instance = db.scalars(select(Instance).where(Instance.case_id == case.id)).one()
    assert instance.number_of_frames == 4
    assert instance.is_image


def _zip(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buf.getvalue()


def test_cd_zip_with_junk_and_a_second_patient(
    patient: Account, case: Case, live_app: FastAPI, db: Session, tmp_path: Path
) -> None:
    study = ct(slices=3)
    stranger = ct(patient=OTHER_PATIENT, slices=1, seed=5)
    cd = write_cd([*study, *extras(study), *stranger], tmp_path / "cd")
    data = zip_cd(cd)
    assert isinstance(data, bytes)
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=data, filename="CD.zip", chunk=64 * 1024
    )
    status = upload_status(patient.http, case.id, upload_id)
    assert status["state"] == "done", status
    counts = status["counts"]
    assert counts["stored"] == 5  # 3 images + secondary capture + dose report
    assert counts["refused"] == 1, status["files"]  # the other patient's image
    assert counts["skipped"] >= 4  # DICOMDIR, README, AUTORUN.INF, viewer, index
    by_reason = {f["reason"] for f in status["files"]}
    assert {"dicomdir", "different_patient"} <= by_reason
    assert all(f["message"] for f in status["files"])
    # the other patient's object is held for review, not in the case
    flag = db.scalars(select(IngestFlag).where(IngestFlag.case_id == case.id)).one()
    assert flag.sop_instance_uid == str(stranger[0].SOPInstanceUID)
    uids = set(db.scalars(select(Instance.sop_instance_uid).where(Instance.case_id == case.id)))
    assert str(stranger[0].SOPInstanceUID) not in uids
    images = db.scalar(
        select(func.count()).where(Instance.case_id == case.id, Instance.is_image.is_(True))
    )
    assert images == 3
    db.expire_all()
    assert db.get(Case, case.id).images_accepted_count == 3
    study_row = db.scalars(select(Study).where(Study.case_id == case.id)).one()
    assert study_row.number_of_instances == 5
    assert "CT" in study_row.modalities.split("\\")
    assert db.scalar(select(func.count()).select_from(Series)) == 3


def test_refusals_of_single_files(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    cases = {
        "old.dcm": (to_bytes(old_ct()[0]), "too_old"),
        "notes.bin": (b"this is not a DICOM file at all" * 10, "not_dicom"),
        "cut.dcm": (to_bytes(ct(seed=3)[0])[:400], "unreadable"),
    }
    for name, (data, reason) in cases.items():
        upload_id = upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename=name)
        status = upload_status(patient.http, case.id, upload_id)
        assert status["counts"]["refused"] == 1, (name, status)
        assert status["files"][0]["reason"] == reason
    assert db.scalar(select(func.count()).select_from(Instance)) == 0


def test_non_ct_mr_modality_refused(patient: Account, case: Case, live_app: FastAPI) -> None:
    ds = ct()[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # CR
    ds.Modality = "CR"
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=to_bytes(ds), filename="cr.dcm"
    )
    assert upload_status(patient.http, case.id, upload_id)["files"][0]["reason"] == "modality"


def test_reupload_is_idempotent_and_conflict_refused(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    ds = ct()[0]
    data = to_bytes(ds)
    upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="a.dcm")
    again = upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="a.dcm")
    assert upload_status(patient.http, case.id, again)["counts"]["duplicate"] == 1
    ds.SeriesDescription = "CHANGED"
    changed = upload_bytes(
        patient.http, live_app, case_id=case.id, data=to_bytes(ds), filename="a.dcm"
    )
    status = upload_status(patient.http, case.id, changed)
    assert status["files"][0]["reason"] == "conflict"
    assert db.scalar(select(func.count()).select_from(Instance)) == 1


def test_blob_on_disk_is_encrypted(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    data = to_bytes(ct()[0])
    upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="a.dcm")
    instance = db.scalars(select(Instance)).one()
    store: EncryptedFileStore = live_app.state.blobs
    raw = store._path(instance.blob_sha256).read_bytes()
    assert b"DICM" not in raw
    assert b"SYNTHETIC" not in raw
    assert b"ALEX" not in raw


def test_bad_zip_fails_the_upload_with_a_reason(
    patient: Account, case: Case, live_app: FastAPI
) -> None:
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=b"PK\x03\x04garbage", filename="cd.zip"
    )
    status = upload_status(patient.http, case.id, upload_id)
    assert status["state"] == "failed"
    assert "zip" in status["error"]


def test_zip_traversal_and_symlink_refused_per_file(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    good = to_bytes(ct()[0])
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("../../etc/evil.dcm", good)
        archive.writestr("/abs/evil.dcm", good)
        link = zipfile.ZipInfo("DICOM/link")
        link.create_system = 3
        link.external_attr = 0o120777 << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("DICOM/IM1", good)
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=buf.getvalue(), filename="cd.zip"
    )
    status = upload_status(patient.http, case.id, upload_id)
    reasons = [f["reason"] for f in status["files"]]
    assert reasons.count("unsafe_path") == 3
    assert status["counts"]["stored"] == 1


def test_ingestion_audited_without_phi(
    patient: Account, case: Case, live_app: FastAPI, db: Session
) -> None:
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=to_bytes(ct()[0]), filename="a"
    )
    upload_status(patient.http, case.id, upload_id)
    events = db.scalars(select(AuditEvent).where(AuditEvent.case_id == case.id)).all()
    actions = {e.action for e in events}
    assert {"imaging.upload.create", "imaging.ingest", "imaging.upload.read"} <= actions
    for event in events:
        text = f"{event.detail} {event.object_id}"
        assert "SYNTHETIC" not in text.upper()


def test_zip_over_the_limits_fails_whole_and_stores_nothing(
    patient: Account,
    case: Case,
    live_app: FastAPI,
    db: Session,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(settings, "zip_max_members", 2)
    files = {f"DICOM/IM{i}": to_bytes(ds) for i, ds in enumerate(ct(slices=3))}
    upload_id = upload_bytes(
        patient.http, live_app, case_id=case.id, data=_zip(files), filename="cd.zip"
    )
    status = upload_status(patient.http, case.id, upload_id)
    assert status["state"] == "failed"
    assert "at most 2" in status["error"]
    assert db.scalar(select(func.count()).select_from(Instance)) == 0


def test_zip_bomb_member_refused(patient: Account, case: Case, live_app: FastAPI) -> None:
    data = _zip({"DICOM/BOMB": b"\0" * (16 * 1024 * 1024), "DICOM/IM1": to_bytes(ct()[0])})
    assert len(data) < 100_000
    upload_id = upload_bytes(patient.http, live_app, case_id=case.id, data=data, filename="b.zip")
    status = upload_status(patient.http, case.id, upload_id)
    assert [f["reason"] for f in status["files"]] == ["too_large", None]
    assert status["counts"]["stored"] == 1


def test_folder_as_separate_file_uploads(
    patient: Account, case: Case, live_app: FastAPI, db: Session, tmp_path: Path
) -> None:
    study = ct(slices=3)
    folder = write_cd([*study], tmp_path / "folder")
    names = sorted(p for p in folder.rglob("*") if p.is_file())
    for path in names:
        url = tus_create(
            patient.http,
            case_id=case.id,
            length=path.stat().st_size,
            filename=str(path.relative_to(folder)),
            kind="file",
        )
        data = path.read_bytes()
        assert tus_patch(patient.http, url, data, offset=0).status_code == 204
        wait_ingested(live_app, url.rsplit("/", 1)[1])
    listed = patient.http.get(f"/cases/{case.id}/uploads").json()
    assert len(listed) == len(names)
    totals = {k: sum(u["counts"][k] for u in listed) for k in ("stored", "skipped", "refused")}
    assert totals["stored"] == 3
    assert totals["refused"] == 0
    assert totals["skipped"] == len(names) - 3  # DICOMDIR, README, AUTORUN, viewer, index
    db.expire_all()
    assert db.get(Case, case.id).images_accepted_count == 3


def test_connection_lost_mid_patch_then_resumed(
    patient: Account, case: Case, live_server: str, live_app: FastAPI
) -> None:
    data = to_bytes(ct()[0])
    url = tus_create(patient.http, case_id=case.id, length=len(data), filename="a.dcm")
    host, port = live_server.removeprefix("http://").split(":")
    half = len(data) // 2
    with socket.create_connection((host, int(port))) as raw:
        head = (
            f"PATCH {url} HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: Bearer {patient.token}\r\nTus-Resumable: 1.0.0\r\n"
            "Content-Type: application/offset+octet-stream\r\nUpload-Offset: 0\r\n"
            f"Content-Length: {len(data)}\r\n\r\n"
        )
        raw.sendall(head.encode() + data[:half])
    # Resume as a tus client does: HEAD for the offset the server kept, send the rest.
    # (The server keeps what it had written; bytes still buffered when the connection
    # dropped are lost, so the offset is anywhere from 0 to half.) Bounded, no sleeping:
    # the lost request may briefly still hold the upload (423) or move the offset (409).
    for _ in range(200):
        offset = int(patient.http.head(url, headers=TUS).headers["Upload-Offset"])
        assert 0 <= offset <= half
        rest = tus_patch(patient.http, url, data[offset:], offset=offset)
        if rest.status_code not in (409, 423):
            break
    assert rest.status_code == 204, rest.text
    assert wait_ingested(live_app, url.rsplit("/", 1)[1]) is UploadState.DONE
    assert live_app.state.blobs.exists(hashlib.sha256(data).hexdigest())
