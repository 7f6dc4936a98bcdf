"""The synthetic study generator: determinism, IOD type 1 tags, geometry, CD layout, encodings."""

from __future__ import annotations

import io
import re
from datetime import date
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.fileset import FileSet
from pydicom.uid import JPEG2000, JPEGBaseline8Bit, JPEGLSNearLossless, RLELossless

from server.imaging.synthetic import (
    CT_TYPE1_KEYWORDS,
    MR_TYPE1_KEYWORDS,
    SUPPORTED_TRANSFER_SYNTAXES,
    CTSeries,
    SyntheticPatient,
    generate,
    make_ct_dose_report,
    make_ct_study,
    make_mr_study,
    make_secondary_capture,
    to_bytes,
    write_cd,
    zip_cd,
)

DAY = date(2026, 11, 2)
SMALL = {"rows": 64, "cols": 64, "study_date": DAY}


def _reread(ds: pydicom.Dataset) -> pydicom.Dataset:
    return pydicom.dcmread(io.BytesIO(to_bytes(ds)))


def test_same_seed_gives_same_bytes_and_uids() -> None:
    a = make_ct_study(slices=3, seed=7, **SMALL)
    b = make_ct_study(slices=3, seed=7, **SMALL)
    assert [to_bytes(x) for x in a] == [to_bytes(x) for x in b]
    c = make_ct_study(slices=3, seed=8, **SMALL)
    assert a[0].StudyInstanceUID != c[0].StudyInstanceUID


def test_uids_are_unique_and_valid() -> None:
    datasets = make_ct_study(slices=4, **SMALL) + make_mr_study(slices=4, **SMALL)
    sops = [str(ds.SOPInstanceUID) for ds in datasets]
    assert len(set(sops)) == len(sops)
    assert len({ds.StudyInstanceUID for ds in datasets}) == 2
    for uid in sops:
        assert re.fullmatch(r"2\.25\.[1-9][0-9]*", uid)
        assert len(uid) <= 64


def test_other_patient_gets_other_study() -> None:
    other = SyntheticPatient(name="SYNTHETIC^BEA", patient_id="SYN-0002")
    a = make_mr_study(slices=2, **SMALL)[0]
    b = make_mr_study(slices=2, patient=other, **SMALL)[0]
    assert a.StudyInstanceUID != b.StudyInstanceUID
    assert b.PatientName == "SYNTHETIC^BEA"


@pytest.mark.parametrize(
    ("maker", "keywords"),
    [(make_ct_study, CT_TYPE1_KEYWORDS), (make_mr_study, MR_TYPE1_KEYWORDS)],
)
def test_type1_tags_present_and_not_empty(maker, keywords) -> None:
    for ds in maker(slices=2, **SMALL):
        ds = _reread(ds)
        for keyword in keywords:
            assert keyword in ds, keyword
            assert ds[keyword].value not in (None, "", b"", []), keyword
        for keyword in (
            "PatientName",
            "PatientID",
            "StudyDate",
            "AccessionNumber",
            "ReferringPhysicianName",
            "StudyDescription",
            "BodyPartExamined",
        ):
            assert str(ds[keyword].value), keyword
        assert ds.file_meta.MediaStorageSOPInstanceUID == ds.SOPInstanceUID


def test_ct_has_three_series_and_hu_ranges() -> None:
    datasets = make_ct_study(slices=6, rows=128, cols=128, study_date=DAY)
    by_series: dict[str, list[pydicom.Dataset]] = {}
    for ds in datasets:
        by_series.setdefault(ds.SeriesDescription, []).append(ds)
    assert len(by_series) == 3
    assert any("LOCALIZER" in ds.ImageType for ds in datasets)
    soft = next(v for k, v in by_series.items() if "SOFT" in k)
    hu = np.stack([d.pixel_array * float(d.RescaleSlope) + float(d.RescaleIntercept) for d in soft])
    assert hu.min() <= -990  # air
    assert hu.max() >= 700  # bone
    assert ((hu > 30) & (hu < 80)).any()  # soft tissue
    ds = soft[0]
    assert float(ds.RescaleIntercept) == -1024
    assert ds.WindowCenter[0] == 40
    assert list(ds.WindowCenterWidthExplanation)[:2] == ["ABDOMEN", "LUNG"]


@pytest.mark.parametrize("maker", [make_ct_study, make_mr_study])
def test_positions_step_by_spacing_along_normal(maker) -> None:
    datasets = [d for d in maker(slices=8, **SMALL) if "LOCALIZER" not in d.ImageType]
    series_uid = datasets[0].SeriesInstanceUID
    series = [d for d in datasets if d.SeriesInstanceUID == series_uid]
    iop = np.array(series[0].ImageOrientationPatient, float)
    normal = np.cross(iop[:3], iop[3:])
    distances = np.array([np.dot(normal, np.array(d.ImagePositionPatient, float)) for d in series])
    steps = np.abs(np.diff(distances))
    assert np.allclose(steps, float(series[0].SpacingBetweenSlices), atol=1e-3)
    assert np.allclose(steps, float(series[0].SliceThickness), atol=1e-3)


def test_mr_is_unsigned_monochrome2_without_rescale() -> None:
    for ds in make_mr_study(slices=2, **SMALL):
        assert ds.PhotometricInterpretation == "MONOCHROME2"
        assert ds.PixelRepresentation == 0
        assert "RescaleIntercept" not in ds
        assert "WindowCenter" in ds
    assert {d.SeriesDescription for d in make_mr_study(slices=1, **SMALL)} == {
        "AX T1 SE",
        "AX T2 TSE",
        "AX FLAIR",
    }


