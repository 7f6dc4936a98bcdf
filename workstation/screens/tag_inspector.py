"""The DICOM tag inspector: every element of the current instance's header (``t``)."""

from __future__ import annotations

from typing import ClassVar

from pydicom.dataset import Dataset
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from workstation.viewer.inspector import TagRow, tag_rows

__all__ = ["TagInspector"]


class TagInspector(ModalScreen[None]):
    """A filterable table of (tag, keyword, VR, value); Escape closes it."""

    DEFAULT_CSS = """
    TagInspector { align: center middle; }
    TagInspector > Vertical {
        width: 90%; height: 90%; border: thick $primary; background: $surface;
    }
    TagInspector #tag-title { text-style: bold; padding: 0 1; }
    TagInspector DataTable { height: 1fr; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="tags.close"),
        Binding("slash", "focus_filter", "Filter", id="tags.filter"),
    ]

    def __init__(self, header: Dataset, title: str) -> None:
        super().__init__()
        self._rows: list[TagRow] = tag_rows(header)
        self._title = title

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self._title, id="tag-title")
            yield Input(placeholder="Filter by tag, keyword or value (/)", id="tag-filter")
            yield DataTable(id="tags", cursor_type="row", zebra_stripes=True)

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("Tag", "Keyword", "VR", "Value")
        self._fill("")
        table.focus()

    def _fill(self, text: str) -> None:
        table = self.query_one(DataTable)
        table.clear()
        needle = text.lower()
        for row in self._rows:
            if needle and needle not in f"{row.tag} {row.keyword} {row.value}".lower():
                continue
            indent = "  " * row.depth
            table.add_row(row.tag, indent + row.keyword, row.vr, row.value)

    @on(Input.Changed, "#tag-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def action_focus_filter(self) -> None:
        self.query_one("#tag-filter", Input).focus()

    def action_close(self) -> None:
        self.dismiss(None)
