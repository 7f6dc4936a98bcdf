"""QIDO-RS over HTTP (PS3.18 §10.6): matching, paging, includefield, and who sees what."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.audit.models import AuditEvent
from server.imaging.synthetic import SyntheticPatient
from tests.server.conftest import AccountFactory
from tests.server.factories import Account
from tests.server.imaging.dicomweb_support import (
    StoredStudy,
    add_case,
    ct_study,
    mr_study,
    store_study,
)

JSON = {"Accept": "application/dicom+json"}
STUDY_UID, SERIES_UID, SOP_UID = "0020000D", "0020000E", "00080018"
OTHER = SyntheticPatient(name="SYNTHETIC^BEA", patient_id="SYN-0002", accession_number="SYNACC0002")


@pytest.fixture
def ct(db: Session, live_app: FastAPI, patient: Account, radiologist: Account) -> StoredStudy:
    """The patient's CT (scout + 2 axial series of 3), their case assigned to the radiologist."""
    case = add_case(db, patient_id=patient.id, radiologist_id=radiologist.id)
    return store_study(db, live_app.state.blobs, case_id=case.id, datasets=ct_study())


@pytest.fixture
def mr(db: Session, live_app: FastAPI, patient: Account) -> StoredStudy:
    """A second case of the same patient: an MR study, unassigned."""
    case = add_case(db, patient_id=patient.id)
    return store_study(db, live_app.state.blobs, case_id=case.id, datasets=mr_study(seed=1))


@pytest.fixture
def stranger(db: Session, live_app: FastAPI, make_account: AccountFactory) -> StoredStudy:
    """Another patient's CT."""
    other = make_account(Role.PATIENT)
    case = add_case(db, patient_id=other.id)
    datasets = ct_study(seed=5, patient=OTHER)
    return store_study(db, live_app.state.blobs, case_id=case.id, datasets=datasets)


def uids(answer: list[dict], tag: str) -> list[str]:
    return [item[tag]["Value"][0] for item in answer]


def search(account: Account, path: str, **params: object) -> list[dict]:
    response = account.http.get(f"/dicomweb{path}", params=params, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/dicom+json"
    return response.json()


def test_study_search_returns_default_attributes(
    patient: Account, ct: StoredStudy, stranger: StoredStudy
) -> None:
    [study] = search(patient, "/studies")
    assert study[STUDY_UID]["Value"] == [ct.study_uid]
    assert study["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "SYNTHETIC^ALEX"}]}
    assert study["00080061"]["Value"] == ["CT"]
    assert study["00201206"]["Value"] == [3]
    assert study["00201208"]["Value"] == [7]
    assert study["00081190"]["Value"][0].endswith(f"/dicomweb/studies/{ct.study_uid}")
    assert study["00080056"]["Value"] == ["ONLINE"]
    assert "00280010" not in study  # Rows is not a study attribute
    assert list(study) == sorted(study)


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["ct", "mr"]),
        ({"PatientName": "synthetic^alex"}, ["ct", "mr"]),
        ({"PatientName": "SYN*"}, ["ct", "mr"]),
        ({"00100010": "*BEA"}, []),
        ({"ModalitiesInStudy": "MR"}, ["mr"]),
        ({"StudyDescription": "*BRAIN*"}, ["mr"]),
        ({"StudyDate": "19000101-20991231"}, ["ct", "mr"]),
        ({"StudyDate": "-19991231"}, []),
        ({"StudyDate": "20000101-"}, ["ct", "mr"]),
        ({"AccessionNumber": "SYNACC0001"}, ["ct", "mr"]),
        ({"AccessionNumber": "SYNACC000?"}, ["ct", "mr"]),
        ({"fuzzymatching": "false", "StudyTime": "0900-1000"}, ["ct"]),
    ],
)
def test_study_matching(
    patient: Account, ct: StoredStudy, mr: StoredStudy, params: dict, expected: list[str]
) -> None:
    found = uids(search(patient, "/studies", **params), STUDY_UID)
    by_name = {"ct": ct.study_uid, "mr": mr.study_uid}
    assert sorted(found) == sorted(by_name[n] for n in expected)


def test_uid_list_matching(patient: Account, ct: StoredStudy, mr: StoredStudy) -> None:
    both = search(patient, "/studies", StudyInstanceUID=f"{ct.study_uid},{mr.study_uid}")
    assert len(both) == 2
    one = search(patient, "/studies", StudyInstanceUID=f"1.2.3\\{mr.study_uid}")
    assert uids(one, STUDY_UID) == [mr.study_uid]


