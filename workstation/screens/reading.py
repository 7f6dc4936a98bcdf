"""The reading screen: series browser | viewport + overlay | report panel.

Thin: it routes keys to the viewport's attributes, loads volumes through
:class:`~workstation.services.VolumeStore` on worker threads (never on a
keypress: a key only changes what is shown from a volume already decoded),
and keeps the reading lock alive with a heartbeat.
"""

from __future__ import annotations

from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from workstation.client import ReadingCase, SeriesSummary
from workstation.config import Settings
from workstation.screens.base import ForwardsWorkerFailures
from workstation.screens.tag_inspector import TagInspector
from workstation.services import Services
from workstation.viewer.presets import Window, WindowPreset
from workstation.viewer.reformat import Plane
from workstation.viewer.volume import SeriesVolume
from workstation.widgets.dictation_panel import DictationPanel
from workstation.widgets.overlay import OverlayBar
from workstation.widgets.reading_viewport import ReadingViewport
from workstation.widgets.series_browser import SeriesBrowser
from workstation.widgets.viewport import Viewport

__all__ = ["ReadingScreen"]

PAGE = 10
CINE_RATES = (1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 15.0, 20.0, 25.0, 30.0)
ZOOM_STEP = 1.25


def _preset_binding(n: int, preset: WindowPreset) -> Binding:
    name = preset.name.lower()
    return Binding(
        str(n),
        f"preset('{preset.name}')",
        preset.window.name,
        show=False,
        id=f"reading.preset_{name}",
    )


