"""The worklist as a DataTable: set ``cases``, ``filter_text``, ``sort_key``; it posts
``CaseChosen``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import DataTable

from workstation.client import WorklistCase
from workstation.worklist import (
    COLUMNS,
    SortKey,
    age_sex,
    filter_cases,
    format_time_left,
    sort_cases,
    time_left,
)

__all__ = ["WorklistTable"]

_SOON = timedelta(hours=24)


class WorklistTable(DataTable[Text | str]):
    """Assigned cases, one row each; Enter or a click on a row chooses the case."""

    DEFAULT_CSS = """
    WorklistTable { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="worklist.open"),
    ]

    cases: reactive[tuple[WorklistCase, ...]] = reactive((), always_update=True)
    """Every case on the worklist, in the server's order."""
    filter_text: reactive[str] = reactive("")
    """Only cases matching every word are shown."""
    sort_key: reactive[SortKey] = reactive(SortKey.PRIORITY)
    """The column the rows are ordered by."""
    sort_reverse: reactive[bool] = reactive(False)
    """Descending order."""
    now: reactive[datetime] = reactive(lambda: datetime.now(UTC))
    """The time "time left" is counted from."""

    class CaseChosen(Message):
        """The radiologist chose a case to open."""

        def __init__(self, case: WorklistCase) -> None:
            super().__init__()
            self.case = case

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.visible_cases: list[WorklistCase] = []

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column.label, key=column.key.value, width=column.width)

    def watch_cases(self) -> None:
        self._rebuild()

    def watch_filter_text(self) -> None:
        self._rebuild()

    def watch_sort_key(self) -> None:
        self._rebuild()

    def watch_sort_reverse(self) -> None:
        self._rebuild()

    def watch_now(self) -> None:
        self._rebuild()

    def _rebuild(self) -> None:
        if not self.is_mounted or not self.columns:
            return
        current = self.highlighted_case
        current_id = current.id if current is not None else None
        shown = sort_cases(
            filter_cases(self.cases, self.filter_text), self.sort_key, reverse=self.sort_reverse
        )
        self.visible_cases = shown
        self.clear()
        for case in shown:
            self.add_row(*self._cells(case), key=case.id)
        ids = [case.id for case in shown]
        if current_id in ids:
            self.move_cursor(row=ids.index(current_id), animate=False)
        self._mark_sorted_column()

    def _cells(self, case: WorklistCase) -> list[Text | str]:
        left = time_left(case, self.now)
        due_style = ""
        if left is not None and left < timedelta(0):
            due_style = "bold red"
        elif left is not None and left < _SOON:
            due_style = "yellow"
        urgent = case.priority != "routine"
        priority = Text(str(case.priority).upper(), style="bold magenta" if urgent else "")
        return [
            priority,
            Text(format_time_left(left), style=due_style, justify="right"),
            case.modality or "",
            case.body_part or "",
            case.study_description or "",
            age_sex(case),
            case.clinical_question or "",
            Text(str(case.image_count), justify="right"),
        ]

    def _mark_sorted_column(self) -> None:
        arrow = " ▼" if self.sort_reverse else " ▲"
        for column in COLUMNS:
            label = column.label + (arrow if column.key is self.sort_key else "")
            self.columns[column.key.value].label = Text(label)
        self.refresh()

    @property
    def highlighted_case(self) -> WorklistCase | None:
        """The case under the cursor."""
        if not self.visible_cases or not 0 <= self.cursor_row < len(self.visible_cases):
            return None
        return self.visible_cases[self.cursor_row]

    def case_after(self, case: WorklistCase) -> WorklistCase | None:
        """The case shown after ``case`` (what is read next), if any."""
        ids = [shown.id for shown in self.visible_cases]
        if case.id not in ids:
            return None
        index = ids.index(case.id) + 1
        return self.visible_cases[index] if index < len(self.visible_cases) else None

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        case = self.highlighted_case
        if case is not None:
            self.post_message(self.CaseChosen(case))

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        event.stop()
        key = SortKey(str(event.column_key.value))
        if key is self.sort_key:
            self.sort_reverse = not self.sort_reverse
        else:
            self.sort_key, self.sort_reverse = key, False
