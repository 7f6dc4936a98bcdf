"""Terminal graphics through textual-image: detection at start-up, and the image widget.

textual-image asks the terminal (kitty graphics and sixel support, cell size
in pixels) when it is first imported, and it can only ask before Textual
takes over the terminal: call :func:`detect_graphics` before ``App.run``.
"""

from __future__ import annotations

import logging

from textual.widget import Widget

from workstation.viewer.graphics import DEFAULT_CELL_PIXELS, CellPixels, Renderer

__all__ = ["detect_graphics", "graphics_widget"]

log = logging.getLogger(__name__)


def detect_graphics() -> tuple[Renderer, CellPixels]:
    """The graphics protocol the terminal supports (half-blocks when none) and its cell size.

    Queries the terminal: call once, before the app starts.
    """
    try:
        from textual_image import renderable
        from textual_image._terminal import get_cell_size
        from textual_image.renderable.sixel import Image as SixelRenderable
        from textual_image.renderable.tgp import Image as TGPRenderable

        chosen = renderable.Image
        size = get_cell_size()
    except Exception as error:  # no terminal, closed stdout, an odd answer: half-blocks
        log.info("no terminal graphics: %s", error)
        return Renderer.HALFBLOCK, DEFAULT_CELL_PIXELS
    cell = CellPixels(int(size.width), int(size.height))
    if chosen is TGPRenderable:
        return Renderer.KITTY, cell
    if chosen is SixelRenderable:
        return Renderer.SIXEL, cell
    return Renderer.HALFBLOCK, cell


def graphics_widget(renderer: Renderer, *, id: str | None = None) -> Widget:
    """An empty textual-image widget drawing with ``renderer`` (kitty or sixel)."""
    from textual_image.widget import SixelImage, TGPImage

    if renderer is Renderer.KITTY:
        return TGPImage(id=id)
    if renderer is Renderer.SIXEL:
        return SixelImage(id=id)
    raise ValueError(f"not a graphics renderer: {renderer}")
