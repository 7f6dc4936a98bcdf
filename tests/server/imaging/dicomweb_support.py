"""Arrange cases and stored studies for the DICOMweb tests, straight in the index.

:func:`store_study` puts each instance's bytes in the blob store and indexes it the way
intake does (Study / Series / Instance rows, ``metadata_json`` from
:func:`server.imaging.dicom_header.json_model`), without intake's validation, so the
retrieval tests do not depend on intake rules. Synthetic patients only.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date

import httpx
import pydicom
from pydicom.dataset import Dataset
from sqlalchemy.orm import Session

from server.cases.models import Case, CaseStatus
from server.imaging.json_model import json_model
from server.imaging.models import Instance, Series, Study
from server.imaging.synthetic import SyntheticPatient, make_ct_study, make_mr_study, to_bytes
from server.storage import BlobStore

TODAY = date.today()
SMALL = {"rows": 64, "cols": 64, "study_date": TODAY}


def add_case(session: Session, *, patient_id: int, radiologist_id: int | None = None) -> Case:
    """A committed case of ``patient_id``, assigned to ``radiologist_id`` if given."""
    case = Case(
        patient_user_id=patient_id,
        status=CaseStatus.ASSIGNED if radiologist_id else CaseStatus.SUBMITTED,
        assigned_radiologist_id=radiologist_id,
        patient_family_name="SYNTHETIC",
        patient_given_names="ALEX",
        patient_birth_date=date(1970, 1, 1),
    )
    session.add(case)
    session.commit()
    return case


@dataclass
class StoredStudy:
    """What was stored: the datasets and their exact file bytes, by SOPInstanceUID."""

    case_id: str
    datasets: list[Dataset]
    files: dict[str, bytes] = field(default_factory=dict)

    @property
    def study_uid(self) -> str:
        return str(self.datasets[0].StudyInstanceUID)

    def series_uids(self) -> list[str]:
        return list(dict.fromkeys(str(ds.SeriesInstanceUID) for ds in self.datasets))

    def of_series(self, series_uid: str) -> list[Dataset]:
        return [ds for ds in self.datasets if str(ds.SeriesInstanceUID) == series_uid]


def store_study(
    session: Session, store: BlobStore, *, case_id: str, datasets: Sequence[Dataset]
) -> StoredStudy:
    """Store and index ``datasets`` in case ``case_id`` (committed)."""
    stored = StoredStudy(case_id, list(datasets))
    studies: dict[str, Study] = {}
    series_rows: dict[str, Series] = {}
    for ds in datasets:
        data = to_bytes(ds)
        stored.files[str(ds.SOPInstanceUID)] = data
        blob = store.put_bytes(data)
        header = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        study_uid, series_uid = str(ds.StudyInstanceUID), str(ds.SeriesInstanceUID)
        if study_uid not in studies:
            studies[study_uid] = Study(
                case_id=case_id,
                study_instance_uid=study_uid,
                study_date=TODAY,
                patient_name=str(ds.PatientName),
                patient_id=str(ds.PatientID),
                modalities=str(ds.Modality),
            )
            session.add(studies[study_uid])
            session.flush()
        if series_uid not in series_rows:
            series_rows[series_uid] = Series(
                study_id=studies[study_uid].id,
                series_instance_uid=series_uid,
                modality=str(ds.Modality),
                series_number=int(ds.SeriesNumber),
            )
            session.add(series_rows[series_uid])
            session.flush()
        session.add(
            Instance(
                series_id=series_rows[series_uid].id,
                case_id=case_id,
                sop_instance_uid=str(ds.SOPInstanceUID),
                sop_class_uid=str(ds.SOPClassUID),
                instance_number=int(ds.InstanceNumber),
                transfer_syntax_uid=str(ds.file_meta.TransferSyntaxUID),
                number_of_frames=int(ds.get("NumberOfFrames", 1) or 1),
                blob_sha256=blob.sha256,
                size=blob.size,
                metadata_json=json_model(header),
            )
        )
    session.commit()
    return stored


def ct_study(
    seed: int = 0, *, patient: SyntheticPatient | None = None, **kwargs: object
) -> list[Dataset]:
    """A small CT study: a scout and two axial series of ``slices`` (default 3)."""
    options = {**SMALL, "slices": 3, **kwargs}
    return make_ct_study(seed=seed, patient=patient, **options)  # type: ignore[arg-type]


def mr_study(seed: int = 0, **kwargs: object) -> list[Dataset]:
    options = {**SMALL, "slices": 3, **kwargs}
    return make_mr_study(seed=seed, **options)  # type: ignore[arg-type]


def parse_multipart(response: httpx.Response) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related response: (headers, body) each (RFC 2046 §5.1)."""
    content_type = response.headers["content-type"]
    assert content_type.startswith("multipart/related"), content_type
    params = dict(p.strip().split("=", 1) for p in content_type.split(";")[1:] if "=" in p)
    boundary = params["boundary"].strip('"').encode()
    body = response.content
    parts = []
    for chunk in body.split(b"--" + boundary)[1:]:
        if chunk.startswith(b"--"):
            break
        head, _, payload = chunk.partition(b"\r\n\r\n")
        headers = {}
        for line in head.strip().split(b"\r\n"):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        parts.append((headers, payload[:-2] if payload.endswith(b"\r\n") else payload))
    return parts
