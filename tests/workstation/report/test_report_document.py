"""The report document: edits, cursor, undo/redo, review spans, completeness, JSON, rendering."""

from __future__ import annotations

import json
import threading

import pytest

from workstation.dictation.sink import ReportSink
from workstation.report.document import Cursor, ReportDocument
from workstation.templates import builtin_templates


@pytest.fixture
def doc() -> ReportDocument:
    return ReportDocument(builtin_templates()["ct_head"], case_id="RR-0001")


def test_is_a_report_sink(doc: ReportDocument) -> None:
    assert isinstance(doc, ReportSink)


def test_fields_follow_the_template(doc: ReportDocument) -> None:
    assert [f.id for f in doc.fields] == [
        "clinical_information",
        "technique",
        "comparison",
        "brain_parenchyma",
        "ventricles",
        "extra_axial_spaces",
        "skull",
        "sinuses_mastoids",
        "impression",
    ]
    assert doc.cursor == Cursor(0, 0)
    assert doc.current.id == "clinical_information"


def test_insert_and_delete_at_the_cursor(doc: ReportDocument) -> None:
    doc.insert_text("Headache")
    doc.insert_text(" and vomiting")
    assert doc.text() == "Headache and vomiting"
    assert doc.cursor == Cursor(0, 21)
    doc.delete_chars(12)
    assert doc.text() == "Headache "
    doc.delete_chars(100)
    assert doc.text() == ""
    assert doc.cursor == Cursor(0, 0)


def test_insert_in_the_middle_after_moving_the_cursor(doc: ReportDocument) -> None:
    doc.insert_text("Fall.")
    doc.move_cursor(0, 4)
    doc.insert_text(" from standing")
    assert doc.text() == "Fall from standing."
    assert doc.text_before_cursor() == "Fall from standing"


def test_navigation(doc: ReportDocument) -> None:
    doc.previous_field()
    assert doc.cursor.field == 0
    doc.insert_text("x")
    doc.next_field()
    assert doc.current.id == "technique"
    assert doc.goto_section("impression")
    assert doc.current.id == "impression"
    doc.next_field()
    assert doc.current.id == "impression"
    assert doc.goto_section("Findings")
    assert doc.current.id == "brain_parenchyma"
    assert doc.goto_section("sinuses")
    assert doc.current.id == "sinuses_mastoids"
    assert not doc.goto_section("garage")
    assert doc.current.id == "sinuses_mastoids"
    assert doc.goto_section("clinical history")
    assert doc.cursor == Cursor(0, 1)  # at the end of the text


def test_insert_normal_field_section_and_current(doc: ReportDocument) -> None:
    doc.insert_normal("impression")
    assert doc.text("impression") == "No acute intracranial abnormality."
    assert doc.current.id == "clinical_information"  # the cursor stays
    doc.insert_normal("findings")
    assert all(doc.text(f.id) == f.normal for f in doc.fields if f.section == "findings")
    doc.goto_section("ventricles")
    doc.delete_chars(5)
    doc.insert_normal(None)
    assert doc.text() == doc.current.normal
    assert doc.cursor.offset == len(doc.current.normal)
    doc.insert_normal("garage")  # nothing happens
    doc.goto_section("clinical information")
    doc.insert_normal(None)  # clinical information has no normal text
    assert doc.text() == ""


def test_undo_redo(doc: ReportDocument) -> None:
    doc.insert_text("One")
    doc.insert_text(" two")
    doc.next_field()
    doc.insert_normal(None)
    doc.undo()
    assert doc.text("technique") == ""
    doc.undo()
    assert doc.text("clinical_information") == "One"
    assert doc.cursor == Cursor(0, 3)
    doc.redo()
    assert doc.text("clinical_information") == "One two"
    assert doc.cursor == Cursor(1, 0)  # where it was when undone
    doc.insert_text("CT")  # a new edit forgets the redo
    assert not doc.can_redo
    doc.redo()
    assert doc.texts["technique"] == "CT"
    for _ in range(10):
        doc.undo()
    assert doc.texts == dict.fromkeys(doc.texts, "")
    assert not doc.can_undo


def test_history_is_bounded() -> None:
    doc = ReportDocument(builtin_templates()["generic"], history=3)
    for word in ["a", "b", "c", "d", "e"]:
        doc.insert_text(word)
    for _ in range(10):
        doc.undo()
    assert doc.text() == "ab"


def test_a_run_of_typing_is_one_undo_step(doc: ReportDocument) -> None:
    doc.insert_text("Dictated")
    for text in ("Dictated.", "Dictated. T", "Dictated. Ty", "Dictated. Typed"):
        doc.replace_text(0, text)
    doc.replace_text(1, "x")
    doc.undo()
    assert doc.text(1) == ""
    doc.undo()
    assert doc.text(0) == "Dictated"
    doc.undo()
    assert doc.text(0) == ""


