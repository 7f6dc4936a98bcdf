"""Drafts: round trip, atomic writes with mode 0600, restore, bad files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from workstation.report.document import Cursor, ReportDocument
from workstation.report.drafts import DraftStore, default_drafts_dir
from workstation.templates import builtin_templates


@pytest.fixture
def store(tmp_path: Path) -> DraftStore:
    return DraftStore(tmp_path / "drafts")


def written_document() -> ReportDocument:
    doc = ReportDocument(builtin_templates()["ct_chest"], case_id="RR-0042")
    doc.insert_text("Cough.")
    doc.goto_section("lungs")
    doc.insert_text("Nodule in the left upper lobe 정상", [(14, 18)])
    doc.move_cursor("lungs_airways", 6)
    return doc


def test_default_directory_is_under_the_user_data_dir() -> None:
    assert default_drafts_dir().parts[-2:] == ("readroom", "drafts")


def test_round_trip(store: DraftStore) -> None:
    doc = written_document()
    path = store.save(doc)
    assert path == store.directory / "RR-0042.json"
    restored = store.open(builtin_templates()["ct_chest"], "RR-0042")
    assert restored.texts == doc.texts
    assert restored.review_spans("lungs_airways") == ((14, 18),)
    assert restored.cursor == Cursor(doc.index_of("lungs_airways"), 6)
    assert restored.canonical_json() == doc.canonical_json()
    assert not restored.can_undo


def test_no_draft_gives_an_empty_document(store: DraftStore) -> None:
    doc = store.open(builtin_templates()["generic"], "RR-0001")
    assert doc.texts == dict.fromkeys(doc.texts, "")
    assert not store.exists("RR-0001")


def test_file_is_private_and_the_write_atomic(store: DraftStore) -> None:
    doc = written_document()
    path = store.save(doc)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.directory.stat().st_mode) == 0o700
    assert [p.name for p in store.directory.iterdir()] == ["RR-0042.json"]  # no temp left


def test_a_failed_write_leaves_the_old_draft_intact(
    store: DraftStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = written_document()
    path = store.save(doc)
    before = path.read_bytes()
    doc.insert_text(" more")

    def fail(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        store.save(doc)
    assert path.read_bytes() == before
    assert [p.name for p in store.directory.iterdir()] == ["RR-0042.json"]


def test_discard(store: DraftStore) -> None:
    store.save(written_document())
    store.discard("RR-0042")
    assert not store.exists("RR-0042")
    store.discard("RR-0042")  # no error when already gone


@pytest.mark.parametrize("case_id", ["../evil", "a/b", "", ".."])
def test_case_id_must_be_a_safe_file_name(store: DraftStore, case_id: str) -> None:
    with pytest.raises(ValueError, match="cannot name a draft file"):
        store.path(case_id)


def test_a_document_without_case_cannot_be_saved(store: DraftStore) -> None:
    with pytest.raises(ValueError, match="case id"):
        store.save(ReportDocument(builtin_templates()["generic"]))


def test_draft_of_another_template_is_refused(store: DraftStore) -> None:
    store.save(written_document())
    with pytest.raises(ValueError, match=r"RR-0042\.json: the draft uses template 'ct_chest'"):
        store.open(builtin_templates()["ct_head"], "RR-0042")
    assert store.exists("RR-0042")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot be read"),
        ('{"format": 99}', "not a draft of format 1"),
        ("[]", "not a draft"),
    ],
)
def test_corrupt_drafts_raise_clear_errors(store: DraftStore, content: str, message: str) -> None:
    store.directory.mkdir(parents=True)
    store.path("RR-0042").write_text(content)
    with pytest.raises(ValueError, match=message):
        store.open(builtin_templates()["ct_chest"], "RR-0042")


def test_unknown_field_in_a_draft(store: DraftStore) -> None:
    data = store.snapshot(written_document())
    data["texts"]["garage"] = "x"
    store.write("RR-0042", data)
    with pytest.raises(ValueError, match=r"RR-0042\.json: no field 'garage'"):
        store.open(builtin_templates()["ct_chest"], "RR-0042")


def test_snapshot_is_json(store: DraftStore) -> None:
    data = store.snapshot(written_document())
    assert json.loads(json.dumps(data)) == data
    assert data["template"] == {"id": "ct_chest", "version": 1}
    assert data["cursor"] == {"field": "lungs_airways", "offset": 6}
