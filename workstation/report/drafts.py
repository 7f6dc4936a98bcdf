"""Drafts: the report being written, saved locally after edits so nothing dictated is lost.

One JSON file per case in ``platformdirs.user_data_dir("readroom")/drafts``,
written atomically (a temporary file in the same directory, fsync, rename) with
mode 0600. A draft holds the template id, every field's text, the words still
to review and the cursor.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from platformdirs import user_data_dir

from workstation.report.document import DEFAULT_HISTORY, Cursor, ReportDocument
from workstation.templates.model import ReportTemplate

__all__ = ["DRAFT_FORMAT", "DraftStore", "default_drafts_dir"]

DRAFT_FORMAT = 1
_CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def default_drafts_dir() -> Path:
    """``<user data dir>/drafts`` (e.g. ``~/.local/share/readroom/drafts`` on Linux)."""
    return Path(user_data_dir("readroom")) / "drafts"


class DraftStore:
    """Saves and restores report drafts, one file per case."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory if directory is not None else default_drafts_dir()

    def path(self, case_id: str) -> Path:
        """The draft file of a case (ValueError for an id that is not a safe file name)."""
        if not _CASE_ID.match(case_id) or case_id in {".", ".."}:
            raise ValueError(f"case id {case_id!r} cannot name a draft file")
        return self.directory / f"{case_id}.json"

    # --- save -------------------------------------------------------------------------

    @staticmethod
    def snapshot(document: ReportDocument) -> dict[str, Any]:
        """The draft of a document as JSON-ready data."""
        state = document.state()
        return {
            "format": DRAFT_FORMAT,
            "case_id": document.case_id,
            "template": {"id": document.template.id, "version": document.template.version},
            "texts": state.texts,
            "review": {key: [list(span) for span in spans] for key, spans in state.review.items()},
            "cursor": {"field": state.cursor_field, "offset": state.cursor_offset},
            "saved_at": time.time(),
        }

    def save(self, document: ReportDocument) -> Path:
        """Write the document's draft atomically (mode 0600); returns its path."""
        if document.case_id is None:
            raise ValueError("a draft needs the document's case id")
        return self.write(document.case_id, self.snapshot(document))

    def write(self, case_id: str, data: Mapping[str, Any]) -> Path:
        """Write draft data for a case atomically: temp file, fsync, rename."""
        target = self.path(case_id)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")
        fd, temp = tempfile.mkstemp(prefix=f".{case_id}.", suffix=".tmp", dir=self.directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return target

    # --- restore ----------------------------------------------------------------------

    def exists(self, case_id: str) -> bool:
        return self.path(case_id).is_file()

    def read(self, case_id: str) -> dict[str, Any] | None:
        """The saved draft data of a case, or None when there is none."""
        path = self.path(case_id)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ValueError(f"{path.name}: the draft cannot be read ({error})") from None
        if not isinstance(data, dict) or data.get("format") != DRAFT_FORMAT:
            raise ValueError(f"{path.name}: not a draft of format {DRAFT_FORMAT}")
        return data

    def restore(self, document: ReportDocument) -> bool:
        """Load the case's draft into ``document``; False when there is none.

        A draft of another template raises ValueError (it is left on disk).
        """
        if document.case_id is None:
            return False
        data = self.read(document.case_id)
        if data is None:
            return False
        path = self.path(document.case_id)
        template_id = (data.get("template") or {}).get("id")
        if template_id != document.template.id:
            raise ValueError(
                f"{path.name}: the draft uses template {template_id!r},"
                f" not {document.template.id!r}"
            )
        cursor_data = data.get("cursor") or {}
        try:
            cursor = Cursor(
                document.index_of(cursor_data.get("field", 0)), int(cursor_data.get("offset", 0))
            )
            document.load(data.get("texts") or {}, review=data.get("review"), cursor=cursor)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{path.name}: {error}") from None
        return True

    def open(
        self, template: ReportTemplate, case_id: str, *, history: int = DEFAULT_HISTORY
    ) -> ReportDocument:
        """A document for a case: its draft restored when there is one, else empty."""
        document = ReportDocument(template, case_id=case_id, history=history)
        self.restore(document)
        return document

    def discard(self, case_id: str) -> None:
        """Delete a case's draft (after the signed report is submitted)."""
        self.path(case_id).unlink(missing_ok=True)
