"""Reading screen: slices, presets, W/L by keys and drag, zoom, pan, invert, series, reformat,
measurement, tag inspector, cine — on a small synthetic CT served by the fake server."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual import events

from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.screens.reading import ReadingScreen
from workstation.screens.tag_inspector import TagInspector
from workstation.screens.worklist import WorklistScreen
from workstation.viewer.presets import WindowPreset
from workstation.viewer.reformat import Plane

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


class Reading:
    """An app opened on the first case's reading screen."""

    def __init__(self, tmp_path: Path) -> None:
        self.server = worklist_server()
        self.services = fake_services(self.server, token=self.server.issue_token())
        self.app = make_app(settings_for(tmp_path, token=self.services.client.token), self.services)

    async def open(self, pilot) -> ReadingScreen:
        app = self.app
        await settle(pilot)
        assert isinstance(app.screen, WorklistScreen)
        await pilot.press("enter")  # RR-0000000B, urgent, first
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, ReadingScreen)
        assert screen.viewport.volume is not None
        return screen


@pytest.fixture
def reading(tmp_path: Path) -> Reading:
    return Reading(tmp_path)


async def test_opens_on_the_largest_series(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        assert [s.image_count for s in screen.series] == [1, 12, 12]
        assert screen.series_index == 1
        assert screen.viewport.count == 12
        assert screen.viewport.overlay is not None
        assert screen.viewport.overlay.top_right == "7/12"  # the viewer starts mid-series


async def test_slice_keys_and_wheel(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        await pilot.press("home")
        await pilot.press("down", "down", "down")
        assert vp.slice_index == 3
        await pilot.press("up")
        assert vp.slice_index == 2
        await pilot.press("pagedown")
        assert vp.slice_index == 11  # clamped: 12 slices
        await pilot.press("home")
        assert vp.slice_index == 0
        await pilot.press("end")
        assert vp.slice_index == 11
        await pilot.press("pageup")
        assert vp.slice_index == 1
        vp.post_message(events.MouseScrollDown(vp, 10, 10, 0, 1, 0, False, False, False))
        await pilot.pause()
        assert vp.slice_index == 2
        assert screen.viewport.overlay.top_right == "3/12"


async def test_presets_and_lung_key(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        for key, preset in zip("12345678", WindowPreset, strict=True):
            await pilot.press(key)
            assert screen.viewport.window == preset.window
        await pilot.press("1")
        await pilot.press("l")
        assert screen.viewport.window == WindowPreset.LUNG.window
        assert "Lung" in screen.viewport.overlay.bottom_right


async def test_presets_are_for_ct_only(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("down", "enter")  # RR-0000000C: the MR brain
        await settle(pilot)
        screen = reading.app.screen
        assert isinstance(screen, ReadingScreen)
        assert screen.viewport.volume.modality == "MR"
        window = screen.viewport.window
        await pilot.press("l")
        assert screen.viewport.window == window
        assert any("for CT" in n.message for n in reading.app._notifications)
        await pilot.press("shift+up")  # W/L by keys still works
        assert screen.viewport.window.width > window.width


async def test_series_that_fails_to_load_is_a_notification(reading: Reading) -> None:
    study = reading.server.cases[1]["study_instance_uid"]
    lung = str(reading.server.studies[study][-1].SeriesInstanceUID)
    reading.server.broken_series.add(lung)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        shown = screen.viewport.volume
        await pilot.press("n")  # to the lung series, which the server fails to send
        await settle(pilot)
        assert reading.app.screen is screen
        assert screen.series_index == 2
        assert screen.viewport.volume is shown  # the last image stays up
        messages = [n.message for n in reading.app._notifications]
        assert [m for m in messages if m.startswith("The server failed (500)")], messages
        assert len(messages) == len(set(messages))  # reported once
        assert screen.status_bar.note == "This series could not be loaded."


async def test_window_level_by_keys_and_drag(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        await pilot.press("7")  # abdomen: W 400 L 40
        await pilot.press("shift+up")
        assert (vp.window.width, vp.window.center) == (420, 40)
        await pilot.press("shift+right")
        assert vp.window.center == 61
        before = vp.window
        await pilot.mouse_down(vp, offset=(20, 20))
        await pilot.hover(vp, offset=(30, 15))  # right: wider; up: higher level
        await pilot.mouse_up(vp, offset=(30, 15))
        await pilot.pause()
        assert vp.window.width > before.width
        assert vp.window.center > before.center


async def test_zoom_pan_invert(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        await pilot.press("plus", "plus")
        assert vp.zoom == pytest.approx(1.5625)
        await pilot.press("minus")
        assert vp.zoom == pytest.approx(1.25)
        await pilot.press("ctrl+right")
        assert vp.pan[1] > 0
        await pilot.press("0")
        assert (vp.zoom, vp.pan) == (1.0, (0.0, 0.0))
        await pilot.press("i")
        assert vp.invert
        assert "INV" in screen.viewport.overlay.bottom_right


async def test_series_switch(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        first = screen.viewport.volume
        await pilot.press("n")
        await settle(pilot)
        assert screen.series_index == 2
        assert screen.viewport.volume is not first
        assert "LUNG" in screen.viewport.overlay.top_left
        await pilot.press("tab")
        await settle(pilot)
        assert screen.series_index == 0  # wraps to the scout
        await pilot.press("shift+tab")
        await settle(pilot)
        assert screen.series_index == 2


async def test_reformats(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        await pilot.press("o")
        assert vp.plane is Plane.CORONAL
        assert vp.count == 64
        assert "coronal" in screen.viewport.overlay.top_left
        await pilot.press("s")
        assert vp.plane is Plane.SAGITTAL
        await pilot.press("a")
        assert vp.plane is Plane.AXIAL
        assert vp.count == 12


async def test_measurement(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        await pilot.press("m")
        assert vp.measuring
        await pilot.click(vp, offset=(20, 10))
        assert vp.measuring  # one point so far
        await pilot.click(vp, offset=(40, 10))
        await pilot.pause()
        assert not vp.measuring
        assert vp.measurement is not None
        assert vp.overlay.measurement == vp.measurement.label  # drawn by the viewer
        text = screen.status_bar.measurement
        assert text.startswith("Distance ")
        assert text.endswith(" mm")
        # 20 cells of a field of view fitted to the viewport's width
        field_mm = vp.volume.shape[2] * vp.volume.pixel_spacing[1]
        expected = 20 / vp.size.width * field_mm
        assert float(text.split()[1]) == pytest.approx(expected, abs=0.2)


async def test_measurement_by_drag(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        vp = screen.viewport
        window = vp.window
        await pilot.press("m")
        await pilot.mouse_down(vp, offset=(20, 10))
        await pilot.hover(vp, offset=(20, 30))
        await pilot.mouse_up(vp, offset=(20, 30))
        await pilot.pause()
        assert not vp.measuring
        assert vp.window == window  # a caliper drag is not a W/L drag
        assert screen.status_bar.measurement.startswith("Distance ")


async def test_tag_inspector(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        await reading.open(pilot)
        await pilot.press("t")
        await pilot.pause()
        inspector = reading.app.screen
        assert isinstance(inspector, TagInspector)
        keywords = [row.keyword for row in inspector._rows]
        assert "SeriesInstanceUID" in keywords
        assert "PixelData" not in keywords
        await pilot.press("escape")
        assert isinstance(reading.app.screen, ReadingScreen)


async def test_cine_and_rate(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        await pilot.press("c")
        assert screen.cine_running
        await pilot.press("right_square_bracket")
        assert screen.cine_fps == 10
        await pilot.press("left_square_bracket", "left_square_bracket")
        assert screen.cine_fps == 6
        await pilot.press("c")
        assert not screen.cine_running
        await pilot.press("end")
        screen._cine_step()  # what the timer does: on, wrapping at the end
        assert screen.viewport.slice_index == 0
        screen._cine_step()
        assert screen.viewport.slice_index == 1


async def test_escape_returns_to_the_worklist(reading: Reading) -> None:
    async with reading.app.run_test(size=SIZE) as pilot:
        await reading.open(pilot)
        await pilot.press("escape")
        assert isinstance(reading.app.screen, WorklistScreen)
