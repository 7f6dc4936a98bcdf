"""The viewport's graphics mode (kitty / sixel through textual-image) on the reading screen.

The headless driver emits no real graphics: these check the widget mounted,
the image handed to it (a greyscale PIL image at the cells' pixel grid) and
that it follows the slice; the overlay stays in the viewport's own rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from textual_image.widget import SixelImage, TGPImage

from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.screens.reading import ReadingScreen
from workstation.viewer.graphics import DEFAULT_CELL_PIXELS, Renderer, pixel_grid

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


async def open_reading(tmp_path: Path, renderer: str, pilot_size=SIZE):
    server = worklist_server()
    services = fake_services(server, token=server.issue_token())
    settings = settings_for(tmp_path, token=services.client.token, renderer=Renderer(renderer))
    return make_app(settings, services)


async def _reading(app, pilot) -> ReadingScreen:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    screen = app.screen
    assert isinstance(screen, ReadingScreen)
    assert screen.viewport.volume is not None
    return screen


@pytest.mark.parametrize(("renderer", "widget"), [("kitty", TGPImage), ("sixel", SixelImage)])
async def test_graphics_widget_shows_the_frame_and_follows_the_slice(
    tmp_path: Path, renderer: str, widget: type
) -> None:
    app = await open_reading(tmp_path, renderer)
    async with app.run_test(size=SIZE) as pilot:
        screen = await _reading(app, pilot)
        vp = screen.viewport
        assert vp.renderer is Renderer(renderer)
        image_widget = vp.query_one("#viewport-graphics")
        assert type(image_widget) is widget
        await pilot.pause()
        assert vp.graphics_frames >= 1
        first = image_widget.image
        assert first.mode == "L"
        width, height = vp.size
        assert first.size == pixel_grid(width, height - 2, DEFAULT_CELL_PIXELS)[::-1]
        assert image_widget.region.height == height - 2  # overlay rows above and below
        shown = vp.graphics_frames
        await pilot.press("down")
        await pilot.pause()
        assert vp.graphics_frames == shown + 1
        assert not np.array_equal(np.asarray(image_widget.image), np.asarray(first))
        # the overlay is still the viewport's, on its first row
        assert vp.overlay.top_right == "8/12"
        top = "".join(segment.text for segment in vp.render_lines(vp.region.reset_offset)[0])
        assert top.rstrip().endswith("8/12")
        await pilot.press("i")  # any view change is a new image
        await pilot.pause()
        assert vp.graphics_frames == shown + 2


async def test_graphics_mouse_maps_to_the_pixel_grid(tmp_path: Path) -> None:
    app = await open_reading(tmp_path, "kitty")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _reading(app, pilot)
        vp = screen.viewport
        await pilot.press("m")
        await pilot.click(vp, offset=(20, 10))  # over the image widget
        await pilot.click(vp, offset=(40, 10))
        await pilot.pause()
        assert vp.measurement is not None
        field_mm = vp.volume.shape[2] * vp.volume.pixel_spacing[1]
        height, width = pixel_grid(vp.size.width, vp.size.height - 2)
        volume_rows = vp.volume.shape[1] * vp.volume.pixel_spacing[0]
        # fitted by width or height, whichever binds: mm per cell column
        mm_per_px = max(field_mm / width, volume_rows / height)
        expected = 20 * width / vp.size.width * mm_per_px
        assert vp.measurement.mm == pytest.approx(expected, rel=0.02)


async def test_auto_under_the_headless_driver_is_halfblock(tmp_path: Path) -> None:
    app = await open_reading(tmp_path, "auto")
    async with app.run_test(size=SIZE) as pilot:
        screen = await _reading(app, pilot)
        vp = screen.viewport
        assert vp.renderer is Renderer.HALFBLOCK
        assert not vp.query("#viewport-graphics")
        assert vp.graphics_frames == 0
        assert len(vp.current_strips()) == vp.size.height  # the half-block strips