@pytest.mark.parametrize("transfer_syntax", SUPPORTED_TRANSFER_SYNTAXES, ids=lambda u: u.name)
@pytest.mark.parametrize("signed", [False, True])
def test_transfer_syntax_round_trips(transfer_syntax, signed) -> None:
    ref = make_ct_study(slices=2, series=[CTSeries.AXIAL_SOFT_TISSUE], **SMALL)[1]
    expected = ref.pixel_array.astype(float) - 1024
    ds = make_ct_study(
        slices=2,
        series=[CTSeries.AXIAL_SOFT_TISSUE],
        signed=signed,
        transfer_syntax=transfer_syntax,
        **SMALL,
    )[1]
    back = _reread(ds)
    assert back.file_meta.TransferSyntaxUID == transfer_syntax
    hu = back.pixel_array.astype(float) * float(back.RescaleSlope) + float(back.RescaleIntercept)
    if transfer_syntax == JPEGLSNearLossless:
        assert np.abs(hu - expected).max() <= 2
    elif transfer_syntax == JPEG2000:
        assert np.abs(hu - expected).mean() < 10
    else:
        assert np.array_equal(hu, expected)


def test_enhanced_ct_and_mr_are_multiframe_with_per_frame_positions() -> None:
    ct = _reread(make_ct_study(slices=5, series=["axial-soft-tissue"], enhanced=True, **SMALL)[0])
    assert ct.NumberOfFrames == 5
    assert ct.pixel_array.shape == (5, 64, 64)
    zs = [
        float(f.PlanePositionSequence[0].ImagePositionPatient[2])
        for f in ct.PerFrameFunctionalGroupsSequence
    ]
    assert np.allclose(np.diff(zs), -60.0)
    shared = ct.SharedFunctionalGroupsSequence[0]
    assert float(shared.PixelValueTransformationSequence[0].RescaleIntercept) == -1024
    mr = _reread(make_mr_study(slices=3, series=["t2"], enhanced=True, **SMALL)[0])
    assert mr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.4.1"
    assert mr.pixel_array.shape == (3, 64, 64)


def test_secondary_capture_and_dose_report_join_the_study() -> None:
    study = make_ct_study(slices=1, series=["axial-soft-tissue"], **SMALL)
    sc = _reread(make_secondary_capture(study))
    sr = _reread(make_ct_dose_report(study))
    assert sc.StudyInstanceUID == sr.StudyInstanceUID == study[0].StudyInstanceUID
    assert sc.pixel_array.shape == (256, 256)
    assert sr.Modality == "SR"
    assert sr.ContentSequence[0].MeasuredValueSequence[0].NumericValue > 0


@pytest.mark.parametrize("syntax", [JPEGBaseline8Bit, RLELossless])
def test_secondary_capture_compressed(syntax) -> None:
    study = make_ct_study(slices=1, series=["axial-soft-tissue"], **SMALL)
    plain = make_secondary_capture(study).pixel_array.astype(int)
    sc = _reread(make_secondary_capture(study, transfer_syntax=syntax))
    assert sc.file_meta.TransferSyntaxUID == syntax
    assert np.abs(sc.pixel_array.astype(int) - plain).mean() < 3


def test_cd_layout(tmp_path: Path) -> None:
    study = make_ct_study(slices=3, **SMALL)
    study += [make_secondary_capture(study), make_ct_dose_report(study)]
    root = write_cd(study, tmp_path / "cd")
    assert (root / "DICOMDIR").is_file()
    for name in ("README.TXT", "AUTORUN.INF", "INDEX.HTM", "VIEWER/VIEWER.EXE"):
        assert (root / name).is_file(), name
    files = [p for p in (root / "DICOM").rglob("*") if p.is_file()]
    assert len(files) == len(study)
    for path in files:
        for part in path.relative_to(root).parts:
            assert re.fullmatch(r"[A-Z0-9_]{1,8}", part), part
    dicomdir = pydicom.dcmread(root / "DICOMDIR")
    fs = FileSet(dicomdir)
    assert len(fs) == len(study)
    loaded = {inst.load().SOPInstanceUID for inst in fs}
    assert loaded == {ds.SOPInstanceUID for ds in study}
    assert fs.find(PatientID=study[0].PatientID)


def test_zip_cd_is_deterministic(tmp_path: Path) -> None:
    study = make_mr_study(slices=2, series=["t1"], **SMALL)
    a = zip_cd(write_cd(study, tmp_path / "a"))
    b = zip_cd(write_cd(study, tmp_path / "b"))
    assert isinstance(a, bytes)
    assert a == b


def test_generate_writes_a_cd_and_a_zip(tmp_path: Path) -> None:
    out = generate("mr", tmp_path / "mr", slices=2, study_date=DAY, zip_output=True)
    assert out.suffix == ".zip"
    assert out.stat().st_size > 0
    assert (tmp_path / "mr" / "DICOMDIR").is_file()
    with pytest.raises(ValueError, match="kind"):
        generate("xr", tmp_path / "x")  # type: ignore[arg-type]


def test_unsupported_transfer_syntax_is_refused() -> None:
    with pytest.raises(ValueError, match="unsupported transfer syntax"):
        make_ct_study(slices=1, transfer_syntax="1.2.840.10008.1.2.4.50", **SMALL)


@pytest.mark.slow
def test_300_slices_of_512_are_fast() -> None:
    import time

    start = time.perf_counter()
    datasets = make_ct_study(slices=300, series=["axial-soft-tissue"], study_date=DAY)
    assert len(datasets) == 300
    assert time.perf_counter() - start < 10
