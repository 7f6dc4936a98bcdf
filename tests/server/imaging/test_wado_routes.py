"""WADO-RS over HTTP (PS3.18 §10.4): byte identity, metadata, frames, Accept, who may read."""

from __future__ import annotations

import io

import jpeg_ls
import numpy as np
import pydicom
import pytest
from fastapi import FastAPI
from pydicom.uid import JPEGLSLossless
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.audit.models import AuditEvent, Outcome
from tests.server.conftest import AccountFactory
from tests.server.factories import Account
from tests.server.imaging.dicomweb_support import (
    StoredStudy,
    add_case,
    ct_study,
    mr_study,
    parse_multipart,
    store_study,
)

JLS = str(JPEGLSLossless)
ANY_DICOM = {"Accept": 'multipart/related; type="application/dicom"; transfer-syntax=*'}
DICOM = {"Accept": 'multipart/related; type="application/dicom"'}
JSON = {"Accept": "application/dicom+json"}


@pytest.fixture
def ct(db: Session, live_app: FastAPI, patient: Account, radiologist: Account) -> StoredStudy:
    """The patient's uncompressed CT, assigned to the radiologist."""
    case = add_case(db, patient_id=patient.id, radiologist_id=radiologist.id)
    return store_study(db, live_app.state.blobs, case_id=case.id, datasets=ct_study())


@pytest.fixture
def mr_jls(db: Session, live_app: FastAPI, patient: Account) -> StoredStudy:
    """The patient's JPEG-LS MR: one Enhanced MR instance of 3 frames per series."""
    case = add_case(db, patient_id=patient.id)
    datasets = mr_study(seed=2, enhanced=True, transfer_syntax=JPEGLSLossless, series=["t1"])
    return store_study(db, live_app.state.blobs, case_id=case.id, datasets=datasets)


def instance_path(stored: StoredStudy, index: int) -> str:
    ds = stored.datasets[index]
    return (
        f"/dicomweb/studies/{ds.StudyInstanceUID}/series/{ds.SeriesInstanceUID}"
        f"/instances/{ds.SOPInstanceUID}"
    )


def series_path(stored: StoredStudy, index: int) -> str:
    return f"/dicomweb/studies/{stored.study_uid}/series/{stored.series_uids()[index]}"


@pytest.mark.parametrize("accept", [ANY_DICOM, DICOM, {"Accept": "*/*"}])
def test_instance_is_byte_identical(patient: Account, ct: StoredStudy, accept: dict) -> None:
    response = patient.http.get(instance_path(ct, 1), headers=accept)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith(
        'multipart/related; type="application/dicom"; boundary='
    )
    [(headers, body)] = parse_multipart(response)
    assert headers["content-type"] == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
    assert body == ct.files[str(ct.datasets[1].SOPInstanceUID)]
    assert headers["content-location"].endswith(instance_path(ct, 1))


def test_compressed_instance_is_byte_identical(patient: Account, mr_jls: StoredStudy) -> None:
    response = patient.http.get(instance_path(mr_jls, 0), headers=ANY_DICOM)
    assert response.status_code == 200, response.text
    [(headers, body)] = parse_multipart(response)
    assert headers["content-type"] == f"application/dicom; transfer-syntax={JLS}"
    assert body == mr_jls.files[str(mr_jls.datasets[0].SOPInstanceUID)]
    exact = {"Accept": f'multipart/related; type="application/dicom"; transfer-syntax={JLS}'}
    assert patient.http.get(instance_path(mr_jls, 0), headers=exact).status_code == 200


@pytest.mark.parametrize(
    "accept",
    [
        'multipart/related; type="application/dicom"',  # default: Explicit VR Little Endian
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.90',
        'multipart/related; type="application/octet-stream"',
        "application/json",
    ],
)
def test_compressed_instance_not_acceptable_without_transcoding(
    patient: Account, mr_jls: StoredStudy, accept: str
) -> None:
    response = patient.http.get(instance_path(mr_jls, 0), headers={"Accept": accept})
    assert response.status_code == 406
    assert response.json()["field"] == "Accept"


