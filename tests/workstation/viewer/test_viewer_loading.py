"""Series loading: modality LUT, ordering by position, multi-frame, gaps, headers."""

from __future__ import annotations

import random
from copy import deepcopy
from datetime import date

import numpy as np
import pydicom
import pytest
from pydicom.uid import JPEG2000Lossless, JPEGLSLossless, RLELossless

from server.imaging.synthetic import make_ct_study, to_bytes
from workstation.viewer.inspector import tag_rows
from workstation.viewer.loading import load_series, split_series, strip_pixels
from workstation.viewer.presets import Window

DAY = date(2026, 11, 2)


def _hu(ds: pydicom.Dataset) -> np.ndarray:
    return ds.pixel_array * float(ds.RescaleSlope) + float(ds.RescaleIntercept)


def test_modality_lut_applied_once_into_int16(ct_series) -> None:
    volume = load_series(ct_series)
    assert volume.voxels.dtype == np.int16
    assert volume.shape == (12, 64, 64)
    # stored 0 with intercept -1024 is -1024 HU
    by_uid = {ds.SOPInstanceUID: ds for ds in ct_series}
    for i, info in enumerate(volume.slices):
        np.testing.assert_array_equal(volume.voxels[i], _hu(by_uid[info.sop_instance_uid]))
    assert volume.windows[0] == Window(40, 400, name="ABDOMEN")
    assert volume.modality == "CT"
    assert volume.pixel_spacing == (360 / 64, 360 / 64)


def test_repr_is_short_and_holds_no_header(ct_series) -> None:
    volume = load_series(ct_series)
    text = repr(volume)
    assert text.startswith("<SeriesVolume CT")
    assert "12x64x64" in text
    assert str(ct_series[0].PatientName) not in text
    assert len(text) < 80  # Textual's @work puts the repr of its arguments in the description


def test_non_integer_rescale_gives_float32(ct_series) -> None:
    datasets = [deepcopy(ds) for ds in ct_series[:3]]
    for ds in datasets:
        ds.RescaleSlope = "0.5"
        ds.RescaleIntercept = "-10.25"
    volume = load_series(datasets)
    assert volume.voxels.dtype == np.float32
    stored = datasets[0].pixel_array.astype(np.float64)
    index = [s.sop_instance_uid for s in volume.slices].index(datasets[0].SOPInstanceUID)
    np.testing.assert_allclose(volume.voxels[index], stored * 0.5 - 10.25)


def test_signed_storage_loads_the_same_hu(ct_series) -> None:
    signed = make_ct_study(
        slices=12, rows=64, cols=64, series=["axial-soft-tissue"], study_date=DAY, signed=True
    )
    np.testing.assert_array_equal(load_series(signed).voxels, load_series(ct_series).voxels)


def test_order_follows_position_not_instance_number_or_input(ct_series) -> None:
    datasets = [deepcopy(ds) for ds in ct_series]
    random.Random(4).shuffle(datasets)
    for i, ds in enumerate(datasets):
        ds.InstanceNumber = (i * 7) % 12 + 1  # misleading numbers
    volume = load_series([to_bytes(ds) for ds in datasets])
    distances = [s.distance for s in volume.slices]
    assert distances == sorted(distances)
    assert np.allclose(np.diff(distances), 25.0)
    assert volume.slice_spacing == pytest.approx(25.0)
    assert volume.uniform_spacing
    z = [s.position[2] for s in volume.slices]
    assert z == sorted(z)  # the normal of an axial series is +z


def test_order_along_an_oblique_normal(ct_series) -> None:
    datasets = [deepcopy(ds) for ds in ct_series[:5]]
    # rotate the plane: rows along +y, columns along -x -> normal (0,0,1) still, then
    # tilt: rows (1,0,0), columns (0, cos, sin) -> normal (0, -sin, cos)
    c, s = np.cos(0.3), np.sin(0.3)
    for k, ds in enumerate(reversed(datasets)):
        ds.ImageOrientationPatient = [1, 0, 0, 0, c, s]
        ds.ImagePositionPatient = [0, -s * 3 * k, c * 3 * k]
    volume = load_series(datasets)
    assert np.allclose(np.diff([sl.distance for sl in volume.slices]), 3.0)
    assert [sl.sop_instance_uid for sl in volume.slices] == [
        d.SOPInstanceUID for d in reversed(datasets)
    ]


def test_corrupt_instance_becomes_a_gap(ct_series) -> None:
    blobs = [to_bytes(ds) for ds in ct_series]
    broken = ct_series[5]
    blobs[5] = blobs[5][: len(blobs[5]) - 3000]  # truncated pixel data
    volume = load_series(blobs)
    assert volume.count == 12
    assert len(volume.gaps) == 1
    gap = volume.gaps[0]
    assert gap.sop_instance_uid == broken.SOPInstanceUID
    assert volume.is_gap(gap.index)
    assert not volume.valid[gap.index]
    assert volume.valid.sum() == 11
    # the rest is intact
    other = next(i for i in range(12) if i != gap.index)
    assert volume.voxels[other].max() > 0


