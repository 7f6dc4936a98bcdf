"""The ``dicomweb-client`` package, unchanged, against Readroom over real HTTP.

Store (STOW-RS, intake's route), search (QIDO-RS) and retrieve (WADO-RS) a small CT
and a JPEG-LS multi-frame MR with a patient's bearer token; then the assigned
radiologist reads the same study and another patient finds nothing.
"""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest
from dicomweb_client import DICOMwebClient
from pydicom.uid import JPEGLSLossless
from requests import HTTPError
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.cases.models import Case, CaseStatus
from server.imaging.synthetic import to_bytes
from tests.server.conftest import AccountFactory
from tests.server.factories import Account
from tests.server.imaging.dicomweb_support import add_case, ct_study, mr_study


def client_of(live_server: str, account: Account, case_id: str | None = None) -> DICOMwebClient:
    headers = {"Authorization": f"Bearer {account.token}"}
    if case_id:
        headers["X-Readroom-Case"] = case_id
    return DICOMwebClient(f"{live_server}/dicomweb", headers=headers)


def test_store_search_and_retrieve_round_trip(
    db: Session,
    live_server: str,
    patient: Account,
    radiologist: Account,
    make_account: AccountFactory,
) -> None:
    case = add_case(db, patient_id=patient.id)
    ct = ct_study(seed=11)
    mr = mr_study(seed=12, enhanced=True, transfer_syntax=JPEGLSLossless, series=["flair"])
    files = {str(ds.SOPInstanceUID): to_bytes(ds) for ds in ct + mr}
    client = client_of(live_server, patient, case.id)

    # STOW-RS (intake): the bytes as written, re-read so pydicom re-encodes nothing new
    stored = client.store_instances(
        [pydicom.dcmread(io.BytesIO(files[str(ds.SOPInstanceUID)])) for ds in ct + mr]
    )
    assert "00081199" in stored  # ReferencedSOPSequence: every instance stored

    # QIDO-RS
    studies = client.search_for_studies(search_filters={"PatientName": "SYNTHETIC*"})
    assert {s["0020000D"]["Value"][0] for s in studies} == {
        ct[0].StudyInstanceUID,
        mr[0].StudyInstanceUID,
    }
    only_mr = client.search_for_studies(
        search_filters={"ModalitiesInStudy": "MR"}, fields=["StudyDescription"]
    )
    assert [s["0020000D"]["Value"][0] for s in only_mr] == [mr[0].StudyInstanceUID]
    paged = client.search_for_studies(limit=1, offset=1)
    assert len(paged) == 1
    study_uid = str(ct[0].StudyInstanceUID)
    series = client.search_for_series(study_uid, search_filters={"SeriesNumber": "2"})
    [axial] = series
    series_uid = axial["0020000E"]["Value"][0]
    instances = client.search_for_instances(study_uid, series_uid)
    assert len(instances) == 3
    one = client.search_for_instances(study_uid, series_uid, search_filters={"InstanceNumber": "2"})
    sop_uid = one[0]["00080018"]["Value"][0]

    # WADO-RS: instance and series, byte for byte
    instance = client.retrieve_instance(study_uid, series_uid, sop_uid)
    assert instance.SOPInstanceUID == sop_uid
    buffer = io.BytesIO()
    instance.save_as(buffer, enforce_file_format=True)
    assert buffer.getvalue() == files[sop_uid]
    whole_series = client.retrieve_series(study_uid, series_uid)
    assert sorted(ds.SOPInstanceUID for ds in whole_series) == sorted(
        i["00080018"]["Value"][0] for i in instances
    )
    metadata = client.retrieve_series_metadata(study_uid, series_uid)
    assert len(metadata) == 3
    assert all("7FE00010" not in m for m in metadata)
    [frame] = client.retrieve_instance_frames(study_uid, series_uid, sop_uid, frame_numbers=[1])
    assert frame == instance.PixelData

    # the compressed multi-frame: as stored, fragments per frame
    mr_ds = mr[0]
    mr_uids = (str(mr_ds.StudyInstanceUID), str(mr_ds.SeriesInstanceUID), str(mr_ds.SOPInstanceUID))
    compressed = client.retrieve_instance(*mr_uids)  # the client asks transfer-syntax=*
    assert compressed.file_meta.TransferSyntaxUID == JPEGLSLossless
    frames = client.retrieve_instance_frames(*mr_uids, frame_numbers=[3, 1])
    assert len(frames) == 2
    assert all(f[:2] == b"\xff\xd8" for f in frames)
    explicit_le = (("application/dicom", "1.2.840.10008.1.2.1"),)
    with pytest.raises(HTTPError) as refused:
        client.retrieve_instance(*mr_uids, media_types=explicit_le)  # Readroom never transcodes
    assert refused.value.response.status_code == 406

    # the assigned radiologist reads it; another patient sees nothing
    row = db.get(Case, case.id)
    assert row is not None
    row.status, row.assigned_radiologist_id = CaseStatus.ASSIGNED, radiologist.id
    db.commit()
    reader = client_of(live_server, radiologist)
    volume = reader.retrieve_series(study_uid, series_uid)
    by_uid = {str(ds.SOPInstanceUID): ds for ds in ct}
    for ds in volume:
        np.testing.assert_array_equal(ds.pixel_array, by_uid[ds.SOPInstanceUID].pixel_array)
    assert len(reader.search_for_studies()) == 2
    outsider = client_of(live_server, make_account(Role.PATIENT))
    assert outsider.search_for_studies() == []
    assert outsider.search_for_series(study_uid) == []
    with pytest.raises(HTTPError) as hidden:
        outsider.retrieve_series(study_uid, series_uid)
    assert hidden.value.response.status_code == 404