def test_series_and_study_stream_every_instance_in_order(patient: Account, ct: StoredStudy) -> None:
    response = patient.http.get(series_path(ct, 1), headers=ANY_DICOM)
    assert response.status_code == 200
    bodies = [body for _headers, body in parse_multipart(response)]
    expected = [ct.files[str(ds.SOPInstanceUID)] for ds in ct.of_series(ct.series_uids()[1])]
    assert bodies == expected
    assert int(response.headers["content-length"]) == len(response.content)
    study = patient.http.get(f"/dicomweb/studies/{ct.study_uid}", headers=ANY_DICOM)
    assert [b for _h, b in parse_multipart(study)] == [
        ct.files[str(ds.SOPInstanceUID)] for ds in ct.datasets
    ]


def test_unknown_series_and_instance_are_not_found(patient: Account, ct: StoredStudy) -> None:
    base = f"/dicomweb/studies/{ct.study_uid}"
    assert patient.http.get(f"{base}/series/1.2.3", headers=ANY_DICOM).status_code == 404
    series = ct.series_uids()[0]
    path = f"{base}/series/{series}/instances/1.2.3"
    assert patient.http.get(path, headers=ANY_DICOM).status_code == 404
    assert patient.http.get("/dicomweb/studies/1.2.3", headers=ANY_DICOM).status_code == 404


def test_metadata_of_study_series_and_instance(patient: Account, ct: StoredStudy) -> None:
    study = patient.http.get(f"/dicomweb/studies/{ct.study_uid}/metadata", headers=JSON)
    assert study.status_code == 200
    assert study.headers["content-type"] == "application/dicom+json"
    headers = study.json()
    assert [h["00080018"]["Value"][0] for h in headers] == [
        str(ds.SOPInstanceUID) for ds in ct.datasets
    ]
    assert all("7FE00010" not in h for h in headers)
    assert headers[1]["00100010"]["Value"] == [{"Alphabetic": "SYNTHETIC^ALEX"}]
    assert headers[1]["00280030"]["Value"] == [float(v) for v in ct.datasets[1].PixelSpacing]
    series = patient.http.get(f"{series_path(ct, 2)}/metadata", headers=JSON).json()
    assert len(series) == 3
    [one] = patient.http.get(f"{instance_path(ct, 2)}/metadata", headers=JSON).json()
    assert one == headers[2]
    # the JSON model reads back into a pydicom data set
    assert pydicom.Dataset.from_json(one).Rows == 64


def test_metadata_accept(patient: Account, ct: StoredStudy) -> None:
    path = f"/dicomweb/studies/{ct.study_uid}/metadata"
    assert patient.http.get(path, headers={"Accept": "application/dicom"}).status_code == 406


def test_frame_of_a_single_frame_instance(patient: Account, ct: StoredStudy) -> None:
    response = patient.http.get(f"{instance_path(ct, 1)}/frames/1")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        'multipart/related; type="application/octet-stream"'
    )
    [(headers, body)] = parse_multipart(response)
    assert headers["content-type"] == (
        "application/octet-stream; transfer-syntax=1.2.840.10008.1.2.1"
    )
    assert body == ct.datasets[1].PixelData


def test_frames_of_a_multi_frame_instance(db: Session, live_app: FastAPI, patient: Account) -> None:
    case = add_case(db, patient_id=patient.id)
    stored = store_study(
        db,
        live_app.state.blobs,
        case_id=case.id,
        datasets=mr_study(seed=3, enhanced=True, series=["t2"]),
    )
    accept = {"Accept": 'multipart/related; type="application/octet-stream"'}
    response = patient.http.get(f"{instance_path(stored, 0)}/frames/3,1", headers=accept)
    assert response.status_code == 200
    pixels = pydicom.dcmread(io.BytesIO(stored.files[str(stored.datasets[0].SOPInstanceUID)]))
    arr = pixels.pixel_array
    assert [b for _h, b in parse_multipart(response)] == [arr[2].tobytes(), arr[0].tobytes()]
    beyond = patient.http.get(f"{instance_path(stored, 0)}/frames/4", headers=accept)
    assert beyond.status_code == 404
    assert patient.http.get(f"{instance_path(stored, 0)}/frames/x").status_code == 400


