"""VOI LUT windowing: stored/modality values to 8-bit display grey levels.

Pure functions on numpy arrays, following PS3.3 C.11.2.1.2 (Window Center and
Window Width) with the three VOI LUT Functions of C.11.2.1.3: LINEAR
(C.11.2.1.2.1), LINEAR_EXACT (C.11.2.1.3.2) and SIGMOID (C.11.2.1.3.1). The
input is the output of the Modality LUT (e.g. Hounsfield units for CT); the
output spans ``0..255`` (``ymin = 0``, ``ymax = 255``), rounded half up.

MONOCHROME1 images (PS3.3 C.7.6.3.1.2: minimum value displayed white) are
inverted after windowing, and a user's "invert" toggles that again.
"""

from __future__ import annotations

from enum import StrEnum

import numpy as np

__all__ = [
    "VOILUTFunction",
    "apply_window",
    "invert_if",
    "window_linear",
    "window_linear_exact",
    "window_sigmoid",
]

_YMAX = 255.0


class VOILUTFunction(StrEnum):
    """Defined terms of VOI LUT Function (0028,1056), PS3.3 C.11.2.1.3."""

    LINEAR = "LINEAR"
    LINEAR_EXACT = "LINEAR_EXACT"
    SIGMOID = "SIGMOID"

    @classmethod
    def from_dicom(cls, value: object) -> VOILUTFunction:
        """The function named by a dataset's VOILUTFunction (absent or unknown: LINEAR)."""
        try:
            return cls(str(value).strip().upper())
        except ValueError:
            return cls.LINEAR


def _to_uint8(y: np.ndarray) -> np.ndarray:
    out = np.floor(y + 0.5)
    np.nan_to_num(out, copy=False, nan=0.0)
    return np.clip(out, 0, 255).astype(np.uint8)


def window_linear(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """LINEAR windowing, PS3.3 C.11.2.1.2.1.

    ``x <= c - 0.5 - (w-1)/2`` gives 0, ``x > c - 0.5 + (w-1)/2`` gives 255,
    otherwise ``((x - (c - 0.5)) / (w-1) + 0.5) * 255``. Width must be >= 1.
    """
    if width < 1:
        raise ValueError(f"window width must be >= 1 for LINEAR, not {width}")
    x = np.asarray(values, dtype=np.float64)
    lower = center - 0.5 - (width - 1) / 2
    upper = center - 0.5 + (width - 1) / 2
    if width == 1:
        y = np.where(x > upper, _YMAX, 0.0)
    else:
        y = ((x - (center - 0.5)) / (width - 1) + 0.5) * _YMAX
    y = np.where(x <= lower, 0.0, np.where(x > upper, _YMAX, y))
    return _to_uint8(y)


def window_linear_exact(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """LINEAR_EXACT windowing, PS3.3 C.11.2.1.3.2.

    ``x <= c - w/2`` gives 0, ``x > c + w/2`` gives 255, otherwise
    ``((x - c) / w + 0.5) * 255``. Width must be > 0.
    """
    if width <= 0:
        raise ValueError(f"window width must be > 0 for LINEAR_EXACT, not {width}")
    x = np.asarray(values, dtype=np.float64)
    y = ((x - center) / width + 0.5) * _YMAX
    y = np.where(x <= center - width / 2, 0.0, np.where(x > center + width / 2, _YMAX, y))
    return _to_uint8(y)


def window_sigmoid(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """SIGMOID windowing, PS3.3 C.11.2.1.3.1: ``255 / (1 + exp(-4 (x - c) / w))``."""
    if width <= 0:
        raise ValueError(f"window width must be > 0 for SIGMOID, not {width}")
    x = np.asarray(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        y = _YMAX / (1.0 + np.exp(-4.0 * (x - center) / width))
    return _to_uint8(y)


_FUNCTIONS = {
    VOILUTFunction.LINEAR: window_linear,
    VOILUTFunction.LINEAR_EXACT: window_linear_exact,
    VOILUTFunction.SIGMOID: window_sigmoid,
}


def invert_if(grey: np.ndarray, invert: bool) -> np.ndarray:
    """``255 - grey`` when ``invert``, else ``grey`` unchanged."""
    return np.subtract(255, grey, dtype=np.uint8) if invert else grey


def apply_window(
    values: np.ndarray,
    center: float,
    width: float,
    function: VOILUTFunction = VOILUTFunction.LINEAR,
    *,
    monochrome1: bool = False,
    invert: bool = False,
) -> np.ndarray:
    """Window ``values`` to uint8 with ``function``, then invert for MONOCHROME1 xor ``invert``.

    NaN (a gap in a float volume) becomes 0 before inversion.
    """
    grey = _FUNCTIONS[VOILUTFunction(function)](values, center, width)
    return invert_if(grey, monochrome1 != invert)