def test_paging_with_limit_and_offset(patient: Account, ct: StoredStudy) -> None:
    path = f"/studies/{ct.study_uid}/instances"
    everything = uids(search(patient, path), SOP_UID)
    assert len(everything) == 7
    first = patient.http.get(f"/dicomweb{path}", params={"limit": 3}, headers=JSON)
    assert "additional results" in first.headers["warning"]
    pages = [uids(first.json(), SOP_UID)]
    pages += [uids(search(patient, path, limit=3, offset=o), SOP_UID) for o in (3, 6, 9)]
    assert [len(p) for p in pages] == [3, 3, 1, 0]
    assert [u for p in pages for u in p] == everything


def test_paging_after_matching(patient: Account, ct: StoredStudy, mr: StoredStudy) -> None:
    params = {"PatientName": "SYN*", "limit": 1}
    first = patient.http.get("/dicomweb/studies", params=params, headers=JSON)
    assert "additional results" in first.headers["warning"]
    second = patient.http.get("/dicomweb/studies", params={**params, "offset": 1}, headers=JSON)
    assert "warning" not in second.headers
    found = uids(first.json(), STUDY_UID) + uids(second.json(), STUDY_UID)
    assert sorted(found) == sorted([ct.study_uid, mr.study_uid])
    assert search(patient, "/studies", ModalitiesInStudy="MR", offset=1) == []


def test_fuzzy_matching_is_refused_with_a_warning(patient: Account, ct: StoredStudy) -> None:
    response = patient.http.get(
        "/dicomweb/studies",
        params={"fuzzymatching": "true", "PatientName": "SYNTHETIC^ALEX"},
        headers=JSON,
    )
    assert response.status_code == 200
    assert "fuzzymatching" in response.headers["warning"]
    assert len(response.json()) == 1


def test_includefield(patient: Account, ct: StoredStudy) -> None:
    [plain] = search(patient, "/studies")
    assert "00081030" in plain  # StudyDescription among the defaults
    assert "00100030" in plain
    assert "00101010" not in plain
    [asked] = search(patient, "/studies", includefield=["InstitutionName", "00101010"])
    assert asked["00080080"]["Value"] == ["Readroom Synthetic Imaging"]
    assert asked["00101010"]["vr"] == "AS"
    [everything] = search(patient, "/studies", includefield="all")
    assert everything["00080080"]["Value"] == ["Readroom Synthetic Imaging"]
    assert "00200013" not in everything  # InstanceNumber differs between instances
    assert everything["00201208"]["Value"] == [7]
    series = search(patient, f"/studies/{ct.study_uid}/series", includefield="all")
    assert all("0008103E" in s for s in series)


def test_series_search(patient: Account, ct: StoredStudy) -> None:
    series = search(patient, f"/studies/{ct.study_uid}/series")
    assert uids(series, SERIES_UID) == ct.series_uids()
    assert [s["00201209"]["Value"][0] for s in series] == [1, 3, 3]
    assert all(s["00080060"]["Value"] == ["CT"] for s in series)
    assert all(s[STUDY_UID]["Value"] == [ct.study_uid] for s in series)
    assert "00100010" not in series[0]  # the study is fixed by the path
    lung = search(patient, f"/studies/{ct.study_uid}/series", SeriesDescription="*LUNG*")
    assert len(lung) == 1
    numbered = search(patient, f"/studies/{ct.study_uid}/series", SeriesNumber="2")
    assert uids(numbered, SERIES_UID) == [ct.series_uids()[1]]


def test_series_in_all_studies(patient: Account, ct: StoredStudy, mr: StoredStudy) -> None:
    everything = search(patient, "/series")
    assert len(everything) == 6
    assert "00100010" in everything[0]  # study attributes too when the study is not given
    mr_only = search(patient, "/series", Modality="MR")
    assert {s[STUDY_UID]["Value"][0] for s in mr_only} == {mr.study_uid}


