"""Orthogonal reformats of a stacked series: axial (as acquired), coronal, sagittal.

For a volume ``(slices, rows, cols)`` sorted along the slice normal, the
coronal image at row ``r`` is ``voxels[:, r, :]`` and the sagittal image at
column ``c`` is ``voxels[:, :, c]``; they are flipped so that the patient's
head is at the top when the normal points headwards (+z in the LPS patient
coordinate system, PS3.3 C.7.6.2.1.1). Nothing is resampled here: the image
comes back with the physical size of its pixels (the slice spacing between
its rows), and frame preparation makes it aspect-correct.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from workstation.viewer.volume import SeriesVolume

__all__ = ["Plane", "PlaneImage", "plane_count", "reformat"]


class Plane(StrEnum):
    """Display planes."""

    AXIAL = "axial"
    CORONAL = "coronal"
    SAGITTAL = "sagittal"


@dataclass(frozen=True)
class PlaneImage:
    """A 2-D image and the physical size of its pixels."""

    pixels: np.ndarray
    row_spacing: float
    """mm between rows."""
    col_spacing: float
    """mm between columns."""
    plane: Plane
    index: int

    @property
    def spacing(self) -> tuple[float, float]:
        """(row spacing, column spacing) in mm."""
        return self.row_spacing, self.col_spacing

    @property
    def aspect(self) -> float:
        """Physical height / width of one pixel."""
        return self.row_spacing / self.col_spacing


def plane_count(volume: SeriesVolume, plane: Plane) -> int:
    """How many images ``plane`` has for ``volume``."""
    n, rows, cols = volume.shape
    return {Plane.AXIAL: n, Plane.CORONAL: rows, Plane.SAGITTAL: cols}[Plane(plane)]


def _head_up(volume: SeriesVolume) -> bool:
    return float(volume.normal[2]) > 0


def reformat(volume: SeriesVolume, plane: Plane, index: int) -> PlaneImage:
    """The ``index``-th image of ``plane`` (clamped to the valid range)."""
    plane = Plane(plane)
    index = int(np.clip(index, 0, plane_count(volume, plane) - 1))
    row_mm, col_mm = volume.pixel_spacing
    if plane is Plane.AXIAL:
        return PlaneImage(volume.voxels[index], row_mm, col_mm, plane, index)
    stack = volume.voxels[::-1] if _head_up(volume) else volume.voxels
    if plane is Plane.CORONAL:
        pixels = stack[:, index, :]
        return PlaneImage(pixels, volume.slice_spacing, col_mm, plane, index)
    pixels = stack[:, :, index]
    return PlaneImage(pixels, volume.slice_spacing, row_mm, plane, index)
