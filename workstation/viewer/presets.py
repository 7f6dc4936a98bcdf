"""Window presets: the named CT windows, the DICOM window tags, and a histogram window for MR.

CT presets are the usual centre/width pairs in HU. Windows stored in the image
come from Window Center (0028,1050), Window Width (0028,1051), Window
Center & Width Explanation (0028,1055) and VOI LUT Function (0028,1056),
PS3.3 C.11.2.1.2; in an Enhanced image from the Frame VOI LUT Sequence
(PS3.3 C.7.6.16.2.10).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import Enum

import numpy as np
from pydicom.dataset import Dataset

from workstation.viewer.windowing import VOILUTFunction

__all__ = [
    "CT_PRESETS",
    "Window",
    "WindowPreset",
    "default_window",
    "histogram_window",
    "presets_for",
    "windows_from_dataset",
]


@dataclass(frozen=True)
class Window:
    """A VOI window: centre and width in modality units (HU for CT)."""

    center: float
    width: float
    function: VOILUTFunction = VOILUTFunction.LINEAR
    name: str = ""

    def __post_init__(self) -> None:
        if not self.width > 0:
            raise ValueError(f"window width must be > 0, not {self.width}")

    def moved(self, *, d_center: float = 0.0, d_width: float = 0.0) -> Window:
        """This window shifted and widened (width kept >= 1); the name is dropped."""
        return replace(
            self, center=self.center + d_center, width=max(1.0, self.width + d_width), name=""
        )

    @property
    def label(self) -> str:
        """``W:400 L:40`` as shown in the overlay."""
        return f"W:{self.width:g} L:{self.center:g}"


class WindowPreset(Enum):
    """Named CT windows (centre/width in HU)."""

    BRAIN = Window(40, 80, name="Brain")
    SUBDURAL = Window(75, 215, name="Subdural")
    STROKE = Window(40, 40, name="Stroke")
    BONE = Window(400, 1800, name="Bone")
    LUNG = Window(-600, 1500, name="Lung")
    MEDIASTINUM = Window(50, 350, name="Mediastinum")
    ABDOMEN = Window(40, 400, name="Abdomen")
    LIVER = Window(60, 160, name="Liver")

    @property
    def window(self) -> Window:
        """The preset's window."""
        return self.value


CT_PRESETS: tuple[WindowPreset, ...] = tuple(WindowPreset)


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str | bytes) or not hasattr(value, "__iter__"):
        return [value]
    return list(value)  # type: ignore[call-overload]


def windows_from_dataset(ds: Dataset) -> list[Window]:
    """The windows a dataset carries (multi-valued centre/width pairs), PS3.3 C.11.2.1.2.

    Looks at the top level first, then the shared and first per-frame Frame
    VOI LUT Sequence of an Enhanced image. Invalid widths are skipped.
    """
    source: Dataset | None = ds if "WindowCenter" in ds else None
    if source is None:
        for groups in ("SharedFunctionalGroupsSequence", "PerFrameFunctionalGroupsSequence"):
            seq = ds.get(groups)
            if seq and "FrameVOILUTSequence" in seq[0] and seq[0].FrameVOILUTSequence:
                source = seq[0].FrameVOILUTSequence[0]
                break
    if source is None or "WindowWidth" not in source:
        return []
    centers = _as_list(source.get("WindowCenter"))
    widths = _as_list(source.get("WindowWidth"))
    names = _as_list(source.get("WindowCenterWidthExplanation"))
    function = VOILUTFunction.from_dicom(source.get("VOILUTFunction", "LINEAR"))
    out = []
    for i, (center, width) in enumerate(zip(centers, widths, strict=False)):
        try:
            c, w = float(center), float(width)  # type: ignore[arg-type]
            name = str(names[i]) if i < len(names) else ""
            out.append(Window(c, max(w, 1.0), function, name))
        except (TypeError, ValueError):
            continue
    return out


def histogram_window(
    values: np.ndarray, *, low: float = 1.0, high: float = 99.0, max_samples: int = 200_000
) -> Window:
    """A robust window from the ``low``-``high`` percentiles of the finite values.

    Samples at most ``max_samples`` values with a fixed stride, so it is cheap
    on a whole volume; used for MR, where intensities have no absolute scale.
    """
    flat = np.asarray(values).ravel()
    if flat.size > max_samples:
        flat = flat[:: flat.size // max_samples + 1]
    flat = flat[np.isfinite(flat)] if flat.dtype.kind == "f" else flat
    if flat.size == 0:
        return Window(0.5, 1.0, name="Auto")
    lo, hi = np.percentile(flat, [low, high])
    width = max(float(hi - lo), 1.0)
    return Window(float(lo) + width / 2, width, name="Auto")


def presets_for(modality: str) -> list[Window]:
    """The named presets offered for a modality (CT: all of :class:`WindowPreset`)."""
    return [p.window for p in CT_PRESETS] if modality.upper() == "CT" else []


def default_window(modality: str, stored: Sequence[Window], values: np.ndarray) -> Window:
    """The first stored window, else abdomen for CT, else the histogram window."""
    if stored:
        return stored[0]
    if modality.upper() == "CT":
        return WindowPreset.ABDOMEN.window
    return histogram_window(values)