def test_localizer_in_the_series_is_set_aside() -> None:
    study = make_ct_study(
        slices=4, rows=64, cols=64, study_date=DAY, series=["scout", "axial-soft-tissue"]
    )
    scout = deepcopy(study[0])
    axial = study[1:]
    scout.SeriesInstanceUID = axial[0].SeriesInstanceUID
    volume = load_series([scout, *axial])
    assert volume.count == 4
    assert len(volume.skipped) == 1
    assert scout.SOPInstanceUID in volume.skipped[0]
    assert volume.slice_spacing == pytest.approx(75.0)


def test_unreadable_source_is_skipped_not_fatal(ct_series) -> None:
    volume = load_series([b"not dicom at all", *ct_series[:3]])
    assert volume.count == 3
    assert len(volume.skipped) == 1


def test_mixed_series_are_refused(ct_series, mr_t2) -> None:
    with pytest.raises(ValueError, match="series"):
        load_series([*ct_series[:2], *mr_t2[:2]])
    assert len(split_series([*ct_series, *mr_t2])) == 2


def test_empty_input_is_refused() -> None:
    with pytest.raises(ValueError, match="no image"):
        load_series([])


def test_enhanced_multiframe_uses_per_frame_positions() -> None:
    enhanced = make_ct_study(
        slices=6, rows=32, cols=32, series=["axial-soft-tissue"], study_date=DAY, enhanced=True
    )
    plain = make_ct_study(slices=6, rows=32, cols=32, series=["axial-soft-tissue"], study_date=DAY)
    volume = load_series(enhanced)
    assert volume.count == 6
    assert volume.slice_spacing == pytest.approx(50.0)
    assert [s.frame for s in volume.slices] == [5, 4, 3, 2, 1, 0]
    np.testing.assert_array_equal(volume.voxels, load_series(plain).voxels)
    assert volume.windows[0].center == 40


def test_plain_multiframe_is_stacked_by_spacing(ct_series) -> None:
    ds = deepcopy(ct_series[0])
    frames = np.stack([ct_series[i].pixel_array for i in range(3)])
    ds.NumberOfFrames = 3
    ds.PixelData = frames.tobytes()
    ds.SpacingBetweenSlices = "2.5"
    volume = load_series([ds])
    assert volume.count == 3
    assert volume.slice_spacing == pytest.approx(2.5)


@pytest.mark.parametrize("syntax", [RLELossless, JPEGLSLossless, JPEG2000Lossless])
def test_compressed_series_decode(syntax, ct_series) -> None:
    compressed = make_ct_study(
        slices=3,
        rows=64,
        cols=64,
        series=["axial-soft-tissue"],
        study_date=DAY,
        transfer_syntax=syntax,
    )
    plain = make_ct_study(slices=3, rows=64, cols=64, series=["axial-soft-tissue"], study_date=DAY)
    volume = load_series([to_bytes(ds) for ds in compressed])
    assert not volume.gaps
    np.testing.assert_array_equal(volume.voxels, load_series(plain).voxels)


def test_monochrome1_is_flagged(ct_series) -> None:
    datasets = [deepcopy(ds) for ds in ct_series[:2]]
    for ds in datasets:
        ds.PhotometricInterpretation = "MONOCHROME1"
    assert load_series(datasets).monochrome1
    assert not load_series(ct_series[:2]).monochrome1


def test_mr_loads_without_rescale(mr_t2) -> None:
    volume = load_series(mr_t2)
    assert volume.modality == "MR"
    assert volume.voxels.dtype in (np.int16, np.uint16)
    np.testing.assert_array_equal(volume.voxels[0], mr_t2[-1].pixel_array)


def test_headers_kept_without_pixels_and_inspector_rows(ct_series) -> None:
    volume = load_series(ct_series[:2])
    header = volume.headers[0]
    assert "PixelData" not in header
    assert "PixelData" in ct_series[0]  # the caller's dataset is untouched
    assert strip_pixels(ct_series[0]).PatientID == ct_series[0].PatientID
    rows = tag_rows(ct_series[0])
    keywords = [r.keyword for r in rows]
    assert "PixelData" not in keywords
    assert "TransferSyntaxUID" in keywords
    name = next(r for r in rows if r.keyword == "PatientName")
    assert (name.tag, name.vr, name.value) == ("(0010,0010)", "PN", "SYNTHETIC^ALEX")
    window = next(r for r in rows if r.keyword == "WindowCenter")
    assert window.value == "40\\-600\\400"


def test_inspector_recurses_into_sequences() -> None:
    enhanced = make_ct_study(
        slices=2, rows=16, cols=16, series=["axial-soft-tissue"], study_date=DAY, enhanced=True
    )[0]
    rows = tag_rows(enhanced, limit=20)
    per_frame = next(r for r in rows if r.keyword == "PerFrameFunctionalGroupsSequence")
    assert per_frame.value == "2 item(s)"
    assert any(r.keyword == "ImagePositionPatient" and r.depth == 2 for r in rows)
    assert all(len(r.value) <= 20 for r in rows)
