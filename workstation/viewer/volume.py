"""The in-memory series volume the viewport renders from.

A :class:`SeriesVolume` holds one series as a ``(slices, rows, cols)`` array
of Modality LUT output values (PS3.3 C.11.1: stored value x RescaleSlope +
RescaleIntercept), already sorted along the slice normal, plus what the
overlay and the tag inspector need: per-slice position, thickness and
instance number, the stored windows, the gaps (slices that could not be
decoded) and the headers without their pixel data.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from pydicom.dataset import Dataset

from workstation.viewer.presets import Window

__all__ = ["Gap", "SeriesVolume", "SliceInfo"]


@dataclass(frozen=True)
class SliceInfo:
    """Where one slice (an instance, or a frame of a multi-frame instance) sits."""

    sop_instance_uid: str
    instance_number: int | None
    frame: int | None
    position: tuple[float, float, float] | None
    distance: float
    """Signed distance along the slice normal (mm): the sort key."""
    thickness: float | None


@dataclass(frozen=True)
class Gap:
    """A slice that could not be decoded; the volume holds fill values there."""

    index: int
    sop_instance_uid: str
    reason: str


@dataclass(eq=False, repr=False)
class SeriesVolume:
    """One series ready to display. ``voxels[i]`` is slice ``i`` of ``slices``.

    Its ``repr`` is short and holds no header: the generated one printed every
    header (75 ms for 300 slices, on the UI thread whenever a worker was
    started with a volume argument, and patient data in any log).
    """

    voxels: np.ndarray
    """``(n, rows, cols)`` int16, uint16 or float32 in modality units (HU for CT)."""
    slices: tuple[SliceInfo, ...]
    pixel_spacing: tuple[float, float]
    """(row spacing, column spacing) in mm: PixelSpacing (0028,0030)."""
    slice_spacing: float
    """Distance between adjacent slice centres in mm, from the positions."""
    orientation: tuple[float, float, float, float, float, float]
    """ImageOrientationPatient (0020,0037): row then column direction cosines."""
    modality: str = ""
    series_uid: str = ""
    series_number: int | None = None
    series_description: str = ""
    monochrome1: bool = False
    """MONOCHROME1: low values are white, so the display inverts (PS3.3 C.7.6.3.1.2)."""
    windows: tuple[Window, ...] = ()
    """Windows stored in the headers, in order."""
    gaps: tuple[Gap, ...] = ()
    headers: tuple[Dataset, ...] = ()
    """One header per instance (pixel data removed), for the tag inspector."""
    uniform_spacing: bool = True
    """False when slice gaps differ by more than 1 % (a reformat is then approximate)."""
    skipped: tuple[str, ...] = field(default=())
    """Sources that could not be read at all (no header), with the reason."""

    def __repr__(self) -> str:
        n, rows, cols = self.shape
        number = "" if self.series_number is None else f" series {self.series_number}"
        return f"<SeriesVolume {self.modality or '?'}{number} {n}x{rows}x{cols}>"

    @property
    def count(self) -> int:
        """Number of slices."""
        return int(self.voxels.shape[0])

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(slices, rows, cols)``."""
        n, r, c = self.voxels.shape
        return int(n), int(r), int(c)

    @property
    def normal(self) -> np.ndarray:
        """The slice normal: row cosines x column cosines."""
        o = np.asarray(self.orientation, dtype=float)
        return np.cross(o[:3], o[3:])

    @property
    def valid(self) -> np.ndarray:
        """Boolean per slice: False where the slice is a gap."""
        mask = np.ones(self.count, dtype=bool)
        for gap in self.gaps:
            mask[gap.index] = False
        return mask

    def is_gap(self, index: int) -> bool:
        """Whether slice ``index`` could not be decoded."""
        return any(g.index == index for g in self.gaps)
