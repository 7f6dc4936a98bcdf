"""Helpers for the intake tests: small synthetic files, a case, the tus client side.

Synthetic patients only. Images are 64×64 so every test stays fast.
"""

from __future__ import annotations

import base64
import hashlib
import io
from collections.abc import Sequence
from datetime import date, timedelta

import httpx
import numpy as np
from fastapi import FastAPI
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import JPEGBaseline8Bit, JPEGLossless, JPEGLosslessSV1
from sqlalchemy.orm import Session

from server.cases.models import Case, CaseStatus
from server.imaging.models import UploadState
from server.imaging.routes_upload import get_runner
from server.imaging.synthetic import (
    SyntheticPatient,
    make_ct_dose_report,
    make_ct_study,
    make_mr_study,
    make_secondary_capture,
    to_bytes,
)

TODAY = date.today()
PATIENT = SyntheticPatient()  # SYNTHETIC^ALEX, born 1970-01-01
OTHER_PATIENT = SyntheticPatient(
    name="OTHERSON^JORDAN", patient_id="SYN-0002", birth_date="19820505", sex="F"
)
TUS = {"Tus-Resumable": "1.0.0"}


def add_case(session: Session, *, patient_id: int, status: CaseStatus = CaseStatus.DRAFT) -> Case:
    """A committed case about the synthetic patient."""
    case = Case(
        patient_user_id=patient_id,
        status=status,
        patient_family_name="Synthetic",
        patient_given_names="Alex",
        patient_birth_date=date(1970, 1, 1),
    )
    session.add(case)
    session.commit()
    return case


def ct(
    *,
    slices: int = 2,
    transfer_syntax: str = "1.2.840.10008.1.2.1",
    patient: SyntheticPatient = PATIENT,
    study_date: date = TODAY,
    seed: int = 0,
    enhanced: bool = False,
) -> list[Dataset]:
    return make_ct_study(
        patient=patient,
        slices=slices,
        rows=64,
        cols=64,
        series=["axial-soft-tissue"],
        study_date=study_date,
        transfer_syntax=transfer_syntax,
        seed=seed,
        enhanced=enhanced,
    )


def mr(*, slices: int = 2, enhanced: bool = False, seed: int = 0) -> list[Dataset]:
    return make_mr_study(
        patient=PATIENT,
        slices=slices,
        rows=64,
        cols=64,
        series=["t1"],
        study_date=TODAY,
        enhanced=enhanced,
        seed=seed,
    )


def old_ct(days: int = 400) -> list[Dataset]:
    return ct(study_date=TODAY - timedelta(days=days), seed=7)


def extras(study: Sequence[Dataset]) -> list[Dataset]:
    """A secondary capture (dose screen) and a dose SR of ``study``."""
    return [make_secondary_capture(study), make_ct_dose_report(study)]


def jpeg_encoded(ds: Dataset, transfer_syntax: str) -> Dataset:
    """``ds`` re-encoded as JPEG Baseline (a real 8-bit JPEG from Pillow) or labelled JPEG
    Lossless with framed stand-in data: intake stores bytes as received and never decodes
    them, so only the framing matters for it."""
    ds = ds.copy()
    ds.file_meta = ds.file_meta.copy()
    pixels = np.frombuffer(ds.PixelData, dtype="<u2").reshape(ds.Rows, ds.Columns)
    eight = (pixels >> 4).astype(np.uint8)
    if transfer_syntax == JPEGBaseline8Bit:
        buf = io.BytesIO()
        Image.fromarray(eight).save(buf, format="JPEG", quality=90)
        frame = buf.getvalue()
        ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
        ds.PixelRepresentation = 0
    else:
        assert transfer_syntax in (JPEGLossless, JPEGLosslessSV1)
        frame = b"\xff\xd8\xff\xc3" + eight.tobytes()[:512] + b"\xff\xd9"
    ds.PixelData = encapsulate([frame])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    return ds


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def metadata(**values: str) -> str:
    return ",".join(f"{key} {b64(value)}" for key, value in values.items())


def tus_create(
    http: httpx.Client, *, case_id: str, length: int, filename: str, kind: str | None = None
) -> str:
    """POST /uploads; returns the upload URL path."""
    meta = {"case_id": case_id, "filename": filename}
    if kind:
        meta["kind"] = kind
    response = http.post(
        "/uploads",
        headers={**TUS, "Upload-Length": str(length), "Upload-Metadata": metadata(**meta)},
    )
    assert response.status_code == 201, response.text
    return response.headers["Location"]


def tus_patch(
    http: httpx.Client, url: str, data: bytes, *, offset: int, checksum: str | None = "sha1"
) -> httpx.Response:
    headers = {
        **TUS,
        "Content-Type": "application/offset+octet-stream",
        "Upload-Offset": str(offset),
    }
    if checksum:
        digest = hashlib.new(checksum, data).digest()
        headers["Upload-Checksum"] = f"{checksum} {base64.b64encode(digest).decode()}"
    return http.patch(url, content=data, headers=headers)


def upload_bytes(
    http: httpx.Client,
    app: FastAPI,
    *,
    case_id: str,
    data: bytes,
    filename: str,
    kind: str | None = None,
    chunk: int = 256 * 1024,
) -> str:
    """A whole tus upload in chunks; waits for its ingestion. Returns the upload id."""
    url = tus_create(http, case_id=case_id, length=len(data), filename=filename, kind=kind)
    offset = 0
    while offset < len(data):
        response = tus_patch(http, url, data[offset : offset + chunk], offset=offset)
        assert response.status_code == 204, response.text
        offset = int(response.headers["Upload-Offset"])
    upload_id = url.rsplit("/", 1)[1]
    wait_ingested(app, upload_id)
    return upload_id


def wait_ingested(app: FastAPI, upload_id: str) -> UploadState | None:
    """Block until the background ingestion of ``upload_id`` ended (no sleeping)."""
    return get_runner(app).wait(upload_id, timeout=60)


def upload_status(http: httpx.Client, case_id: str, upload_id: str) -> dict:
    response = http.get(f"/cases/{case_id}/uploads/{upload_id}")
    assert response.status_code == 200, response.text
    return response.json()


def stow_body(parts: Sequence[bytes], *, boundary: str = "rr-test-boundary") -> tuple[bytes, str]:
    """A multipart/related body of application/dicom parts and its Content-Type."""
    out = io.BytesIO()
    for data in parts:
        out.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(f"--{boundary}--\r\n".encode())
    return out.getvalue(), f'multipart/related; type="application/dicom"; boundary={boundary}'


__all__ = [
    "OTHER_PATIENT",
    "PATIENT",
    "TODAY",
    "TUS",
    "add_case",
    "ct",
    "extras",
    "jpeg_encoded",
    "mr",
    "old_ct",
    "stow_body",
    "to_bytes",
    "tus_create",
    "tus_patch",
    "upload_bytes",
    "upload_status",
    "wait_ingested",
]