def test_review_spans_shift_with_edits_and_clear_when_edited(doc: ReportDocument) -> None:
    doc.insert_text("Mass in the left kidney", [(12, 16)])
    assert doc.review_spans() == ((12, 16),)
    doc.move_cursor(0, 0)
    doc.insert_text("A ")  # before the span: it shifts
    assert doc.review_spans() == ((14, 18),)
    assert doc.text()[14:18] == "left"
    doc.move_cursor(0)
    doc.insert_text(" period", [(1, 7)])
    assert [doc.text()[a:b] for a, b in doc.review_spans()] == ["left", "period"]
    doc.delete_chars(7)  # deleting a reviewed word drops its span
    assert [doc.text()[a:b] for a, b in doc.review_spans()] == ["left"]
    doc.replace_text(0, "A Mass in the leftt kidney")  # typing into the word clears it
    assert doc.review_spans() == ()


def test_typing_next_to_a_word_clears_it_but_a_space_does_not(doc: ReportDocument) -> None:
    doc.insert_text("left kidney", [(0, 4)])
    doc.replace_text(0, "left  kidney")
    assert doc.review_spans() == ((0, 4),)
    doc.replace_text(0, "lefts  kidney")
    assert doc.review_spans() == ()


def test_dictation_next_to_a_reviewed_word_keeps_it(doc: ReportDocument) -> None:
    doc.insert_text("left", [(0, 4)])
    doc.insert_text(".")
    assert doc.review_spans() == ((0, 4),)


def test_accepting_review_spans(doc: ReportDocument) -> None:
    doc.insert_text("left renal mass", [(0, 4), (5, 10)])
    doc.accept_review(span=(0, 4))
    assert doc.review_spans() == ((5, 10),)
    doc.accept_review()
    assert doc.review_spans() == ()
    doc.undo()  # accepting is not an edit: undo takes back the text
    assert doc.text() == ""


def test_undo_restores_review_spans(doc: ReportDocument) -> None:
    doc.insert_text("left", [(0, 4)])
    doc.replace_text(0, "right")
    assert doc.review_spans() == ()
    doc.undo()
    assert doc.review_spans() == ((0, 4),)


def test_completeness(doc: ReportDocument) -> None:
    assert doc.missing_required() == ("Findings", "Impression")
    assert not doc.is_complete
    doc.goto_section("ventricles")
    doc.insert_text("Normal.")
    assert doc.missing_required() == ("Impression",)
    doc.goto_section("impression")
    doc.insert_text("   ")
    assert doc.missing_required() == ("Impression",)
    doc.insert_text("Normal.")
    assert doc.is_complete


def test_canonical_json_is_stable_and_sorted(doc: ReportDocument) -> None:
    doc.insert_text("  Headache \r\nsince  \nmorning  ")
    doc.goto_section("impression")
    doc.insert_text("Normal. Ünïcode 정상")
    first = doc.canonical_json()
    again = ReportDocument(builtin_templates()["ct_head"], case_id="RR-0001")
    again.load(doc.texts)
    again.move_cursor("technique")  # editing state is not content
    again.insert_text("x", [(0, 1)])
    again.undo()
    assert again.canonical_json() == first
    data = json.loads(first)
    assert first == json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")
    assert "정상".encode() in first
    assert data["template"] == {"id": "ct_head", "version": 1}
    assert data["case_id"] == "RR-0001"
    assert data["sections"][0]["fields"][0]["text"] == "Headache\nsince\nmorning"
    assert [s["id"] for s in data["sections"]][-1] == "impression"


def test_render_text(doc: ReportDocument) -> None:
    doc.insert_text("Fall.")
    doc.insert_normal("skull")
    doc.goto_section("brain")
    doc.insert_text("Small old infarct.")
    doc.insert_normal("impression")
    assert doc.render_text() == (
        "CT HEAD\n\n"
        "CLINICAL INFORMATION:\nFall.\n\n"
        "FINDINGS:\n"
        "Brain parenchyma: Small old infarct.\n"
        "Skull and calvarium: No fracture or aggressive osseous lesion of the calvarium or"
        " skull base.\n\n"
        "IMPRESSION:\nNo acute intracranial abnormality.\n"
    )


def test_listeners_and_sign_requests(doc: ReportDocument) -> None:
    changes: list[int] = []
    signs: list[bool] = []
    unsubscribe = doc.subscribe(lambda: changes.append(doc.revision))
    doc.on_sign_requested(lambda: signs.append(True))
    doc.insert_text("a")
    doc.next_field()
    doc.request_sign()
    assert changes == [1, 2]
    assert signs == [True]
    assert doc.sign_requests == 1
    unsubscribe()
    doc.insert_text("b")
    assert changes == [1, 2]


def test_load_and_state(doc: ReportDocument) -> None:
    doc.load(
        {"impression": "Normal.", "technique": "CT"},
        review={"impression": [(0, 6), (3, 99)]},
        cursor=Cursor(8, 3),
    )
    state = doc.state()
    assert state.texts["impression"] == "Normal."
    assert state.review == {"impression": ((0, 6),)}
    assert (state.cursor_field, state.cursor_offset) == ("impression", 3)
    assert not doc.can_undo
    with pytest.raises(ValueError, match="no field 'garage'"):
        doc.load({"garage": "x"})


def test_concurrent_edits_are_not_lost(doc: ReportDocument) -> None:
    def dictate() -> None:
        for _ in range(200):
            doc.insert_text("a")

    threads = [threading.Thread(target=dictate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert doc.text() == "a" * 800
    assert doc.cursor.offset == 800
