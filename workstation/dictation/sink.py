"""Where dictation lands: the :class:`ReportSink` protocol and an in-memory document.

The report editor implements :class:`ReportSink`; the dictation session calls
it from its worker thread (a UI implementation marshals each call to its own
thread, e.g. with Textual's ``call_from_thread``). :class:`MemoryDocument` is a
plain implementation for tests, benchmarks and headless use.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

__all__ = ["MemoryDocument", "ReportSink", "Span"]

#: (start, end) character offsets inside an inserted text.
Span = tuple[int, int]


@runtime_checkable
class ReportSink(Protocol):
    """The edits dictation makes to a report; the cursor is the insertion point."""

    def insert_text(self, text: str, review_spans: Sequence[Span] = ()) -> None:
        """Insert ``text`` at the cursor; ``review_spans`` mark words to review."""

    def delete_chars(self, count: int) -> None:
        """Delete ``count`` characters before the cursor."""

    def text_before_cursor(self) -> str:
        """The current field's text before the cursor (for spacing and capitals)."""

    def next_field(self) -> None:
        """Move to the next field of the template."""

    def previous_field(self) -> None:
        """Move to the previous field."""

    def goto_section(self, name: str) -> bool:
        """Move to the section called ``name``; False if there is none."""

    def insert_normal(self, section: str | None) -> None:
        """Fill ``section`` (the current one when None) with the template's normal text."""

    def undo(self) -> None:
        """Undo the last edit."""

    def redo(self) -> None:
        """Redo the last undone edit."""

    def request_sign(self) -> None:
        """Ask for the sign dialog to open (never signs by itself)."""


class MemoryDocument:
    """A report as ordered sections of text; the cursor sits at the end of a section."""

    def __init__(
        self,
        sections: Sequence[str] = ("Findings", "Impression"),
        normals: Mapping[str, str] | None = None,
    ) -> None:
        self.fields: dict[str, str] = dict.fromkeys(sections, "")
        self.normals = dict(normals or {})
        self.current = 0
        self.review: dict[str, list[Span]] = {name: [] for name in sections}
        self.sign_requests = 0
        self._undo: list[tuple[dict[str, str], int]] = []
        self._redo: list[tuple[dict[str, str], int]] = []
        self._lock = threading.Lock()

    @property
    def section(self) -> str:
        """The name of the current section."""
        return list(self.fields)[self.current]

    @property
    def text(self) -> str:
        """The current section's text."""
        return self.fields[self.section]

    def _checkpoint(self) -> None:
        self._undo.append((dict(self.fields), self.current))
        self._redo.clear()

    def insert_text(self, text: str, review_spans: Sequence[Span] = ()) -> None:
        with self._lock:
            self._checkpoint()
            start = len(self.fields[self.section])
            self.fields[self.section] += text
            self.review[self.section].extend((start + a, start + b) for a, b in review_spans)

    def delete_chars(self, count: int) -> None:
        with self._lock:
            if count <= 0:
                return
            self._checkpoint()
            text = self.fields[self.section]
            self.fields[self.section] = text[: max(0, len(text) - count)]

    def text_before_cursor(self) -> str:
        with self._lock:
            return self.fields[self.section]

    def next_field(self) -> None:
        with self._lock:
            self.current = min(self.current + 1, len(self.fields) - 1)

    def previous_field(self) -> None:
        with self._lock:
            self.current = max(self.current - 1, 0)

    def goto_section(self, name: str) -> bool:
        with self._lock:
            for index, section in enumerate(self.fields):
                if section.lower() == name.lower():
                    self.current = index
                    return True
            return False

    def insert_normal(self, section: str | None) -> None:
        with self._lock:
            name = section or self.section
            for candidate in self.fields:
                if candidate.lower() == name.lower():
                    self._checkpoint()
                    self.fields[candidate] = self.normals.get(candidate, "")
                    return

    def undo(self) -> None:
        with self._lock:
            if self._undo:
                self._redo.append((dict(self.fields), self.current))
                self.fields, self.current = self._undo.pop()

    def redo(self) -> None:
        with self._lock:
            if self._redo:
                self._undo.append((dict(self.fields), self.current))
                self.fields, self.current = self._redo.pop()

    def request_sign(self) -> None:
        with self._lock:
            self.sign_requests += 1
