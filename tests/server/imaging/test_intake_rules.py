"""Pure intake rules: header parsing, verdicts, unpacking (no database, no HTTP)."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from pathlib import Path
from types import SimpleNamespace

import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue

from server.config import Settings
from server.imaging.dicom_header import HeaderError, read_header
from server.imaging.models import RefusalReason, UploadKind, Verdict
from server.imaging.unpack import ArchiveRefused, iter_candidates, unsafe_member_name
from server.imaging.verdicts import (
    CasePatient,
    decide,
    duplicate_verdict,
    is_companion_file,
    same_patient,
)
from tests.server.imaging.intake_support import (
    OTHER_PATIENT,
    TODAY,
    ct,
    extras,
    mr,
    old_ct,
    to_bytes,
)

CASE_PATIENT = CasePatient("Synthetic", "Alex", date(1970, 1, 1))
SETTINGS = Settings()


def header_of(ds: Dataset, tmp_path: Path):
    path = tmp_path / "f.dcm"
    path.write_bytes(to_bytes(ds))
    return read_header(path)


def verdict_of(ds: Dataset, tmp_path: Path, **kwargs):
    return decide(
        header_of(ds, tmp_path),
        patient=kwargs.pop("patient", CASE_PATIENT),
        submitted_on=kwargs.pop("submitted_on", TODAY),
        settings=SETTINGS,
        **kwargs,
    )


def test_header_fields_and_json_model(tmp_path: Path) -> None:
    ds = ct()[0]
    header = header_of(ds, tmp_path)
    assert header.sop_instance_uid == str(ds.SOPInstanceUID)
    assert header.modality == "CT"
    assert header.rows == 64
    assert header.patient_birth_date == date(1970, 1, 1)
    assert header.metadata["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "SYNTHETIC^ALEX"}]}
    assert "7FE00010" not in header.metadata  # never the pixels


@pytest.mark.parametrize(
    ("charset", "name"),
    [
        (None, "SYNTHETIC^ALEX"),
        (None, "DOE^JANE^^MS=\\DOE^J"),  # two names; groups, an empty trailing one dropped
        (None, "ROE^RICHARD==ROE"),
        ("ISO_IR 100", "MÜLLER^JÜRGEN"),
    ],
)
def test_person_names_indexed_as_pydicom_writes_them(
    tmp_path: Path, charset: str | None, name: str
) -> None:
    ds = ct()[0]
    if charset:
        ds.SpecificCharacterSet = charset
    ds.PatientName = ds.ReferringPhysicianName = name
    header = header_of(ds, tmp_path)
    reread = pydicom.dcmread(tmp_path / "f.dcm", stop_before_pixels=True)
    names = reread.PatientName
    expected = "\\".join(map(str, names)) if isinstance(names, MultiValue) else str(names)
    assert header.patient_name == header.referring_physician_name == expected


def test_ct_mr_stored_and_extras_not_counted(tmp_path: Path) -> None:
    assert verdict_of(ct()[0], tmp_path).verdict is Verdict.STORED
    assert verdict_of(mr()[0], tmp_path).is_image
    for ds in extras(ct()):
        decision = verdict_of(ds, tmp_path)
        assert decision.verdict is Verdict.STORED
        assert not decision.is_image


def test_too_old_counted_to_submission_day(tmp_path: Path) -> None:
    assert verdict_of(old_ct(400)[0], tmp_path).reason is RefusalReason.TOO_OLD
    ds = old_ct(365)[0]
    assert verdict_of(ds, tmp_path).verdict is Verdict.STORED
    later = TODAY + timedelta(days=1)
    assert verdict_of(ds, tmp_path, submitted_on=later).reason is RefusalReason.TOO_OLD
    undated = ct()[0]
    undated.StudyDate = ""
    assert verdict_of(undated, tmp_path).reason is RefusalReason.STUDY_DATE


def test_other_modality_and_sop_class(tmp_path: Path) -> None:
    ds = ct()[0]
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.128"  # PET
    ds.Modality = "PT"
    assert verdict_of(ds, tmp_path).reason is RefusalReason.MODALITY
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.11.1"  # GSPS
    ds.Modality = "CT"
    assert verdict_of(ds, tmp_path).reason is RefusalReason.SOP_CLASS
    mismatch = ct()[0]
    mismatch.Modality = "US"
    assert verdict_of(mismatch, tmp_path).reason is RefusalReason.MODALITY


def test_different_patient_held_for_review(tmp_path: Path) -> None:
    decision = verdict_of(ct(patient=OTHER_PATIENT)[0], tmp_path)
    assert decision.reason is RefusalReason.DIFFERENT_PATIENT
    assert decision.hold_for_review


@pytest.mark.parametrize(
    ("name", "birth", "case", "same"),
    [
        ("SYNTHETIC^ALEX", "19700101", CASE_PATIENT, True),
        ("Synthétic^Alex^M", "19700101", CASE_PATIENT, True),
        ("SYNTHETIC^A", "19700101", CASE_PATIENT, True),
        ("SYNTHETIC^ALEX", "19700102", CASE_PATIENT, False),
        ("OTHERSON^ALEX", "19700101", CASE_PATIENT, False),
        ("SYNTHETIC^JORDAN", "19700101", CASE_PATIENT, False),
        ("", "19700101", CASE_PATIENT, True),
        ("ANYONE^ATALL", "", CasePatient(None, None, None), True),
    ],
)
def test_same_patient(name: str, birth: str, case: CasePatient, same: bool, tmp_path: Path) -> None:
    ds = ct()[0]
    ds.PatientName, ds.PatientBirthDate = name, birth
    assert same_patient(header_of(ds, tmp_path), case) is same


def test_duplicates() -> None:
    assert duplicate_verdict(existing_sha256=None, sha256="a") is None
    assert duplicate_verdict(existing_sha256="a", sha256="a").verdict is Verdict.DUPLICATE
    assert duplicate_verdict(existing_sha256="a", sha256="b").reason is RefusalReason.CONFLICT


def test_unreadable_inputs(tmp_path: Path) -> None:
    path = tmp_path / "x"
    data = to_bytes(ct()[0])
    for content, reason in [
        (b"", RefusalReason.NOT_DICOM),
        (b"MZ" + b"\0" * 300, RefusalReason.NOT_DICOM),
        (data[:300], RefusalReason.UNREADABLE),
        (data[:-10], RefusalReason.UNREADABLE),
        (b"\0" * 128 + b"DICM" + b"\xff" * 64, RefusalReason.UNREADABLE),
    ]:
        path.write_bytes(content)
        with pytest.raises(HeaderError) as caught:
            read_header(path)
        assert caught.value.reason is reason


def test_absurd_element_length_is_unreadable(tmp_path: Path) -> None:
    data = bytearray(to_bytes(ct()[0]))
    at = data.find(b"\x08\x00\x30\x10")  # StudyDescription (LO): claim a huge length
    assert at > 0
    data[at + 6 : at + 8] = b"\xff\xff"
    path = tmp_path / "x"
    path.write_bytes(bytes(data))
    with pytest.raises(HeaderError):
        read_header(path)


def test_companion_files() -> None:
    for name in ("DICOMDIR", "AUTORUN.INF", "VIEWER/VIEWER.EXE", "README.TXT", "index.htm"):
        assert is_companion_file(name)
    assert not is_companion_file("DICOM/PT000000/ST000000/SE000000/IM000000")


@pytest.mark.parametrize(
    ("name", "unsafe"),
    [
        ("../evil", True),
        ("a/../../evil", True),
        ("/etc/passwd", True),
        ("C:\\Windows\\x", True),
        ("..\\evil", True),
        ("DICOM/IM1", False),
        ("a..b/c", False),
    ],
)
def test_unsafe_member_names(name: str, unsafe: bool) -> None:
    assert unsafe_member_name(name) is unsafe


def _limits(**overrides: int) -> SimpleNamespace:
    values = {"zip_max_members": 100, "zip_max_total_bytes": 10**9, "zip_max_ratio": 200}
    values.update(overrides)
    return SimpleNamespace(**values)


def _zip(tmp_path: Path, members: dict[str, bytes]) -> Path:
    path = tmp_path / "cd.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


def _candidates(path: Path, settings: SimpleNamespace, tmp_path: Path) -> list:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return list(
        iter_candidates(path, kind=UploadKind.ZIP, name="cd.zip", settings=settings, workdir=work)
    )


def test_zip_bomb_by_ratio_refused_per_file(tmp_path: Path) -> None:
    bomb = b"\0" * (8 * 1024 * 1024)  # compresses about 1000:1
    path = _zip(tmp_path, {"BOMB": bomb, "IM1": to_bytes(ct()[0])})
    candidates = _candidates(path, _limits(), tmp_path)
    assert candidates[0].reason is RefusalReason.TOO_LARGE
    assert candidates[1].path is not None


def test_zip_limits_refuse_the_archive(tmp_path: Path) -> None:
    path = _zip(tmp_path, {f"F{i}": b"x" * 100 for i in range(5)})
    with pytest.raises(ArchiveRefused, match="at most 4"):
        _candidates(path, _limits(zip_max_members=4), tmp_path)
    with pytest.raises(ArchiveRefused, match="unpacks to more"):
        _candidates(path, _limits(zip_max_total_bytes=400), tmp_path)
    (tmp_path / "not.zip").write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ArchiveRefused):
        _candidates(tmp_path / "not.zip", _limits(), tmp_path)


def test_truncated_zip_refused(tmp_path: Path) -> None:
    path = _zip(tmp_path, {"IM1": to_bytes(ct()[0])})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 30])  # the central directory is cut off
    with pytest.raises(ArchiveRefused):
        _candidates(path, _limits(), tmp_path)


def test_encrypted_member_refused(tmp_path: Path) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("IM1", b"x" * 200)
    data = bytearray(buf.getvalue())
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        data[data.find(signature) + flag_at] |= 0x1  # the "encrypted" bit
    path = tmp_path / "enc.zip"
    path.write_bytes(bytes(data))
    assert _candidates(path, _limits(), tmp_path)[0].reason is RefusalReason.ENCRYPTED


def test_member_files_are_temporary(tmp_path: Path) -> None:
    path = _zip(tmp_path, {"IM1": to_bytes(ct()[0]), "README.TXT": b"hello"})
    candidates = _candidates(path, _limits(), tmp_path)
    assert candidates[1].verdict is Verdict.SKIPPED
    member = candidates[0].path
    assert member is not None
    assert member.exists()
    candidates[0].discard()
    assert not member.exists()


def test_deflate_bomb_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from server.imaging import dicom_header

    monkeypatch.setattr(dicom_header, "DEFLATE_MAX_BYTES", 1024 * 1024)
    ds = ct(transfer_syntax="1.2.840.10008.1.2.1.99")[0]
    ds.add_new(0x00091010, "LO", "READROOM TEST")  # private creator
    ds.add_new(0x00091011, "UN", b"\0" * (3 * 1024 * 1024))  # inflates far beyond its size
    path = tmp_path / "bomb.dcm"
    path.write_bytes(to_bytes(ds))
    assert path.stat().st_size < 100_000
    with pytest.raises(HeaderError) as caught:
        read_header(path)
    assert caught.value.reason is RefusalReason.TOO_LARGE


def test_absurd_four_byte_length_is_unreadable(tmp_path: Path) -> None:
    ds = ct()[0]
    ds.add_new(0x00091010, "LO", "READROOM TEST")
    ds.add_new(0x00091011, "OB", b"\1" * 16)
    data = bytearray(to_bytes(ds))
    at = data.find(b"\x09\x00\x11\x10OB")
    data[at + 8 : at + 12] = b"\xf0\xff\xff\x7f"  # about 2 GB claimed in a 10 kB file
    path = tmp_path / "x.dcm"
    path.write_bytes(bytes(data))
    with pytest.raises(HeaderError) as caught:
        read_header(path)
    assert caught.value.reason is RefusalReason.UNREADABLE