def test_compressed_frames_are_the_stored_fragments(patient: Account, mr_jls: StoredStudy) -> None:
    response = patient.http.get(f"{instance_path(mr_jls, 0)}/frames/2")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith('multipart/related; type="image/jls"')
    [(headers, body)] = parse_multipart(response)
    assert headers["content-type"] == f"image/jls; transfer-syntax={JLS}"
    original = pydicom.dcmread(io.BytesIO(mr_jls.files[str(mr_jls.datasets[0].SOPInstanceUID)]))
    np.testing.assert_array_equal(
        jpeg_ls.decode(np.frombuffer(body, np.uint8)), original.pixel_array[1]
    )
    octets = {"Accept": 'multipart/related; type="application/octet-stream"'}
    refused = patient.http.get(f"{instance_path(mr_jls, 0)}/frames/2", headers=octets)
    assert refused.status_code == 406


ROUTES = [
    lambda s: f"/dicomweb/studies/{s.study_uid}",
    lambda s: series_path(s, 1),
    lambda s: instance_path(s, 1),
    lambda s: f"/dicomweb/studies/{s.study_uid}/metadata",
    lambda s: f"{series_path(s, 1)}/metadata",
    lambda s: f"{instance_path(s, 1)}/metadata",
    lambda s: f"{instance_path(s, 1)}/frames/1",
]


@pytest.mark.parametrize("route", range(len(ROUTES)))
def test_every_route_is_authorised_per_case(
    db: Session,
    make_account: AccountFactory,
    patient: Account,
    radiologist: Account,
    admin: Account,
    ct: StoredStudy,
    route: int,
) -> None:
    path = ROUTES[route](ct)
    headers = {"Accept": "*/*"}
    assert patient.http.get(path, headers=headers).status_code == 200
    assert radiologist.http.get(path, headers=headers).status_code == 200
    assert admin.http.get(path, headers=headers).status_code == 200
    other_patient = make_account(Role.PATIENT)
    other_radiologist = make_account(Role.RADIOLOGIST)
    for outsider in (other_patient, other_radiologist):
        response = outsider.http.get(path, headers=headers)
        assert response.status_code == 404
        assert "SYNTHETIC" not in response.text
    anonymous = patient.http.get(path, headers={**headers, "Authorization": "Bearer nope"})
    assert anonymous.status_code == 401
    denied = db.scalars(select(AuditEvent).where(AuditEvent.outcome == Outcome.DENIED)).all()
    assert {(e.actor_id, e.case_id) for e in denied} == {
        (other_patient.id, ct.case_id),
        (other_radiologist.id, ct.case_id),
    }


def test_retrieves_are_audited(db: Session, radiologist: Account, ct: StoredStudy) -> None:
    radiologist.http.get(series_path(ct, 1), headers=ANY_DICOM)
    radiologist.http.get(f"{series_path(ct, 1)}/metadata", headers=JSON)
    radiologist.http.get(f"{instance_path(ct, 1)}/frames/1")
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action.like("dicomweb.%")).order_by(AuditEvent.id)
    ).all()
    assert [(e.action, e.object_type, e.case_id, e.actor_id, e.actor_role) for e in events] == [
        ("dicomweb.retrieve", "series", ct.case_id, radiologist.id, "radiologist"),
        ("dicomweb.metadata", "series", ct.case_id, radiologist.id, "radiologist"),
        ("dicomweb.frames", "instance", ct.case_id, radiologist.id, "radiologist"),
    ]
    assert all(e.outcome == Outcome.SUCCESS for e in events)
