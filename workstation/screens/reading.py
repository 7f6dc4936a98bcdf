"""The reading screen: series browser | viewport + overlay | report panel.

Thin: it routes keys to the viewport's attributes, loads volumes through
:class:`~workstation.services.VolumeStore` on worker threads (never on a
keypress: a key only changes what is shown from a volume already decoded),
and keeps the reading lock alive with a heartbeat.

The report panel edits a :class:`~workstation.report.document.ReportDocument`
of the template chosen for the case, restored from its draft. Dictation uses
the process's one session (:class:`~workstation.services.DictationService`),
built on a worker the first time a case opens; until then, and without a
speech model, the report is typed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Header, Static
from textual.worker import Worker, WorkerState

from workstation import heap
from workstation.client import ReadingCase, SeriesSummary
from workstation.config import Settings
from workstation.dictation.audio import InputDevice, match_input_device
from workstation.dictation.models import ModelError, ModelNotFoundError
from workstation.dictation.session import DictationSession, DictationState
from workstation.report.document import ReportDocument
from workstation.report.drafts import DraftStore
from workstation.screens.base import ForwardsWorkerFailures
from workstation.screens.device_picker import DevicePicker
from workstation.screens.sign_dialog import NOT_AVAILABLE, SignDialog
from workstation.screens.tag_inspector import TagInspector
from workstation.services import Services
from workstation.templates.loader import choose_template
from workstation.viewer.graphics import DEFAULT_CELL_PIXELS, Renderer
from workstation.viewer.presets import Window, WindowPreset
from workstation.viewer.reformat import Plane
from workstation.viewer.volume import SeriesVolume
from workstation.widgets.overlay import OverlayBar
from workstation.widgets.reading_viewport import ReadingViewport
from workstation.widgets.report_panel import ReportPanel
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


def _device_text(device: int | str | None, devices: Sequence[InputDevice] = ()) -> str:
    """How the dictation panel names a microphone: its label when listed, else as configured."""
    if device is None:
        return "default input"
    found = match_input_device(devices, device)
    return found.label if found is not None else str(device)


class ReadingScreen(ForwardsWorkerFailures, Screen[None]):
    """One case: its series, the image, the overlay, and the report."""

    DEFAULT_CSS = """
    ReadingScreen #centre { width: 1fr; }
    ReadingScreen #report-panel {
        width: 58; border: round $primary-darken-2; padding: 0 1;
    }
    ReadingScreen #case-info { height: auto; margin: 0 0 1 0; }
    ReadingScreen #report { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Worklist", id="reading.close"),
        Binding("r", "report", "Report", id="reading.report"),
        Binding("f4", "dictation", "Dictate", id="reading.dictation"),
        Binding("f5", "commands_only", "Commands", show=False, id="reading.commands_only"),
        Binding("ctrl+d", "input_device", "Microphone", id="reading.input_device"),
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
        Binding("o", "plane('coronal')", "Coronal", show=False, id="reading.coronal"),
        Binding("s", "plane('sagittal')", "Sagittal", show=False, id="reading.sagittal"),
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

    class DictationReady(Message):
        """The dictation session was built (or found) on a worker; None: there is none."""

        def __init__(self, session: DictationSession | None, reason: str = "") -> None:
            super().__init__()
            self.session = session
            self.reason = reason

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
        self.drafts = DraftStore(settings.data_dir / "drafts")
        self.document, self._draft_problem = self._open_document()

    def _open_document(self) -> tuple[ReportDocument, str]:
        """The case's report: its draft if there is one, else empty (with why, on a problem)."""
        case = self.case
        template = choose_template(case.modality, case.body_part, case.study_description)
        try:
            return self.drafts.open(template, case.id), ""
        except ValueError as error:  # unreadable draft, or one of another template: kept on disk
            return ReportDocument(template, case_id=case.id), str(error)

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            yield SeriesBrowser(id="series")
            with Vertical(id="centre"):
                yield ReadingViewport(id="viewport")
                yield OverlayBar(id="overlay")
            with Vertical(id="report-panel"):  # not a VerticalScroll: the editor takes 1fr
                yield Static(self._case_text(), id="case-info")
                dictation = self.services.dictation
                session = dictation.ready if dictation is not None else None
                yield ReportPanel(
                    self.document,
                    session=session,
                    drafts=self.drafts,
                    loading=dictation is not None and session is None,
                    id="report",
                )
        yield Footer()

    def _case_text(self) -> str:
        c = self.case
        age = "" if c.patient_age is None else f"{c.patient_age}"
        return (
            f"[b]{escape(c.id)}[/b]  {str(c.priority).upper()}  "
            f"{escape(c.study_description or '')}\n"
            f"{age}{escape(c.patient_sex or '')}  {escape(c.body_part or '')}\n"
            f"[dim]Clinical question:[/dim] {escape(c.clinical_question or '—')}"
        )

    def on_mount(self) -> None:
        self.sub_title = f"{self.case.id} · {self.case.study_description or ''}"
        panel = self.query_one("#report-panel")
        panel.border_title = f"Report · {self.document.template.title}"
        if self._draft_problem:
            self.notify(self._draft_problem, severity="warning")
        self.viewport.focus()
        self.viewport.freeze_frames = self._manages_heap
        self.viewport.cell_pixels = getattr(self.app, "cell_pixels", DEFAULT_CELL_PIXELS)
        self.viewport.renderer = getattr(self.app, "graphics", Renderer.HALFBLOCK)
        if self.services.dictation is not None:
            self.report_panel.show_microphone(_device_text(self.services.dictation.input_device))
            if self.report_panel.session is None:
                self._load_dictation()
        self.status_bar.note = "Loading series…"
        self._list_series()
        self.set_interval(self.settings.heartbeat_interval, self._heartbeat)
        self.set_interval(1.0, self._collect_thumbnails)

    def on_unmount(self) -> None:
        if self._manages_heap:
            heap.settle()  # a quiet moment: reclaim what the frames' freezes held on to

    @property
    def _manages_heap(self) -> bool:
        return bool(getattr(self.app, "manages_heap", False))

    @property
    def viewport(self) -> ReadingViewport:
        return self.query_one(ReadingViewport)

    @property
    def report_panel(self) -> ReportPanel:
        return self.query_one(ReportPanel)

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

    @work(thread=True, exclusive=True, group="dictation-model", exit_on_error=False)
    def _load_dictation(self) -> None:
        """Build (or fetch) the dictation session: loading a model takes seconds."""
        assert self.services.dictation is not None
        try:
            session = self.services.dictation.session()
        except ModelNotFoundError:
            self.post_message(self.DictationReady(None))  # the panel says how to install one
        except ModelError as error:
            self.post_message(self.DictationReady(None, f"Typing only: {error}"))
        else:
            self.post_message(self.DictationReady(session))

    def on_reading_screen_dictation_ready(self, message: DictationReady) -> None:
        self.report_panel.attach(message.session, reason=message.reason)

    @work(thread=True, exclusive=True, group="heartbeat", exit_on_error=False)
    def _heartbeat(self) -> None:
        self.services.client.heartbeat(self.case.id)

    # -- messages from the widgets ------------------------------------------------

    def on_viewport_measured(self, message: Viewport.Measured) -> None:
        self.viewport.measuring = False
        self.status_bar.note = ""
        self.status_bar.measurement = f"Distance {message.measurement.label}"

    def on_report_panel_sign_requested(self, message: ReportPanel.SignRequested) -> None:
        if isinstance(self.app.screen, SignDialog):
            return  # "sign report" said twice
        self.app.push_screen(SignDialog(message.document), self._sign_dismissed)

    def _sign_dismissed(self, confirmed: bool | None) -> None:
        if confirmed:
            self.notify(f"Not signed: {NOT_AVAILABLE} The draft is kept.", severity="warning")

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

    def action_report(self) -> None:
        self.report_panel.focus_editor()

    def action_dictation(self) -> None:
        self.report_panel.action_toggle_dictation()

    def action_input_device(self) -> None:
        """ctrl+d: choose the microphone for the next start of dictation."""
        dictation = self.services.dictation
        if dictation is None:
            self.notify("Dictation is not available: see the panel.", severity="warning")
            return
        if isinstance(self.app.screen, DevicePicker):
            return
        picker = DevicePicker(dictation.input_device, lister=dictation.list_devices)

        def chosen(index: int | None) -> None:
            if index is None:
                return  # cancelled: the microphone stays
            dictation.set_input_device(index)
            text = _device_text(index, picker.devices)
            self.report_panel.show_microphone(text)
            self.notify(f"Microphone {text} from the next start of dictation.", timeout=3)

        self.app.push_screen(picker, chosen)

    def action_commands_only(self) -> None:
        self.report_panel.action_toggle_command_only()

    def action_close(self) -> None:
        """Escape: from the report back to the image; from the image back to the worklist."""
        focused = self.focused
        if focused is not None and self.report_panel in focused.ancestors_with_self:
            self.viewport.focus()
            return
        self._stop_cine()
        session = self.report_panel.session
        if session is not None and session.state is not DictationState.OFF:
            self._stop_dictation_then_close(session)
        else:
            self.app.pop_screen()

    @work(thread=True, exclusive=True, group="dictation-stop", exit_on_error=False)
    def _stop_dictation_then_close(self, session: DictationSession) -> None:
        """Stop dictating on a worker (the last words reach this case's report), then leave."""
        session.stop()
        self.app.call_from_thread(self._leave)

    def _leave(self) -> None:
        if self.app.screen is self:
            self.app.pop_screen()
