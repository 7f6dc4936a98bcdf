"""Distances on an image in millimetres.

Pixel spacing is ``(row spacing, column spacing)``: PixelSpacing (0028,0030)
lists the distance between rows first, then between columns (PS3.3
10.7.1.3). For a reformat pass the reformat's spacing (one of them is the
slice spacing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Measurement", "distance_mm", "draw_line", "line_pixels"]

Point = tuple[float, float]


def distance_mm(a: Point, b: Point, spacing: tuple[float, float]) -> float:
    """Distance between image points ``a`` and ``b`` given as (row, col), in mm."""
    dr = (b[0] - a[0]) * spacing[0]
    dc = (b[1] - a[1]) * spacing[1]
    return math.hypot(dr, dc)


@dataclass(frozen=True)
class Measurement:
    """A caliper between two image points on one plane image."""

    start: Point
    end: Point
    spacing: tuple[float, float]
    plane: str = "axial"
    index: int = 0

    @property
    def mm(self) -> float:
        """Length in mm."""
        return distance_mm(self.start, self.end, self.spacing)

    @property
    def label(self) -> str:
        """``12.3 mm``."""
        return f"{self.mm:.1f} mm"


def line_pixels(a: Point, b: Point) -> tuple[np.ndarray, np.ndarray]:
    """Integer (rows, cols) of the pixels on the segment from ``a`` to ``b`` (both included)."""
    steps = int(max(abs(b[0] - a[0]), abs(b[1] - a[1]))) + 1
    t = np.linspace(0.0, 1.0, steps + 1)
    rows = np.rint(a[0] + (b[0] - a[0]) * t).astype(np.intp)
    cols = np.rint(a[1] + (b[1] - a[1]) * t).astype(np.intp)
    return rows, cols


def draw_line(frame: np.ndarray, a: Point, b: Point, value: int = 255) -> np.ndarray:
    """A copy of ``frame`` with the segment ``a``-``b`` (frame coordinates) drawn in ``value``.

    Parts of the segment outside the frame are clipped.
    """
    out = frame.copy()
    rows, cols = line_pixels(a, b)
    inside = (rows >= 0) & (rows < frame.shape[0]) & (cols >= 0) & (cols < frame.shape[1])
    out[rows[inside], cols[inside]] = value
    return out
