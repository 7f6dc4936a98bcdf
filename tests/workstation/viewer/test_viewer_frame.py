"""Frame preparation: geometry, nearest-neighbour resampling, LUT windowing."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.viewer.frame import (
    FramePreparer,
    ViewGeometry,
    build_lut,
    prepare_frame,
    resample,
    resample_map,
)
from workstation.viewer.presets import Window, WindowPreset
from workstation.viewer.windowing import VOILUTFunction, apply_window


def test_identity_geometry_is_a_copy() -> None:
    image = np.arange(16, dtype=np.int16).reshape(4, 4)
    out = resample(image, resample_map(ViewGeometry((4, 4), (4, 4))))
    np.testing.assert_array_equal(out, image)


def test_fit_keeps_square_pixels_and_pads() -> None:
    geometry = ViewGeometry((180, 160), (512, 512), (0.7, 0.7))
    rmap = resample_map(geometry)
    assert rmap.flat_index.shape == (180, 160)
    assert geometry.scale == pytest.approx(160 / (512 * 0.7))
    assert rmap.outside is not None
    # 160x160 image centred: 10 rows of padding above and below
    assert rmap.outside[:10].all()
    assert not rmap.outside[10:170].any()
    assert rmap.outside[170:].all()


def test_anisotropic_pixels_are_stretched() -> None:
    # 10 rows of 4 mm and 40 columns of 1 mm: a 40 x 40 mm square
    geometry = ViewGeometry((80, 80), (10, 40), (4.0, 1.0))
    rmap = resample_map(geometry)
    assert rmap.outside is None
    assert np.unique(rmap.rows).size == 10
    assert np.bincount(rmap.rows).tolist() == [8] * 10  # each source row drawn 8 times


def test_zoom_and_pan() -> None:
    image = np.arange(100, dtype=np.int16).reshape(10, 10)
    zoomed = resample(image, resample_map(ViewGeometry((10, 10), (10, 10), zoom=2.0)))
    # the centre 5x5 block: target pixel 0 samples source (2.25, 2.25) -> (2, 2)
    np.testing.assert_array_equal(zoomed[0, :4], [22, 23, 23, 24])
    np.testing.assert_array_equal(zoomed[:4, 0], [22, 32, 32, 42])
    panned = ViewGeometry((10, 10), (10, 10), zoom=2.0, pan=(-2.5, -2.5))
    np.testing.assert_array_equal(resample(image, resample_map(panned))[0, :2], [0, 0])


def test_to_source_and_back() -> None:
    geometry = ViewGeometry((90, 160), (512, 400), (0.5, 0.8), zoom=1.7, pan=(12, -30))
    for y, x in [(0, 0), (45, 80), (89, 159)]:
        r, c = geometry.to_source(y, x)
        assert geometry.to_target(r, c) == pytest.approx((y, x))


@pytest.mark.parametrize("dtype", [np.int16, np.uint16])
def test_lut_matches_direct_windowing(dtype) -> None:
    window = Window(40, 400)
    info = np.iinfo(dtype)
    values = np.linspace(info.min, info.max, 5001).astype(dtype)
    lut = build_lut(window, np.dtype(dtype).str)
    np.testing.assert_array_equal(lut.take(values.view(np.uint16)), apply_window(values, 40, 400))


def test_lut_refuses_other_types() -> None:
    with pytest.raises(ValueError, match="int16"):
        build_lut(Window(0, 1), "<f4")


def test_prepare_frame_int16_float_and_sigmoid_agree() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(-1024, 2000, (64, 48)).astype(np.int16)
    geometry = ViewGeometry((40, 30), (64, 48), (0.9, 0.9), zoom=1.3)
    for window in (WindowPreset.LUNG.window, Window(40, 80, VOILUTFunction.SIGMOID)):
        a = prepare_frame(image, geometry, window)
        b = prepare_frame(image.astype(np.float32), geometry, window)
        np.testing.assert_array_equal(a, b)


def test_outside_pixels_are_background_and_invert_applies() -> None:
    image = np.full((8, 8), 3000, dtype=np.int16)  # white in any CT window
    geometry = ViewGeometry((10, 8), (8, 8))
    frame = prepare_frame(image, geometry, Window(40, 400))
    assert frame[0].tolist() == [0] * 8
    assert frame[5].tolist() == [255] * 8
    inverted = FramePreparer(geometry, Window(40, 400), invert=True).prepare(image)
    assert inverted[5].tolist() == [0] * 8
    mono1 = prepare_frame(image, geometry, Window(40, 400), monochrome1=True)
    assert mono1[5].tolist() == [0] * 8


def test_non_contiguous_reformat_views_work() -> None:
    volume = np.arange(4 * 6 * 8, dtype=np.int16).reshape(4, 6, 8)
    coronal = volume[::-1, 2, :]
    frame = prepare_frame(coronal, ViewGeometry((4, 8), (4, 8)), Window(100, 200))
    assert frame.shape == (4, 8)
    np.testing.assert_array_equal(frame, apply_window(coronal, 100, 200))
