"""The report document: a template's fields, their text, a cursor, undo/redo and review spans.

:class:`ReportDocument` implements :class:`~workstation.dictation.sink.ReportSink`,
so a :class:`~workstation.dictation.session.DictationSession` can drive it
headless; every method is thread-safe (sink calls arrive on the recogniser
thread, keyboard edits on the UI thread). Listeners registered with
:meth:`ReportDocument.subscribe` are called after each change, on the thread
that made it, outside the lock.

Review spans are the words recognised with low confidence: they shift with
edits and disappear when the radiologist edits inside them or accepts them.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from workstation.dictation.sink import Span
from workstation.templates.model import ReportTemplate, TemplateField

__all__ = ["Cursor", "DocumentState", "EditKind", "ReportDocument", "Span"]

DEFAULT_HISTORY = 200


class EditKind(StrEnum):
    """Where an edit came from; consecutive typing in one field is one undo step."""

    DICTATION = "dictation"
    TYPING = "typing"
    COMMAND = "command"


@dataclass(frozen=True, slots=True)
class Cursor:
    """The insertion point: a field index and a character offset in its text."""

    field: int
    offset: int


@dataclass(frozen=True, slots=True)
class DocumentState:
    """One consistent view of a document's content and editing state (for drafts)."""

    texts: dict[str, str]
    review: dict[str, tuple[Span, ...]]
    cursor_field: str
    cursor_offset: int


@dataclass(frozen=True, slots=True)
class _State:
    texts: tuple[str, ...]
    review: tuple[tuple[Span, ...], ...]
    cursor: Cursor


def _shift_spans(
    spans: Sequence[Span], start: int, end: int, inserted: str, *, touching_clears: bool
) -> list[Span]:
    """Spans after replacing ``[start, end)`` by ``inserted``; spans edited inside are dropped.

    An insertion at a span's edge keeps the span, unless ``touching_clears`` and the
    inserted text joins the word (no whitespace between): typing "s" after "left".
    """
    delta = len(inserted) - (end - start)
    out: list[Span] = []
    for a, b in spans:
        if start == end:  # a pure insertion
            if a < start < b:
                continue
            if touching_clears and inserted:
                if start == b and not inserted[0].isspace():
                    continue
                if start == a and not inserted[-1].isspace():
                    continue
        elif a < end and start < b:  # the replaced range overlaps the span
            continue
        out.append((a + delta, b + delta) if a >= end else (a, b))
    return out


