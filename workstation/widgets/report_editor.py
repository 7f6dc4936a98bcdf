"""The report editor: one labelled text area per template field, over a :class:`ReportDocument`.

The document is the truth. Keystrokes go into it (``TextArea.Changed`` →
:meth:`ReportDocument.replace_text`); dictation reaches it through this
widget, which implements :class:`~workstation.dictation.sink.ReportSink` by
running each call on the UI thread (``app.call_from_thread``), applying it to
the document and redrawing the fields. So the recogniser thread blocks until
the edit is on screen: call :class:`DictationSession` toggles from a worker
thread, never the UI thread. Once unmounted, sink calls go straight to the
(thread-safe) document, so the last words are never lost.

The current field is highlighted and follows the cursor; words heard with low
confidence are highlighted until edited or accepted (ctrl+r).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import ClassVar, TypeVar

from rich.style import Style
from rich.text import Text
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import Label, TextArea

from workstation.dictation.sink import Span
from workstation.report.document import ReportDocument

__all__ = ["FieldArea", "ReportEditor"]

T = TypeVar("T")
REVIEW_STYLE = Style(reverse=True, color="yellow")


class FieldArea(TextArea):
    """The text of one field; ctrl+z / ctrl+y go to the document's history, not the widget's."""

    DEFAULT_CSS = """
    FieldArea {
        height: auto;
        min-height: 2;
        max-height: 14;
        border: none;
        padding: 0;
        background: $surface;
    }
    FieldArea:focus { border: none; background: $boost; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+z", "undo", "Undo", show=False, id="report.undo"),
        Binding("ctrl+y", "redo", "Redo", show=False, id="report.redo"),
    ]

    review: reactive[tuple[Span, ...]] = reactive(())
    """Character spans (in the whole text) of words to review, highlighted."""

    class HistoryRequested(Message):
        """Undo (or, with ``redo``, redo) was pressed in a field."""

        def __init__(self, redo: bool) -> None:
            super().__init__()
            self.redo = redo

    def __init__(self, index: int, text: str = "", *, id: str | None = None) -> None:
        super().__init__(text, id=id, soft_wrap=True, tab_behavior="focus")
        self.index = index

    @property
    def cursor_offset(self) -> int:
        """The cursor as a character offset in the text."""
        return self.document.get_index_from_location(self.cursor_location)

    def place_cursor(self, offset: int) -> None:
        """Move the cursor to a character offset (clamped to the text)."""
        offset = min(max(offset, 0), len(self.text))
        self.move_cursor(self.document.get_location_from_index(offset))

    def watch_review(self) -> None:
        self._line_cache.clear()  # rendered lines are cached by position, not by highlight
        self.refresh()

    def get_line(self, line_index: int) -> Text:
        line = super().get_line(line_index)
        if not self.review:
            return line
        start = self.document.get_index_from_location((line_index, 0))
        end = start + len(line.plain)
        for a, b in self.review:
            if a < end and b > start:
                line.stylize(REVIEW_STYLE, max(a, start) - start, min(b, end) - start)
        return line

    def action_undo(self) -> None:
        self.post_message(self.HistoryRequested(redo=False))

    def action_redo(self) -> None:
        self.post_message(self.HistoryRequested(redo=True))


