"""Half-block rendering: a uint8 grey frame to terminal lines.

Each terminal cell shows two image pixels with the upper half block ``▀``:
the upper pixel is the foreground colour, the lower one the background. Runs
of equal adjacent cells become one segment, which is what keeps a Textual
paint cheap (Rich is used for segments and styles; Textual is not imported
here). :func:`line_text` pre-renders a line to its truecolor escape
sequence, the text a Textual ``Strip`` would produce, so a background thread
can do that work ahead of the paint.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from rich.color import Color, ColorSystem
from rich.segment import Segment
from rich.style import Style

__all__ = ["HALF_BLOCK", "grey_style", "halfblock_lines", "line_text", "quantise"]

HALF_BLOCK = "▀"

_STYLES: dict[int, Style] = {}
_GREYS = [Color.from_rgb(v, v, v) for v in range(256)]


def grey_style(upper: int, lower: int) -> Style:
    """The (cached) style of a cell: ``upper`` grey as foreground, ``lower`` as background."""
    key = (upper << 8) | lower
    style = _STYLES.get(key)
    if style is None:
        style = _STYLES[key] = Style(color=_GREYS[upper], bgcolor=_GREYS[lower])
    return style


def quantise(frame: np.ndarray, levels: int) -> np.ndarray:
    """Reduce grey levels to ``levels`` (2..256) evenly spread over 0..255.

    Fewer levels merge more cells into one segment and shrink terminal output.
    """
    if levels >= 256:
        return frame
    if levels < 2:
        raise ValueError("levels must be at least 2")
    step = 255.0 / (levels - 1)
    table = (np.round(np.round(np.arange(256) / step) * step)).astype(np.uint8)
    return table.take(frame)


def halfblock_lines(frame: np.ndarray, *, levels: int = 256) -> list[list[Segment]]:
    """Segments for each terminal row of ``frame`` (``(2 * rows, width)`` uint8).

    An odd final pixel row is paired with black. Equal adjacent cells (same
    upper and lower grey) are merged into one segment.
    """
    if frame.ndim != 2:
        raise ValueError(f"expected a 2-D grey frame, got shape {frame.shape}")
    grey = quantise(frame.astype(np.uint8, copy=False), levels)
    if grey.shape[0] % 2:
        grey = np.vstack([grey, np.zeros((1, grey.shape[1]), np.uint8)])
    codes = (grey[0::2].astype(np.int32) << 8) | grey[1::2]
    width = codes.shape[1]
    lines: list[list[Segment]] = []
    for row in codes:
        starts = np.flatnonzero(np.diff(row)) + 1
        bounds = [0, *starts.tolist(), width]
        values = row[bounds[:-1]].tolist()
        segments = []
        for (start, end), code in zip(itertools.pairwise(bounds), values, strict=True):
            style = _STYLES.get(code) or grey_style(code >> 8, code & 0xFF)
            segments.append(Segment(HALF_BLOCK * (end - start), style))
        lines.append(segments)
    return lines


def line_text(
    segments: Sequence[Segment], color_system: ColorSystem = ColorSystem.TRUECOLOR
) -> str:
    """The escape-sequence text of one line, as a terminal receives it."""
    parts = []
    for text, style, _ in segments:
        parts.append(style.render(text, color_system=color_system) if style else text)
    return "".join(parts)
