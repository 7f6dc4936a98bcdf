"""The report: document model (a dictation sink) and local drafts.

Headless: no Textual here (tests/workstation/test_import_hygiene.py checks it).
"""

from workstation.report.document import Cursor, DocumentState, EditKind, ReportDocument
from workstation.report.drafts import DraftStore, default_drafts_dir

__all__ = [
    "Cursor",
    "DocumentState",
    "DraftStore",
    "EditKind",
    "ReportDocument",
    "default_drafts_dir",
]
