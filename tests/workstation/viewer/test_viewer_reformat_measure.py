"""Reformats (orientation and aspect), measurement in mm, presets and the overlay."""

from __future__ import annotations

import math

import numpy as np
import pytest

from workstation.viewer.frame import ViewGeometry, resample_map
from workstation.viewer.loading import load_series
from workstation.viewer.measure import Measurement, distance_mm
from workstation.viewer.overlay import Overlay
from workstation.viewer.presets import (
    Window,
    WindowPreset,
    default_window,
    histogram_window,
    presets_for,
    windows_from_dataset,
)
from workstation.viewer.reformat import Plane, plane_count, reformat


def test_reformat_shapes_spacing_and_aspect(ct_series) -> None:
    volume = load_series(ct_series)  # 12 slices 25 mm apart, 64x64 of 5.625 mm
    axial = reformat(volume, Plane.AXIAL, 3)
    assert axial.pixels.shape == (64, 64)
    assert axial.aspect == pytest.approx(1.0)
    coronal = reformat(volume, Plane.CORONAL, 32)
    assert coronal.pixels.shape == (12, 64)
    assert coronal.spacing == (pytest.approx(25.0), pytest.approx(5.625))
    assert coronal.aspect == pytest.approx(25.0 / 5.625)
    sagittal = reformat(volume, Plane.SAGITTAL, 10)
    assert sagittal.pixels.shape == (12, 64)
    assert plane_count(volume, Plane.SAGITTAL) == 64
    assert reformat(volume, Plane.CORONAL, 999).index == 63  # clamped


def test_coronal_has_head_at_the_top(ct_series) -> None:
    volume = load_series(ct_series)
    coronal = reformat(volume, Plane.CORONAL, 20)
    top = volume.voxels[-1, 20, :]  # the most superior slice (largest z)
    np.testing.assert_array_equal(coronal.pixels[0], top)
    np.testing.assert_array_equal(
        reformat(volume, Plane.SAGITTAL, 7).pixels[-1], volume.voxels[0, :, 7]
    )


def test_reformat_is_aspect_correct_on_screen(ct_series) -> None:
    coronal = reformat(load_series(ct_series), Plane.CORONAL, 30)
    # 12 x 25 mm = 300 mm tall, 64 x 5.625 mm = 360 mm wide
    geometry = ViewGeometry((200, 200), coronal.pixels.shape, coronal.spacing)
    rmap = resample_map(geometry)
    assert rmap.outside is not None
    inside_rows = int((~rmap.outside[:, 100]).sum())
    assert inside_rows == pytest.approx(200 * 300 / 360, abs=1)


def test_distance_mm() -> None:
    assert distance_mm((0, 0), (3, 4), (1.0, 1.0)) == 5.0
    assert distance_mm((10, 10), (10, 20), (0.5, 0.7)) == pytest.approx(7.0)
    assert distance_mm((0, 0), (4, 0), (2.5, 0.7)) == pytest.approx(10.0)
    # a reformat: rows 5 mm apart (slice spacing), columns 0.7 mm
    assert distance_mm((0, 0), (3, 40), (5.0, 0.7)) == pytest.approx(math.hypot(15, 28))
    m = Measurement((1, 1), (1, 11), (0.5, 0.5))
    assert m.label == "5.0 mm"


def test_presets() -> None:
    assert WindowPreset.BRAIN.window == Window(40, 80, name="Brain")
    assert WindowPreset.LUNG.window.label == "W:1500 L:-600"
    assert len(presets_for("CT")) == 8
    assert presets_for("MR") == []
    assert Window(40, 80).moved(d_center=10, d_width=-200).width == 1
    with pytest.raises(ValueError, match="width"):
        Window(0, 0)


def test_windows_from_dataset_and_defaults(ct_series, mr_t2) -> None:
    windows = windows_from_dataset(ct_series[0])
    assert [w.name for w in windows] == ["ABDOMEN", "LUNG", "BONE"]
    assert windows[1] == Window(-600, 1500, name="LUNG")
    assert windows_from_dataset(mr_t2[0])[0].name == "AUTO"
    empty = ct_series[0].copy()
    del empty.WindowCenter
    assert windows_from_dataset(empty) == []
    assert default_window("CT", [], np.zeros(3)) == WindowPreset.ABDOMEN.window
    assert default_window("MR", windows, np.zeros(3)) == windows[0]


def test_histogram_window_uses_percentiles() -> None:
    values = np.concatenate([np.arange(1000), [10**6]]).astype(np.float32)
    window = histogram_window(values)
    lo, hi = np.percentile(values, [1, 99])
    assert hi < 1000  # the outlier does not stretch the window
    assert window.center == pytest.approx((lo + hi) / 2)
    assert window.width == pytest.approx(hi - lo)
    assert histogram_window(np.array([np.nan], np.float32)).width == 1.0


def test_overlay_texts() -> None:
    overlay = Overlay(
        "AX 5mm",
        "axial",
        4,
        60,
        WindowPreset.LUNG.window,
        zoom=2.0,
        position_mm=-12.5,
        thickness_mm=5.0,
        gap=True,
    )
    assert overlay.top_left == "AX 5mm [axial]"
    assert overlay.top_right == "5/60"
    assert overlay.bottom_left == "Pos -12.5 mm  Thk 5 mm  MISSING SLICE"
    assert overlay.bottom_right == "Lung W:1500 L:-600  x2"


def test_draw_line_clips_and_copies() -> None:
    from workstation.viewer.measure import draw_line, line_pixels

    frame = np.zeros((5, 5), np.uint8)
    drawn = draw_line(frame, (0, 0), (4, 4))
    assert frame.sum() == 0
    assert [drawn[i, i] for i in range(5)] == [255] * 5
    assert drawn.sum() == 255 * 5
    clipped = draw_line(frame, (-3, 2), (8, 2), value=9)
    assert clipped[:, 2].tolist() == [9] * 5
    rows, cols = line_pixels((0, 0), (0, 3))
    assert set(rows.tolist()) == {0}
    assert sorted(set(cols.tolist())) == [0, 1, 2, 3]