def _normalise(text: str) -> str:
    """Text as signed: Unix newlines, no trailing spaces on a line, no outer blank space."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip()


class ReportDocument:
    """A report being written from a template (a :class:`ReportSink`)."""

    def __init__(
        self,
        template: ReportTemplate,
        *,
        case_id: str | None = None,
        history: int = DEFAULT_HISTORY,
    ) -> None:
        self.template = template
        self.case_id = case_id
        self.fields: tuple[TemplateField, ...] = template.fields
        #: Times "sign report" was asked for (by voice or key); nothing is signed here.
        self.sign_requests = 0
        #: Incremented by every change (edits, cursor moves, accepted words).
        self.revision = 0
        self._texts = [""] * len(self.fields)
        self._review: list[list[Span]] = [[] for _ in self.fields]
        self._cursor = Cursor(0, 0)
        self._undo: deque[_State] = deque(maxlen=history)
        self._redo: deque[_State] = deque(maxlen=history)
        self._typing_in: int | None = None  # field of the typing run the last undo step covers
        self._lock = threading.RLock()
        self._listeners: list[Callable[[], None]] = []
        self._sign_listeners: list[Callable[[], None]] = []

    # --- listeners ---------------------------------------------------------------

    def subscribe(self, listener: Callable[[], None]) -> Callable[[], None]:
        """Call ``listener()`` after every change; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def on_sign_requested(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` when "sign report" is asked for."""
        self._sign_listeners.append(listener)

    @contextmanager
    def _change(self) -> Iterator[None]:
        with self._lock:
            yield
            self.revision += 1
        for listener in list(self._listeners):
            listener()

    # --- reading -----------------------------------------------------------------

    @property
    def cursor(self) -> Cursor:
        """The insertion point."""
        return self._cursor

    @property
    def current(self) -> TemplateField:
        """The field the cursor is in."""
        return self.fields[self._cursor.field]

    def index_of(self, field: int | str) -> int:
        """The index of a field given by index or id (ValueError when there is none)."""
        if isinstance(field, int):
            if not 0 <= field < len(self.fields):
                raise ValueError(f"no field {field} (the template has {len(self.fields)})")
            return field
        for index, candidate in enumerate(self.fields):
            if candidate.id == field:
                return index
        raise ValueError(f"no field {field!r} in template {self.template.id!r}")

    def text(self, field: int | str | None = None) -> str:
        """A field's text (the current field's when None)."""
        with self._lock:
            index = self._cursor.field if field is None else self.index_of(field)
            return self._texts[index]

    @property
    def texts(self) -> dict[str, str]:
        """Every field's text by field id."""
        with self._lock:
            return {f.id: t for f, t in zip(self.fields, self._texts, strict=True)}

    def review_spans(self, field: int | str | None = None) -> tuple[Span, ...]:
        """The spans of a field to review (the current field's when None)."""
        with self._lock:
            index = self._cursor.field if field is None else self.index_of(field)
            return tuple(self._review[index])

    def state(self) -> DocumentState:
        """Texts, review spans (of fields that have some) and cursor, taken together."""
        with self._lock:
            return DocumentState(
                texts=dict(zip((f.id for f in self.fields), self._texts, strict=True)),
                review={
                    f.id: tuple(spans)
                    for f, spans in zip(self.fields, self._review, strict=True)
                    if spans
                },
                cursor_field=self.fields[self._cursor.field].id,
                cursor_offset=self._cursor.offset,
            )

    @property
    def can_undo(self) -> bool:
        return bool(self._undo)

    @property
    def can_redo(self) -> bool:
        return bool(self._redo)

    # --- undo history ------------------------------------------------------------------

    def _state(self) -> _State:
        return _State(tuple(self._texts), tuple(map(tuple, self._review)), self._cursor)

    def _apply_state(self, state: _State) -> None:
        self._texts = list(state.texts)
        self._review = [list(spans) for spans in state.review]
        self._cursor = state.cursor

    def _checkpoint(self, kind: EditKind = EditKind.COMMAND, field: int | None = None) -> None:
        if kind is EditKind.TYPING and field is not None and self._typing_in == field:
            return  # the same typing run: one undo step
        self._undo.append(self._state())
        self._redo.clear()
        self._typing_in = field if kind is EditKind.TYPING else None

    def _replace(
        self, index: int, start: int, end: int, inserted: str, *, touching_clears: bool
    ) -> None:
        text = self._texts[index]
        self._texts[index] = text[:start] + inserted + text[end:]
        self._review[index] = _shift_spans(
            self._review[index], start, end, inserted, touching_clears=touching_clears
        )

    # --- ReportSink -------------------------------------------------------------------

    def insert_text(self, text: str, review_spans: Sequence[Span] = ()) -> None:
        """Insert ``text`` at the cursor; ``review_spans`` are offsets inside ``text``."""
        if not text:
            return
        with self._change():
            self._checkpoint(EditKind.DICTATION)
            index, offset = self._cursor.field, self._cursor.offset
            self._replace(index, offset, offset, text, touching_clears=False)
            added = [(offset + a, offset + b) for a, b in review_spans if 0 <= a < b <= len(text)]
            self._review[index] = sorted(self._review[index] + added)
            self._cursor = Cursor(index, offset + len(text))

    def delete_chars(self, count: int) -> None:
        """Delete up to ``count`` characters before the cursor."""
        with self._change():
            index, offset = self._cursor.field, self._cursor.offset
            start = max(0, offset - count)
            if start == offset:
                return
            self._checkpoint(EditKind.DICTATION)
            self._replace(index, start, offset, "", touching_clears=False)
            self._cursor = Cursor(index, start)

    def text_before_cursor(self) -> str:
        with self._lock:
            return self._texts[self._cursor.field][: self._cursor.offset]

    def next_field(self) -> None:
        self.move_cursor(min(self._cursor.field + 1, len(self.fields) - 1))

    def previous_field(self) -> None:
        self.move_cursor(max(self._cursor.field - 1, 0))

    def goto_section(self, name: str) -> bool:
        """Move to the end of the field (or first field of the section) called ``name``."""
        indices = self.template.resolve(name)
        if not indices:
            return False
        self.move_cursor(indices[0])
        return True

    def insert_normal(self, section: str | None) -> None:
        """Replace the text of a field, or every field of a section, by the normal text.

        ``None`` means the current field. One undo step; an unknown name does nothing.
        """
        with self._change():
            indices = (self._cursor.field,) if section is None else self.template.resolve(section)
            indices = tuple(i for i in indices if self.fields[i].normal)
            if not indices:
                return
            self._checkpoint(EditKind.COMMAND)
            for index in indices:
                self._texts[index] = self.fields[index].normal
                self._review[index] = []
            if self._cursor.field in indices:
                self._cursor = Cursor(self._cursor.field, len(self._texts[self._cursor.field]))

    def undo(self) -> None:
        with self._change():
            if self._undo:
                self._redo.append(self._state())
                self._apply_state(self._undo.pop())
                self._typing_in = None

    def redo(self) -> None:
        with self._change():
            if self._redo:
                self._undo.append(self._state())
                self._apply_state(self._redo.pop())
                self._typing_in = None

    def request_sign(self) -> None:
        """Count the request and tell the listeners; never signs."""
        with self._lock:
            self.sign_requests += 1
        for listener in list(self._sign_listeners):
            listener()

    # --- editing from the keyboard -------------------------------------------------------

    def move_cursor(self, field: int | str, offset: int | None = None) -> None:
        """Put the cursor in ``field`` at ``offset`` (the end of its text when None)."""
        with self._change():
            index = self.index_of(field)
            length = len(self._texts[index])
            offset = length if offset is None else min(max(offset, 0), length)
            if index != self._cursor.field:
                self._typing_in = None
            self._cursor = Cursor(index, offset)

    def replace_text(self, field: int | str, text: str, *, cursor: int | None = None) -> None:
        """Set a field's whole text as typed (the editor's view of it); the cursor goes there.

        The change is located by common prefix and suffix, so review spans outside it
        survive; a run of typing in one field is one undo step.
        """
        with self._change():
            index = self.index_of(field)
            old = self._texts[index]
            if old != text:
                self._checkpoint(EditKind.TYPING, index)
                prefix = 0
                limit = min(len(old), len(text))
                while prefix < limit and old[prefix] == text[prefix]:
                    prefix += 1
                suffix = 0
                while suffix < limit - prefix and old[-1 - suffix] == text[-1 - suffix]:
                    suffix += 1
                inserted = text[prefix : len(text) - suffix]
                self._replace(index, prefix, len(old) - suffix, inserted, touching_clears=True)
            offset = len(text) if cursor is None else min(max(cursor, 0), len(text))
            self._cursor = Cursor(index, offset)

    def accept_review(self, field: int | str | None = None, span: Span | None = None) -> None:
        """Accept words heard with low confidence: one span, or all of a field (current: None)."""
        with self._change():
            index = self._cursor.field if field is None else self.index_of(field)
            self._review[index] = [s for s in self._review[index] if span is not None and s != span]

    def load(
        self,
        texts: Mapping[str, str],
        *,
        review: Mapping[str, Sequence[Span]] | None = None,
        cursor: Cursor | None = None,
    ) -> None:
        """Replace the content (e.g. from a draft) and forget the undo history.

        Unknown field ids raise ValueError; fields not named are left empty.
        """
        with self._change():
            new_texts = [""] * len(self.fields)
            new_review: list[list[Span]] = [[] for _ in self.fields]
            for field_id, text in texts.items():
                new_texts[self.index_of(field_id)] = text
            for field_id, spans in (review or {}).items():
                index = self.index_of(field_id)
                size = len(new_texts[index])
                new_review[index] = sorted(
                    (int(a), int(b)) for a, b in spans if 0 <= int(a) < int(b) <= size
                )
            self._texts, self._review = new_texts, new_review
            if cursor is None:
                cursor = Cursor(0, len(new_texts[0]))
            index = self.index_of(cursor.field)
            self._cursor = Cursor(index, min(max(cursor.offset, 0), len(new_texts[index])))
            self._undo.clear()
            self._redo.clear()
            self._typing_in = None

    # --- the report ---------------------------------------------------------------------

    def missing_required(self) -> tuple[str, ...]:
        """Titles of the required fields (or groups) still empty; () when complete."""
        with self._lock:
            filled = {f.id: bool(t.strip()) for f, t in zip(self.fields, self._texts, strict=True)}
        missing: list[str] = []
        for section in self.template.sections:
            if section.structured:
                if section.required and not any(filled[f.id] for f in section.fields):
                    missing.append(section.title)
                missing.extend(f.title for f in section.fields if f.required and not filled[f.id])
            elif section.fields[0].required and not filled[section.fields[0].id]:
                missing.append(section.title)
        return tuple(missing)

    @property
    def is_complete(self) -> bool:
        """True when every required field has text."""
        return not self.missing_required()

    def to_dict(self) -> dict[str, Any]:
        """The report's content (what is signed): template, case and every field's text.

        Texts are normalised (see ``_normalise``); editing state (cursor, review
        spans, history) is not part of it.
        """
        with self._lock:
            texts = dict(zip((f.id for f in self.fields), self._texts, strict=True))
        return {
            "case_id": self.case_id,
            "template": {"id": self.template.id, "version": self.template.version},
            "title": self.template.title,
            "sections": [
                {
                    "id": section.id,
                    "title": section.title,
                    "fields": [
                        {"id": f.id, "title": f.title, "text": _normalise(texts[f.id])}
                        for f in section.fields
                    ],
                }
                for section in self.template.sections
            ],
        }

    def canonical_json(self) -> bytes:
        """``to_dict()`` as canonical JSON: sorted keys, no spaces, UTF-8 (the bytes to sign)."""
        return json.dumps(
            self.to_dict(),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
        ).encode("utf-8")

    def render_text(self) -> str:
        """The report as plain text: headings in capitals, empty optional parts left out."""
        data = self.to_dict()
        blocks = [data["title"].upper()]
        for section, spec in zip(data["sections"], self.template.sections, strict=True):
            if spec.structured:
                lines = [f"{f['title']}: {f['text']}" for f in section["fields"] if f["text"]]
                body = "\n".join(lines)
            else:
                body = section["fields"][0]["text"]
            if body:
                blocks.append(f"{section['title'].upper()}:\n{body}")
        return "\n\n".join(blocks) + "\n"
