"""Distances on an image in millimetres.

Pixel spacing is ``(row spacing, column spacing)``: PixelSpacing (0028,0030)
lists the distance between rows first, then between columns (PS3.3
10.7.1.3). For a reformat pass the reformat's spacing (one of them is the
slice spacing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["Measurement", "distance_mm"]

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
