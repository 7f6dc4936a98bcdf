"""Terminal graphics: the renderer setting resolved, the pixel grid, the PIL frame."""

from __future__ import annotations

import numpy as np
import pytest

from workstation.viewer.graphics import (
    DEFAULT_CELL_PIXELS,
    CellPixels,
    Renderer,
    frame_image,
    pixel_grid,
    resolve_renderer,
)


@pytest.mark.parametrize(
    ("configured", "detected", "expected"),
    [
        (Renderer.AUTO, None, Renderer.HALFBLOCK),
        (Renderer.AUTO, Renderer.KITTY, Renderer.KITTY),
        (Renderer.AUTO, Renderer.SIXEL, Renderer.SIXEL),
        (Renderer.AUTO, Renderer.HALFBLOCK, Renderer.HALFBLOCK),
        (Renderer.HALFBLOCK, Renderer.KITTY, Renderer.HALFBLOCK),  # forced: not detected
        (Renderer.SIXEL, None, Renderer.SIXEL),
    ],
)
def test_resolve_renderer(configured, detected, expected) -> None:
    assert resolve_renderer(configured, detected) is expected


def test_only_kitty_and_sixel_are_graphics() -> None:
    assert [r for r in Renderer if r.graphics] == [Renderer.KITTY, Renderer.SIXEL]


def test_pixel_grid_is_the_cells_pixels() -> None:
    assert DEFAULT_CELL_PIXELS == (8, 16)
    assert pixel_grid(80, 24) == (24 * 16, 80 * 8)
    assert pixel_grid(80, 24, CellPixels(10, 20)) == (480, 800)
    assert pixel_grid(80, 24, CellPixels(0, 0)) == (384, 640)  # unknown: the default
    assert pixel_grid(0, 24) == (0, 0)


def test_pixel_grid_is_capped_keeping_its_aspect() -> None:
    height, width = pixel_grid(300, 100, CellPixels(10, 20), max_side=1000)
    assert width == 1000
    assert height == round(2000 * 1000 / 3000)


def test_frame_image_is_greyscale_of_the_frame() -> None:
    frame = np.arange(12, dtype=np.uint8).reshape(3, 4)
    image = frame_image(frame)
    assert (image.mode, image.size) == ("L", (4, 3))
    assert np.array_equal(np.asarray(image), frame)
    with pytest.raises(ValueError, match="uint8"):
        frame_image(frame.astype(np.int16))