class ReportEditor(VerticalScroll):
    """Shows and edits a report document; a :class:`ReportSink` for dictation (thread-safe)."""

    DEFAULT_CSS = """
    ReportEditor { height: 1fr; }
    ReportEditor .section-title { text-style: bold; color: $text-muted; margin-top: 1; }
    ReportEditor .field { height: auto; padding: 0 0 0 1; border-left: blank; }
    ReportEditor .field.-current { border-left: thick $accent; background: $boost; }
    ReportEditor .field-title { color: $text-muted; }
    ReportEditor .field.-current .field-title { color: $accent; text-style: bold; }
    ReportEditor .field.-required .field-title { text-style: underline; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab,ctrl+down", "next_field", "Next field", show=False, id="report.next_field"),
        Binding(
            "shift+tab,ctrl+up",
            "previous_field",
            "Prev field",
            show=False,
            id="report.previous_field",
        ),
        Binding("ctrl+r", "accept_review", "Accept words", id="report.accept_review"),
    ]

    can_focus = False  # the fields take focus, and the view scrolls to follow them

    current: reactive[int] = reactive(0, init=False)
    """Index of the field the cursor is in (highlighted)."""

    class DocumentChanged(Message):
        """The document was edited (typing or dictation) or its cursor moved."""

        def __init__(self, document: ReportDocument) -> None:
            super().__init__()
            self.document = document

    class SignRequested(Message):
        """Dictation asked to sign the report (the editor never signs)."""

        def __init__(self, document: ReportDocument) -> None:
            super().__init__()
            self.document = document

    def __init__(
        self, document: ReportDocument, *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.document = document
        self._ui_app: App[object] | None = None
        self._ui_thread: int | None = None
        self._programmatic_focus: set[int] = set()

    def compose(self) -> ComposeResult:
        index = 0
        for section in self.document.template.sections:
            if section.structured:
                yield Label(section.title.upper(), classes="section-title")
            for spec in section.fields:
                classes = "field -required" if spec.required else "field"
                with Vertical(classes=classes, id=f"field-{spec.id}"):
                    yield Label(spec.title, classes="field-title")
                    yield FieldArea(index, self.document.text(index), id=f"area-{spec.id}")
                index += 1

    def on_mount(self) -> None:
        self._ui_app = self.app
        self._ui_thread = threading.get_ident()
        self.set_reactive(ReportEditor.current, self.document.cursor.field)
        self.refresh_from_document()
        self.watch_current(-1, self.current)

    def on_unmount(self) -> None:
        self._ui_app = None

    # --- the view ----------------------------------------------------------------------

    @property
    def areas(self) -> list[FieldArea]:
        """The field areas, in template order."""
        return list(self.query(FieldArea))

    def area(self, field: int | str) -> FieldArea:
        """The area of a field given by index or id."""
        return self.areas[self.document.index_of(field)]

    def focus_current(self) -> None:
        """Put the keyboard focus in the current field."""
        self.areas[self.document.cursor.field].focus()

    def refresh_from_document(self) -> None:
        """Redraw every field from the document (text, review spans, cursor, highlight)."""
        document = self.document
        cursor = document.cursor
        for area in self.areas:
            text = document.text(area.index)
            if area.text != text:
                area.load_text(text)
            spans = document.review_spans(area.index)
            if area.review != spans:
                area.review = spans
            if area.index == cursor.field and area.cursor_offset != cursor.offset:
                area.place_cursor(cursor.offset)
        self.current = cursor.field

    def watch_current(self, old: int, new: int) -> None:
        containers = list(self.query(".field"))
        if 0 <= old < len(containers):
            containers[old].remove_class("-current")
        if 0 <= new < len(containers):
            containers[new].add_class("-current")
            self.scroll_to_widget(containers[new], animate=False)
            focused = self.screen.focused if self.is_attached else None
            areas = self.areas
            if isinstance(focused, FieldArea) and focused in areas and focused.index != new:
                self._programmatic_focus.add(new)
                areas[new].focus(scroll_visible=False)

    def _changed(self) -> None:
        self.post_message(self.DocumentChanged(self.document))

    # --- keyboard ------------------------------------------------------------------------

    def _pull(self) -> None:
        """Copy typing the document has not seen yet (its Changed message still queued)."""
        document = self.document
        for area in self.areas:
            if area.text != document.text(area.index):
                document.replace_text(area.index, area.text, cursor=area.cursor_offset)

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        area = event.text_area
        if not isinstance(area, FieldArea) or area.text == self.document.text(area.index):
            return  # our own redraw, or already pulled
        event.stop()
        self.document.replace_text(area.index, area.text, cursor=area.cursor_offset)
        area.review = self.document.review_spans(area.index)
        self.current = area.index
        self._changed()

    def on_text_area_selection_changed(self, event: TextArea.SelectionChanged) -> None:
        area = event.text_area
        event.stop()
        if (
            isinstance(area, FieldArea)
            and area.has_focus
            and area.index == self.document.cursor.field
            and area.cursor_offset != self.document.cursor.offset
        ):
            self.document.move_cursor(area.index, area.cursor_offset)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        area = event.widget
        if not isinstance(area, FieldArea):
            return
        if area.index in self._programmatic_focus:
            self._programmatic_focus.discard(area.index)
            return
        if area.index != self.document.cursor.field:
            self.document.move_cursor(area.index, area.cursor_offset)
            self.current = area.index
            self._changed()

    def on_field_area_history_requested(self, message: FieldArea.HistoryRequested) -> None:
        message.stop()
        self._edit(self.document.redo if message.redo else self.document.undo)

    def action_next_field(self) -> None:
        self._edit(self.document.next_field)

    def action_previous_field(self) -> None:
        self._edit(self.document.previous_field)

    def action_accept_review(self) -> None:
        """Accept the highlighted words of the current field."""
        self._edit(self.document.accept_review)

    # --- ReportSink (any thread) -------------------------------------------------------------

    def _edit(self, operation: Callable[[], T]) -> T:
        """Run ``operation`` on the document from the UI thread, then redraw."""
        if self.is_mounted:
            self._pull()
        result = operation()
        if self.is_mounted:
            self.refresh_from_document()
            self._changed()
        return result

    def _on_ui(self, operation: Callable[[], T]) -> T:
        """Run an edit on the UI thread (waiting for it), or directly when not shown."""
        app = self._ui_app
        if app is None or threading.get_ident() == self._ui_thread:
            return self._edit(operation) if app is not None else operation()
        try:
            return app.call_from_thread(self._edit, operation)
        except RuntimeError:
            if self._ui_app is not None:
                raise
            return operation()  # the app stopped meanwhile: keep the words in the document

    def insert_text(self, text: str, review_spans: Sequence[Span] = ()) -> None:
        self._on_ui(lambda: self.document.insert_text(text, review_spans))

    def delete_chars(self, count: int) -> None:
        self._on_ui(lambda: self.document.delete_chars(count))

    def text_before_cursor(self) -> str:
        return self._on_ui(self.document.text_before_cursor)

    def next_field(self) -> None:
        self._on_ui(self.document.next_field)

    def previous_field(self) -> None:
        self._on_ui(self.document.previous_field)

    def goto_section(self, name: str) -> bool:
        return self._on_ui(lambda: self.document.goto_section(name))

    def insert_normal(self, section: str | None) -> None:
        self._on_ui(lambda: self.document.insert_normal(section))

    def undo(self) -> None:
        self._on_ui(self.document.undo)

    def redo(self) -> None:
        self._on_ui(self.document.redo)

    def request_sign(self) -> None:
        self.document.request_sign()
        self.post_message(self.SignRequested(self.document))
