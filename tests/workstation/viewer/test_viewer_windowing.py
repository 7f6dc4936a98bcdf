"""VOI LUT maths against values worked out by hand from PS3.3 C.11.2.1.2 / C.11.2.1.3."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.viewer.windowing import (
    VOILUTFunction,
    apply_window,
    window_linear,
    window_linear_exact,
    window_sigmoid,
)


def test_linear_boundaries_center_40_width_400() -> None:
    # c - 0.5 - (w-1)/2 = 40 - 0.5 - 199.5 = -160  -> 0 at and below
    # c - 0.5 + (w-1)/2 = 40 - 0.5 + 199.5 = 239   -> 255 above
    x = np.array([-1000, -160, -159, 39.5, 239, 240, 3000])
    # -159: ((-159 - 39.5) / 399 + 0.5) * 255 = 0.639 -> 1
    # 39.5: 0.5 * 255 = 127.5 -> 128 (half up)
    # 239: ((239 - 39.5) / 399 + 0.5) * 255 = 255.0
    assert window_linear(x, 40, 400).tolist() == [0, 0, 1, 128, 255, 255, 255]


def test_linear_brain_window() -> None:
    # c=40 w=80: lower = 40 - 0.5 - 39.5 = 0, upper = 40 - 0.5 + 39.5 = 79
    x = np.array([0, 1, 20, 79, 80])
    # 1: ((1 - 39.5)/79 + 0.5) * 255 = 3.228 -> 3 ; 20: ((20-39.5)/79+0.5)*255 = 64.56 -> 65
    assert window_linear(x, 40, 80).tolist() == [0, 3, 65, 255, 255]


def test_linear_width_one_is_a_threshold() -> None:
    # w=1: x <= c - 0.5 -> 0, x > c - 0.5 -> 255
    assert window_linear(np.array([9, 9.5, 9.6, 10]), 10, 1).tolist() == [0, 0, 255, 255]


def test_linear_exact_boundaries() -> None:
    # c=40 w=400: x <= -160 -> 0, x > 240 -> 255, else ((x - 40)/400 + 0.5) * 255
    x = np.array([-160, -159, 40, 240, 241])
    # -159: (-199/400 + 0.5) * 255 = 0.6375 -> 1 ; 40: 127.5 -> 128 ; 240: 255
    assert window_linear_exact(x, 40, 400).tolist() == [0, 1, 128, 255, 255]


def test_sigmoid_values() -> None:
    # 255 / (1 + exp(-4 (x - c) / w)); c=0 w=100
    x = np.array([0.0, 25.0, -25.0, 1e6, -1e6])
    # 25: 255 / (1 + e^-1) = 186.4 -> 186 ; -25: 255 / (1 + e) = 68.6 -> 69
    assert window_sigmoid(x, 0, 100).tolist() == [128, 186, 69, 255, 0]


@pytest.mark.parametrize("func", [window_linear, window_linear_exact, window_sigmoid])
def test_invalid_width_is_refused(func) -> None:
    with pytest.raises(ValueError, match="width"):
        func(np.zeros(2), 0, 0)


def test_monochrome1_and_user_invert() -> None:
    x = np.array([-1000, 40, 1000])
    plain = apply_window(x, 40, 400)
    assert plain.tolist() == [0, 128, 255]
    assert apply_window(x, 40, 400, monochrome1=True).tolist() == [255, 127, 0]
    assert apply_window(x, 40, 400, invert=True).tolist() == [255, 127, 0]
    assert apply_window(x, 40, 400, monochrome1=True, invert=True).tolist() == [0, 128, 255]


def test_nan_becomes_black() -> None:
    assert apply_window(np.array([np.nan, 1000.0]), 40, 400).tolist() == [0, 255]


def test_function_from_dicom() -> None:
    assert VOILUTFunction.from_dicom("SIGMOID ") is VOILUTFunction.SIGMOID
    assert VOILUTFunction.from_dicom(None) is VOILUTFunction.LINEAR
    assert VOILUTFunction.from_dicom("bogus") is VOILUTFunction.LINEAR