class ReadingScreen(ForwardsWorkerFailures, Screen[None]):
    """One case: its series, the image, the overlay, and room for the report."""

    DEFAULT_CSS = """
    ReadingScreen #centre { width: 1fr; }
    ReadingScreen #report-panel {
        width: 44; border: round $primary-darken-2; padding: 0 1;
    }
    ReadingScreen #report { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Worklist", id="reading.close"),
        Binding("down", "slice(1)", "Next slice", show=False, id="reading.next_slice"),
        Binding("up", "slice(-1)", "Previous slice", show=False, id="reading.previous_slice"),
        Binding("pagedown", f"slice({PAGE})", "10 slices on", show=False, id="reading.page_down"),
        Binding("pageup", f"slice({-PAGE})", "10 slices back", show=False, id="reading.page_up"),
        Binding("home", "first_slice", "First slice", show=False, id="reading.first_slice"),
        Binding("end", "last_slice", "Last slice", show=False, id="reading.last_slice"),
        *(_preset_binding(n, p) for n, p in enumerate(WindowPreset, start=1)),
        Binding("l", "preset('LUNG')", "Lung", id="reading.lung"),
        Binding("shift+up", "window(0, 1)", "Wider", show=False, id="reading.wider"),
        Binding("shift+down", "window(0, -1)", "Narrower", show=False, id="reading.narrower"),
        Binding("shift+right", "window(1, 0)", "Level up", show=False, id="reading.level_up"),
        Binding("shift+left", "window(-1, 0)", "Level down", show=False, id="reading.level_down"),
        Binding("plus,equals_sign", "zoom(1)", "Zoom in", id="reading.zoom_in"),
        Binding("minus", "zoom(-1)", "Zoom out", show=False, id="reading.zoom_out"),
        Binding("ctrl+up", "pan(-1, 0)", "Pan up", show=False, id="reading.pan_up"),
        Binding("ctrl+down", "pan(1, 0)", "Pan down", show=False, id="reading.pan_down"),
        Binding("ctrl+left", "pan(0, -1)", "Pan left", show=False, id="reading.pan_left"),
        Binding("ctrl+right", "pan(0, 1)", "Pan right", show=False, id="reading.pan_right"),
        Binding("0", "reset_view", "Reset view", show=False, id="reading.reset_view"),
        Binding("i", "invert", "Invert", id="reading.invert"),
        Binding("c", "cine", "Cine", id="reading.cine"),
        Binding("left_square_bracket", "cine_rate(-1)", "Slower", show=False, id="reading.slower"),
        Binding("right_square_bracket", "cine_rate(1)", "Faster", show=False, id="reading.faster"),
        Binding("tab,n", "series(1)", "Next series", id="reading.next_series"),
        Binding("shift+tab,p", "series(-1)", "Prev series", show=False, id="reading.prev_series"),
        Binding("a", "plane('axial')", "Axial", id="reading.axial"),
        Binding("o", "plane('coronal')", "Coronal", id="reading.coronal"),
        Binding("s", "plane('sagittal')", "Sagittal", id="reading.sagittal"),
        Binding("m", "measure", "Measure", id="reading.measure"),
        Binding("t", "tags", "Tags", id="reading.tags"),
    ]

    series_index: reactive[int] = reactive(-1, init=False)
    """The series in the viewport (index into the study's series)."""
    cine_fps: reactive[float] = reactive(8.0, init=False)
    """Cine frame rate."""

    class SeriesListed(Message):
        """QIDO-RS returned the study's series."""

        def __init__(self, series: list[SeriesSummary]) -> None:
            super().__init__()
            self.series = series

    class SeriesLoaded(Message):
        """A series' volume is decoded and ready to show."""

        def __init__(self, index: int, volume: SeriesVolume) -> None:
            super().__init__()
            self.index = index
            self.volume = volume

    def __init__(
        self, settings: Settings, services: Services, *, case: ReadingCase, study_uid: str
    ) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.case = case
        self.study_uid = study_uid
        self.series: list[SeriesSummary] = []
        self._cine: Timer | None = None
        self.set_reactive(ReadingScreen.cine_fps, settings.cine_fps)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield SeriesBrowser(id="series")
            with Vertical(id="centre"):
                yield ReadingViewport(id="viewport")
                yield OverlayBar(id="overlay")
            with Vertical(id="report-panel"):
                with VerticalScroll(id="report"):
                    yield Static(self._case_text(), id="case-info")
                yield DictationPanel(id="dictation")
        yield Footer()

    def _case_text(self) -> str:
        c = self.case
        age = "" if c.patient_age is None else f"{c.patient_age}"
        return (
            f"[b]{c.id}[/b]  {str(c.priority).upper()}\n"
            f"{c.study_description or ''}\n{age}{c.patient_sex or ''}  {c.body_part or ''}\n\n"
            f"[dim]Clinical question[/dim]\n{c.clinical_question or '—'}\n\n"
            "[dim]Report[/dim]\n(the report editor goes here)"
        )

    def on_mount(self) -> None:
        self.sub_title = f"{self.case.id} · {self.case.study_description or ''}"
        self.query_one("#report-panel").border_title = "Report"
        self.viewport.focus()
        self.status_bar.note = "Loading series…"
        self._list_series()
        self.set_interval(self.settings.heartbeat_interval, self._heartbeat)
        self.set_interval(1.0, self._collect_thumbnails)

    @property
    def viewport(self) -> ReadingViewport:
        return self.query_one(ReadingViewport)

    @property
    def status_bar(self) -> OverlayBar:
        return self.query_one(OverlayBar)

    @property
    def browser(self) -> SeriesBrowser:
        return self.query_one(SeriesBrowser)

    # -- loading -------------------------------------------------------------------

    @work(thread=True, exclusive=True, group="series-list", exit_on_error=False)
    def _list_series(self) -> None:
        self.post_message(self.SeriesListed(self.services.client.series(self.study_uid)))

    def on_reading_screen_series_listed(self, message: SeriesListed) -> None:
        self.series = message.series
        self.browser.series = tuple(message.series)
        if not self.series:
            self.status_bar.note = "This study has no series."
            return
        # start on the largest series (the scout has one image)
        largest = max(range(len(self.series)), key=lambda i: self.series[i].image_count)
        self.series_index = largest

    def watch_series_index(self, index: int) -> None:
        self.browser.current = index
        self._stop_cine()
        item = self.series[index]
        volume = self.services.volumes.get(item.series_instance_uid)
        if volume is not None:
            self._show(volume)
        else:
            self.status_bar.note = f"Loading {item.description or 'series'}…"
            self._load_series(index)

    @work(thread=True, exclusive=True, group="series", exit_on_error=False)
    def _load_series(self, index: int) -> None:
        item = self.series[index]
        volume = self.services.volumes.load(self.study_uid, item.series_instance_uid)
        self.post_message(self.SeriesLoaded(index, volume))

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # Reported by ForwardsWorkerFailures (Textual calls both handlers); here only the bar.
        if event.worker.group == "series" and event.state is WorkerState.ERROR:
            self.status_bar.note = "This series could not be loaded."

    def on_reading_screen_series_loaded(self, message: SeriesLoaded) -> None:
        self.browser.add_thumbnail(self.series[message.index].series_instance_uid, message.volume)
        if message.index == self.series_index:
            self._show(message.volume)
        others = [s.series_instance_uid for s in self.series]
        self.services.volumes.prefetch(self.study_uid, others)

    def _show(self, volume: SeriesVolume) -> None:
        viewport = self.viewport
        viewport.measuring = False
        viewport.measurement = None
        viewport.invert = False
        viewport.volume = volume  # the viewport resets plane, slice, window, zoom and pan
        self.status_bar.note = ""
        self.status_bar.measurement = ""

    def _collect_thumbnails(self) -> None:
        for item in self.series:
            volume = self.services.volumes.get(item.series_instance_uid)
            if volume is not None:
                self.browser.add_thumbnail(item.series_instance_uid, volume)

    @work(thread=True, exclusive=True, group="heartbeat", exit_on_error=False)
    def _heartbeat(self) -> None:
        self.services.client.heartbeat(self.case.id)

    # -- messages from the widgets ------------------------------------------------

    def on_viewport_measured(self, message: Viewport.Measured) -> None:
        self.viewport.measuring = False
        self.status_bar.note = ""
        self.status_bar.measurement = f"Distance {message.measurement.label}"

    def on_series_browser_series_chosen(self, message: SeriesBrowser.SeriesChosen) -> None:
        self.series_index = message.index
        self.viewport.focus()

    # -- actions (bindings) --------------------------------------------------------

    def _loaded(self) -> bool:
        return self.viewport.volume is not None

    def action_slice(self, step: int) -> None:
        self.viewport.slice_index += step

    def action_first_slice(self) -> None:
        self.viewport.slice_index = 0

    def action_last_slice(self) -> None:
        self.viewport.slice_index = max(self.viewport.count - 1, 0)

    def action_preset(self, name: str) -> None:
        if not self._loaded():
            return
        if (getattr(self.viewport.volume, "modality", "") or "CT").upper() != "CT":
            self.notify("Window presets are for CT; drag or use shift+arrows.", severity="warning")
            return
        self.viewport.window = WindowPreset[name].window

    def action_window(self, d_level: int, d_width: int) -> None:
        window: Window = self.viewport.window
        step = max(1.0, round(window.width * 0.05))
        self.viewport.window = window.moved(d_center=d_level * step, d_width=d_width * step)

    def action_zoom(self, direction: int) -> None:
        self.viewport.zoom = self.viewport.zoom * (ZOOM_STEP if direction > 0 else 1 / ZOOM_STEP)

    def action_pan(self, d_row: int, d_col: int) -> None:
        step = 16.0 / self.viewport.zoom
        row, col = self.viewport.pan
        self.viewport.pan = (row + d_row * step, col + d_col * step)

    def action_reset_view(self) -> None:
        self.viewport.zoom = 1.0
        self.viewport.pan = (0.0, 0.0)

    def action_invert(self) -> None:
        self.viewport.invert = not self.viewport.invert

    def action_plane(self, plane: str) -> None:
        if self._loaded():
            self.viewport.plane = Plane(plane)

    def action_series(self, step: int) -> None:
        if self.series:
            self.series_index = (self.series_index + step) % len(self.series)

    def action_measure(self) -> None:
        if self._loaded():
            self.viewport.measuring = not self.viewport.measuring
            measuring = self.viewport.measuring
            self.status_bar.note = "Measure: click two points, or drag" if measuring else ""

    def action_tags(self) -> None:
        volume = self.viewport.volume
        headers = getattr(volume, "headers", ()) if volume is not None else ()
        if not headers:
            self.notify("No image loaded yet.", severity="warning")
            return
        axial = self.viewport.plane is Plane.AXIAL
        index = self.viewport.slice_index if axial else len(headers) // 2
        header = headers[min(index, len(headers) - 1)]
        title = f"{self.series[self.series_index].description} — image {index + 1}/{len(headers)}"
        self.app.push_screen(TagInspector(header, title))

    def action_cine(self) -> None:
        if self._cine is not None:
            self._stop_cine()
        elif self._loaded():
            self._start_cine()

    def _start_cine(self) -> None:
        self._cine = self.set_interval(1.0 / self.cine_fps, self._cine_step)
        self.status_bar.note = f"Cine {self.cine_fps:g} fps"

    def _stop_cine(self) -> None:
        if self._cine is not None:
            self._cine.stop()
            self._cine = None
            self.status_bar.note = ""

    def _cine_step(self) -> None:
        viewport = self.viewport
        last = viewport.slice_index >= viewport.count - 1
        viewport.slice_index = 0 if last else viewport.slice_index + 1

    def action_cine_rate(self, step: int) -> None:
        rates = [r for r in CINE_RATES if (r > self.cine_fps if step > 0 else r < self.cine_fps)]
        if rates:
            self.cine_fps = min(rates) if step > 0 else max(rates)

    def watch_cine_fps(self) -> None:
        if self._cine is not None:
            self._stop_cine()
            self._start_cine()
        else:
            self.notify(f"Cine rate {self.cine_fps:g} fps", timeout=2)

    @property
    def cine_running(self) -> bool:
        return self._cine is not None

    def action_close(self) -> None:
        self._stop_cine()
        self.app.pop_screen()
