"""The worklist: assigned cases, polled in the background; Enter opens one for reading."""

from __future__ import annotations

from datetime import UTC
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from workstation.client import ReadingCase, WorklistCase
from workstation.config import Settings
from workstation.screens.base import ForwardsWorkerFailures
from workstation.services import Services
from workstation.widgets.worklist_table import WorklistTable
from workstation.worklist import COLUMNS, SortKey, is_overdue

__all__ = ["WorklistScreen"]


def _sort_binding(n: int, key: SortKey, label: str) -> Binding:
    return Binding(
        str(n), f"sort('{key.value}')", f"Sort {label}", show=False, id=f"worklist.sort_{key.value}"
    )


class WorklistScreen(ForwardsWorkerFailures, Screen[None]):
    """Filter input, the worklist table and a status line."""

    DEFAULT_CSS = """
    WorklistScreen #filter { margin: 0 1; }
    WorklistScreen #status { height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_filter", "Filter", id="worklist.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="worklist.clear_filter"),
        Binding("r", "refresh", "Refresh", id="worklist.refresh"),
        Binding("s", "cycle_sort", "Sort", id="worklist.sort"),
        Binding("S", "reverse_sort", "Reverse", id="worklist.reverse"),
        *(_sort_binding(n, c.key, c.label) for n, c in enumerate(COLUMNS, start=1)),
    ]

    class WorklistLoaded(Message):
        """A fresh worklist arrived from the server."""

        def __init__(self, cases: list[WorklistCase]) -> None:
            super().__init__()
            self.cases = cases

    class CaseOpened(Message):
        """The server gave us the reading lock on a case."""

        def __init__(self, case: WorklistCase, reading: ReadingCase) -> None:
            super().__init__()
            self.case = case
            self.reading = reading

    def __init__(self, settings: Settings, services: Services) -> None:
        super().__init__()
        self.settings = settings
        self.services = services
        self.loaded = False

    def compose(self) -> ComposeResult:
        yield Header()
        yield Input(placeholder="Filter: type words to match any column  (/)", id="filter")
        yield WorklistTable(id="worklist")
        yield Static("Loading worklist…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(WorklistTable).focus()
        self.refresh_worklist()
        self.set_interval(self.settings.poll_interval, self.refresh_worklist)
        self.set_interval(30, self._tick)

    def _tick(self) -> None:
        """Count time left down between polls."""
        if self.loaded:
            self.table.now = self.services.clock()

    @property
    def table(self) -> WorklistTable:
        return self.query_one(WorklistTable)

    # -- polling -----------------------------------------------------------------

    @work(thread=True, exclusive=True, group="worklist", exit_on_error=False)
    def refresh_worklist(self) -> None:
        """Fetch the worklist (in a thread) and post :class:`WorklistLoaded`."""
        self.post_message(self.WorklistLoaded(self.services.client.worklist()))

    def on_worklist_screen_worklist_loaded(self, message: WorklistLoaded) -> None:
        self.loaded = True
        self.table.now = self.services.clock()
        self.table.cases = tuple(message.cases)
        shown = len(self.table.visible_cases)
        overdue = sum(1 for c in message.cases if is_overdue(c, self.table.now))
        when = self.table.now.astimezone(UTC).strftime("%H:%M:%S UTC")
        status = f"{len(message.cases)} cases ({shown} shown), {overdue} overdue · updated {when}"
        self.query_one("#status", Static).update(status)

    # -- filter and sort ---------------------------------------------------------

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.table.filter_text = event.value

    @on(Input.Submitted, "#filter")
    def _filter_done(self) -> None:
        self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_clear_filter(self) -> None:
        self.query_one("#filter", Input).value = ""
        self.table.focus()

    def action_refresh(self) -> None:
        self.refresh_worklist()

    def action_sort(self, key: str) -> None:
        sort_key = SortKey(key)
        if self.table.sort_key is sort_key:
            self.table.sort_reverse = not self.table.sort_reverse
        else:
            self.table.sort_key, self.table.sort_reverse = sort_key, False

    def action_cycle_sort(self) -> None:
        keys = [c.key for c in COLUMNS]
        self.table.sort_key = keys[(keys.index(self.table.sort_key) + 1) % len(keys)]

    def action_reverse_sort(self) -> None:
        self.table.sort_reverse = not self.table.sort_reverse

    # -- opening a case ----------------------------------------------------------

    def on_worklist_table_case_chosen(self, message: WorklistTable.CaseChosen) -> None:
        self.open_case(message.case)

    @work(thread=True, exclusive=True, group="open", exit_on_error=False)
    def open_case(self, case: WorklistCase) -> None:
        """``POST /cases/{id}/open`` (the reading lock), then the case's reading details."""
        self.services.client.open_case(case.id)
        self.post_message(self.CaseOpened(case, self.services.client.reading(case.id)))

    def on_worklist_screen_case_opened(self, message: CaseOpened) -> None:
        from workstation.screens.reading import ReadingScreen

        study_uid = message.reading.study_instance_uid
        if study_uid is None:
            self.notify(f"Case {message.case.id} has no images yet.", severity="warning")
            return
        after = self.table.case_after(message.case)
        if after is not None and after.study_instance_uid:
            self.services.volumes.prefetch_study(after.study_instance_uid)
        self.app.push_screen(
            ReadingScreen(self.settings, self.services, case=message.reading, study_uid=study_uid)
        )