def test_instance_search(patient: Account, ct: StoredStudy) -> None:
    series_uid = ct.series_uids()[1]
    found = search(patient, f"/studies/{ct.study_uid}/series/{series_uid}/instances")
    assert uids(found, SOP_UID) == [str(ds.SOPInstanceUID) for ds in ct.of_series(series_uid)]
    first = found[0]
    assert first["00280010"]["Value"] == [64]
    assert first["00080016"]["Value"] == ["1.2.840.10008.5.1.4.1.1.2"]
    assert first[SERIES_UID]["Value"] == [series_uid]
    numbered = search(patient, f"/studies/{ct.study_uid}/instances", InstanceNumber="2")
    assert len(numbered) == 2
    one = search(patient, "/instances", SOPInstanceUID=uids(found, SOP_UID)[2])
    assert len(one) == 1
    assert "00100010" in one[0]


def test_includefield_all_at_instance_level_is_the_header_without_bulk_data(
    patient: Account, ct: StoredStudy
) -> None:
    series_uid = ct.series_uids()[1]
    found = search(
        patient,
        f"/studies/{ct.study_uid}/series/{series_uid}/instances",
        includefield="all",
        limit=1,
    )
    [first] = found
    assert first["00280030"]["Value"] == [float(v) for v in ct.datasets[1].PixelSpacing]
    assert "7FE00010" not in first
    assert all(e.get("vr") not in ("OB", "OW") or "InlineBinary" in e for e in first.values())


def test_bad_query_is_a_problem_naming_the_parameter(patient: Account, ct: StoredStudy) -> None:
    response = patient.http.get("/dicomweb/studies", params={"PatientNmae": "X"}, headers=JSON)
    assert response.status_code == 400
    assert response.json()["field"] == "PatientNmae"
    response = patient.http.get("/dicomweb/studies", params={"limit": "-1"}, headers=JSON)
    assert response.status_code == 400


def test_accept_must_allow_dicom_json(patient: Account, ct: StoredStudy) -> None:
    response = patient.http.get("/dicomweb/studies", headers={"Accept": "application/xml"})
    assert response.status_code == 406
    assert patient.http.get("/dicomweb/studies", headers={"Accept": "*/*"}).status_code == 200


def test_search_needs_a_signed_in_caller(client, ct: StoredStudy) -> None:  # type: ignore[no-untyped-def]
    assert client.get("/dicomweb/studies").status_code == 401


def test_searches_never_show_other_patients_studies(
    patient: Account, ct: StoredStudy, mr: StoredStudy, stranger: StoredStudy
) -> None:
    assert stranger.study_uid not in uids(search(patient, "/studies"), STUDY_UID)
    assert search(patient, "/studies", StudyInstanceUID=stranger.study_uid) == []
    assert search(patient, "/studies", PatientName="*BEA*") == []
    assert search(patient, f"/studies/{stranger.study_uid}/series") == []
    assert search(patient, f"/studies/{stranger.study_uid}/instances") == []
    assert stranger.study_uid not in uids(search(patient, "/series"), STUDY_UID)
    assert stranger.study_uid not in uids(search(patient, "/instances"), STUDY_UID)


def test_radiologist_sees_only_assigned_cases(
    radiologist: Account, make_account: AccountFactory, ct: StoredStudy, mr: StoredStudy
) -> None:
    assert uids(search(radiologist, "/studies"), STUDY_UID) == [ct.study_uid]
    assert search(radiologist, f"/studies/{mr.study_uid}/series") == []
    other = make_account(Role.RADIOLOGIST)
    assert search(other, "/studies") == []


def test_admin_sees_all(
    admin: Account, ct: StoredStudy, mr: StoredStudy, stranger: StoredStudy
) -> None:
    found = uids(search(admin, "/studies"), STUDY_UID)
    assert sorted(found) == sorted([ct.study_uid, mr.study_uid, stranger.study_uid])


def test_searches_are_audited_per_case(
    db: Session, patient: Account, ct: StoredStudy, mr: StoredStudy
) -> None:
    search(patient, "/studies")
    search(patient, "/studies", PatientName="NOBODY")
    events = db.scalars(
        select(AuditEvent).where(AuditEvent.action == "dicomweb.search").order_by(AuditEvent.id)
    ).all()
    assert [(e.case_id, e.actor_id, e.object_type) for e in events] == [
        *sorted([(ct.case_id, patient.id, "study"), (mr.case_id, patient.id, "study")]),
        (None, patient.id, "study"),
    ]
    assert all("SYNTHETIC" not in (e.detail or "") for e in events)
