"""Pilot tests of the viewport widget hosted in a tiny app."""

from __future__ import annotations

from datetime import date

import pytest
from textual import events
from textual.app import App, ComposeResult

from server.imaging.synthetic import make_ct_study
from workstation.viewer.loading import load_series
from workstation.viewer.presets import WindowPreset
from workstation.viewer.reformat import Plane
from workstation.widgets.viewport import DragMode, Viewport

DAY = date(2026, 11, 2)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def volume():
    return load_series(
        make_ct_study(slices=12, rows=64, cols=64, series=["axial-soft-tissue"], study_date=DAY)
    )


class ViewportApp(App[None]):
    def __init__(self, volume) -> None:
        super().__init__()
        self.volume = volume
        self.messages: list[object] = []

    def compose(self) -> ComposeResult:
        yield Viewport(self.volume, prefetch=False, id="viewport")

    def on_viewport_slice_changed(self, message: Viewport.SliceChanged) -> None:
        self.messages.append(("slice", message.index, message.count))

    def on_viewport_window_changed(self, message: Viewport.WindowChanged) -> None:
        self.messages.append(("window", message.window))


def _lines(viewport: Viewport) -> list[str]:
    return [strip.text + repr([s.style for s in strip]) for strip in viewport.current_strips()]


def _scroll(viewport: Viewport, down: bool = True, ctrl: bool = False) -> None:
    cls = events.MouseScrollDown if down else events.MouseScrollUp
    viewport.post_message(cls(viewport, 5, 5, 0, 1 if down else -1, 0, False, False, ctrl))


async def test_scrolling_changes_the_slice(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        start = viewport.slice_index
        assert start == 6
        before = _lines(viewport)
        _scroll(viewport)
        await pilot.pause()
        assert viewport.slice_index == start + 1
        assert ("slice", start + 1, 12) in app.messages
        assert _lines(viewport) != before
        _scroll(viewport, down=False)
        _scroll(viewport, down=False)
        await pilot.pause()
        assert viewport.slice_index == start - 1
        viewport.slice_index = 999
        assert viewport.slice_index == 11  # clamped


async def test_preset_changes_the_window(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        assert viewport.window.name == "ABDOMEN"  # the first stored window
        before = _lines(viewport)
        viewport.action_preset("lung")
        await pilot.pause()
        assert viewport.window == WindowPreset.LUNG.window
        assert ("window", WindowPreset.LUNG.window) in app.messages
        assert _lines(viewport) != before
        assert "Lung W:1500 L:-600" in viewport.current_strips()[-1].text
        viewport.action_preset("2")
        assert viewport.window.name == "BONE"


async def test_drag_changes_window_level(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        before_window = viewport.window
        before = _lines(viewport)
        await pilot.mouse_down(viewport, offset=(30, 12))
        viewport.post_message(
            events.MouseMove(viewport, 40, 8, 10, -4, 1, False, False, False, 40, 8)
        )
        await pilot.mouse_up(viewport, offset=(40, 8))
        await pilot.pause()
        window = viewport.window
        assert window.width > before_window.width
        assert window.center > before_window.center
        assert _lines(viewport) != before


async def test_shift_drag_pans_and_wheel_with_ctrl_zooms(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        _scroll(viewport, down=False, ctrl=True)
        await pilot.pause()
        assert viewport.zoom == pytest.approx(1.25)
        viewport.drag_mode = DragMode.PAN
        await pilot.mouse_down(viewport, offset=(30, 12))
        viewport.post_message(
            events.MouseMove(viewport, 35, 12, 5, 0, 1, False, False, False, 35, 12)
        )
        await pilot.mouse_up(viewport, offset=(35, 12))
        await pilot.pause()
        assert viewport.pan[1] < 0  # dragged right: the view centre moved left
        viewport.action_reset_view()
        assert viewport.zoom == 1.0
        assert viewport.pan == (0.0, 0.0)


async def test_invert_plane_and_keys(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        viewport.focus()
        await pilot.press("down")
        assert viewport.slice_index == 7
        before = _lines(viewport)
        viewport.action_toggle_invert()
        await pilot.pause()
        assert _lines(viewport) != before
        viewport.action_set_plane("coronal")
        await pilot.pause()
        assert viewport.plane is Plane.CORONAL
        assert viewport.count == 64
        assert viewport.slice_index == 32
        assert "[coronal]" in viewport.current_strips()[0].text


async def test_lines_have_the_viewport_width_and_screen_renders(volume) -> None:
    app = ViewportApp(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        await pilot.pause()
        strips = viewport.current_strips()
        assert len(strips) == 24
        assert all(strip.cell_length == 60 for strip in strips)
        assert "7/12" in strips[0].text
        assert "▀" in app.export_screenshot()


async def test_empty_viewport_says_so() -> None:
    class Empty(App[None]):
        def compose(self) -> ComposeResult:
            yield Viewport()

    app = Empty()
    async with app.run_test(size=(40, 10)):
        viewport = app.query_one(Viewport)
        assert viewport.count == 0
        assert any("No series loaded" in s.text for s in viewport.current_strips())


async def test_prefetch_fills_the_cache(volume) -> None:
    class Prefetching(App[None]):
        def compose(self) -> ComposeResult:
            yield Viewport(volume)

    app = Prefetching()
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        viewport.slice_index = 3
        await pilot.pause()
        await app.workers.wait_for_complete()
        neighbour = viewport._key(4)
        assert neighbour in viewport._cache
        assert viewport._cache[neighbour][5]._render_cache is not None


async def test_measure_mode_posts_a_measurement_in_mm(volume) -> None:
    measured = []

    class Measuring(ViewportApp):
        def on_viewport_measured(self, message: Viewport.Measured) -> None:
            measured.append(message.measurement)

    app = Measuring(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        viewport.drag_mode = DragMode.MEASURE
        before = _lines(viewport)
        await pilot.mouse_down(viewport, offset=(20, 10))
        viewport.post_message(
            events.MouseMove(viewport, 30, 10, 10, 0, 1, False, False, False, 30, 10)
        )
        await pilot.mouse_up(viewport, offset=(30, 10))
        await pilot.pause()
        # 60x24 cells -> 60x48 pixels; 360 mm fit in 48 pixels: 7.5 mm each, 10 cells = 75 mm
        assert len(measured) == 1
        assert measured[0].mm == pytest.approx(75.0)
        assert "Dist 75.0 mm" in viewport.current_strips()[-1].text
        assert _lines(viewport) != before  # the caliper line is drawn
        viewport.action_next_slice()
        assert "Dist" not in viewport.current_strips()[-1].text  # only on its own image


async def test_border_and_padding_fall_back_to_textual_rendering(volume) -> None:
    class Bordered(ViewportApp):
        CSS = "Viewport { border: solid red; padding: 0 1; }"

    app = Bordered(volume)
    async with app.run_test(size=(60, 24)) as pilot:
        viewport = app.query_one(Viewport)
        await pilot.pause()
        assert viewport.size == (56, 22)
        lines = viewport.render_lines(viewport.region.reset_offset)
        assert len(lines) == 24
        assert all(line.cell_length == 60 for line in lines)
        assert "▀" in lines[5].text
        assert "7/12" in lines[1].text
