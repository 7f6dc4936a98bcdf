"""Phantom geometry: elliptic distance maps on a pixel grid, painted slice by slice, and noise."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Grid:
    """The in-plane pixel grid: patient x along columns, y along rows (LPS, mm)."""

    rows: int
    cols: int
    spacing: tuple[float, float]  # (row spacing, column spacing) in mm

    @property
    def origin(self) -> tuple[float, float]:
        """(x, y) of the centre of pixel (0, 0)."""
        dr, dc = self.spacing
        return (-(self.cols - 1) / 2 * dc, -(self.rows - 1) / 2 * dr)


@dataclass(frozen=True)
class _Shape:
    """An ellipsoid (``c`` > 0) or an elliptic cylinder spanning ``z_range``."""

    x: float
    y: float
    a: float
    b: float
    value: float
    z: float = 0.0
    c: float = 0.0
    z_range: tuple[float, float] = (-1e9, 1e9)

    def threshold(self, z: float) -> float:
        """The squared-radius threshold of the cross-section at ``z`` (< 0: absent)."""
        if self.c > 0:
            return 1.0 - ((z - self.z) / self.c) ** 2
        lo, hi = self.z_range
        return 1.0 if lo <= z <= hi else -1.0


@dataclass
class _Plane:
    """A shape's precomputed normalised squared-radius map in its bounding box."""

    shape: _Shape
    box: tuple[slice, slice]
    q: np.ndarray


def _plane(grid: _Grid, shape: _Shape) -> _Plane | None:
    x0, y0 = grid.origin
    dr, dc = grid.spacing
    c0 = max(0, int(np.floor((shape.x - shape.a - x0) / dc)))
    c1 = min(grid.cols, int(np.ceil((shape.x + shape.a - x0) / dc)) + 1)
    r0 = max(0, int(np.floor((shape.y - shape.b - y0) / dr)))
    r1 = min(grid.rows, int(np.ceil((shape.y + shape.b - y0) / dr)) + 1)
    if c0 >= c1 or r0 >= r1:
        return None
    xs = (x0 + np.arange(c0, c1, dtype=np.float32) * dc - shape.x) / shape.a
    ys = (y0 + np.arange(r0, r1, dtype=np.float32) * dr - shape.y) / shape.b
    q = ys[:, None] ** 2 + xs[None, :] ** 2
    return _Plane(shape, (slice(r0, r1), slice(c0, c1)), q.astype(np.float32))


class _Phantom:
    """Paints axial cross-sections of a list of shapes, in order (later wins)."""

    def __init__(self, grid: _Grid, shapes: Sequence[_Shape], background: float) -> None:
        self.grid = grid
        self.background = background
        self.planes = [p for s in shapes if (p := _plane(grid, s)) is not None]

    def slice(self, z: float) -> np.ndarray:
        img = np.full((self.grid.rows, self.grid.cols), self.background, dtype=np.float32)
        for plane in self.planes:
            t = plane.shape.threshold(z)
            if t < 0:
                continue
            view = img[plane.box]
            view[plane.q <= t] = plane.shape.value
        return img


def _noise_bank(shape: tuple[int, int], sigma: float, seed: int, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng([seed, 3])
    return (rng.standard_normal((n, *shape), dtype=np.float32) * sigma).astype(np.float32)


def _noisy(img: np.ndarray, bank: np.ndarray, i: int) -> np.ndarray:
    frame = bank[i % len(bank)]
    shift = (i * 37) % img.shape[0], (i * 53) % img.shape[1]
    return img + np.roll(frame, shift, axis=(0, 1))
