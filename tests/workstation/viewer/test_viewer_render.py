"""Half-block rendering of frames into Rich segments."""

from __future__ import annotations

import numpy as np
import pytest
from rich.color import Color

from workstation.viewer.render import HALF_BLOCK, grey_style, halfblock_lines, line_text, quantise


def test_upper_pixel_is_foreground_lower_is_background() -> None:
    frame = np.array([[10, 20], [200, 30]], dtype=np.uint8)
    (line,) = halfblock_lines(frame)
    assert [s.text for s in line] == [HALF_BLOCK, HALF_BLOCK]
    assert line[0].style.color == Color.from_rgb(10, 10, 10)
    assert line[0].style.bgcolor == Color.from_rgb(200, 200, 200)
    assert line[1].style.bgcolor == Color.from_rgb(30, 30, 30)


def test_equal_adjacent_cells_merge() -> None:
    frame = np.zeros((4, 10), dtype=np.uint8)
    frame[2:, 5:] = 255
    lines = halfblock_lines(frame)
    assert len(lines) == 2
    assert [s.text for s in lines[0]] == [HALF_BLOCK * 10]
    assert [len(s.text) for s in lines[1]] == [5, 5]
    assert sum(len(s.text) for line in lines for s in line) == 20


def test_odd_height_pads_with_black() -> None:
    lines = halfblock_lines(np.full((3, 2), 100, dtype=np.uint8))
    assert len(lines) == 2
    assert lines[1][0].style.bgcolor == Color.from_rgb(0, 0, 0)


def test_quantise_levels() -> None:
    frame = np.arange(256, dtype=np.uint8).reshape(16, 16)
    assert np.unique(quantise(frame, 32)).size == 32
    assert quantise(frame, 256) is frame
    assert quantise(frame, 2).max() == 255
    with pytest.raises(ValueError, match="levels"):
        quantise(frame, 1)


def test_line_text_is_truecolor_escapes() -> None:
    (line,) = halfblock_lines(np.array([[1], [2]], dtype=np.uint8))
    assert line_text(line) == f"\x1b[38;2;1;1;1;48;2;2;2;2m{HALF_BLOCK}\x1b[0m"


def test_style_cache() -> None:
    assert grey_style(5, 6) is grey_style(5, 6)
