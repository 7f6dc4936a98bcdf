"""Terminal graphics: which renderer draws the image, and the pixel grid it is drawn at.

The half-block renderer (:mod:`workstation.viewer.render`) draws two pixels
per cell. Terminals with a graphics protocol — the kitty Terminal Graphics
Protocol or DEC sixel — show real pixels: the viewport then prepares the
same windowed, resampled uint8 frame (:func:`~workstation.viewer.frame.prepare_frame`)
at the resolution the cells' pixel size allows and hands it on as a
greyscale PIL image. No Textual here: the widget layer does the detecting
and the drawing.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:  # imported when used: the settings read Renderer, and start-up stays light
    import numpy as np
    from PIL import Image

__all__ = [
    "DEFAULT_CELL_PIXELS",
    "MAX_GRID_SIDE",
    "CellPixels",
    "Renderer",
    "frame_image",
    "pixel_grid",
    "resolve_renderer",
]

#: The longest side of a graphics frame, in pixels: beyond that the terminal scales it up
#: (a sixel frame of a full-screen viewport would otherwise be megapixels per slice).
MAX_GRID_SIDE = 1536


class Renderer(StrEnum):
    """How the viewport draws the image (the ``renderer`` setting)."""

    AUTO = "auto"
    """A graphics protocol when the terminal answers for one at start-up, else half-blocks."""
    HALFBLOCK = "halfblock"
    """Truecolor half-blocks: two pixels per cell, in any terminal."""
    KITTY = "kitty"
    """The kitty Terminal Graphics Protocol."""
    SIXEL = "sixel"
    """DEC sixel graphics."""

    @property
    def graphics(self) -> bool:
        """True for a pixel protocol (kitty, sixel)."""
        return self in (Renderer.KITTY, Renderer.SIXEL)


class CellPixels(NamedTuple):
    """The size of one terminal cell in pixels."""

    width: int
    height: int


DEFAULT_CELL_PIXELS = CellPixels(8, 16)
"""Assumed when the terminal does not say."""


def resolve_renderer(configured: Renderer, detected: Renderer | None) -> Renderer:
    """The renderer to use: the configured one, or for ``auto`` the detected one
    (half-blocks when nothing was detected)."""
    if configured is not Renderer.AUTO:
        return configured
    if detected is None or detected is Renderer.AUTO:
        return Renderer.HALFBLOCK
    return detected


def pixel_grid(
    columns: int,
    rows: int,
    cell: CellPixels = DEFAULT_CELL_PIXELS,
    *,
    max_side: int = MAX_GRID_SIDE,
) -> tuple[int, int]:
    """(height, width) in pixels of a frame covering ``columns`` x ``rows`` cells.

    Square pixels; scaled down uniformly (same aspect) when the longer side
    would exceed ``max_side``. (0, 0) for an empty area.
    """
    if columns <= 0 or rows <= 0:
        return 0, 0
    cell_w = cell.width if cell.width > 0 else DEFAULT_CELL_PIXELS.width
    cell_h = cell.height if cell.height > 0 else DEFAULT_CELL_PIXELS.height
    height, width = rows * cell_h, columns * cell_w
    scale = min(1.0, max_side / max(height, width))
    return max(1, round(height * scale)), max(1, round(width * scale))


def frame_image(frame: np.ndarray) -> Image.Image:
    """A prepared uint8 frame as a greyscale (mode ``"L"``) PIL image."""
    import numpy as np
    from PIL import Image

    if frame.dtype != np.uint8 or frame.ndim != 2:
        raise ValueError(f"expected a 2-D uint8 frame, got {frame.dtype} {frame.shape}")
    return Image.fromarray(np.ascontiguousarray(frame))  # uint8 2-D: mode "L"
