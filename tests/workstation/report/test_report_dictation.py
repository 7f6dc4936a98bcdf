"""The voice command table against the real report document (no model: Vosk-format results)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.workstation.dictation.conftest import ChunkSource, ScriptedRecognizer, final
from workstation.dictation.commands import CommandTable
from workstation.dictation.session import DictationSession, ErrorOccurred, SessionEvent
from workstation.report.document import ReportDocument
from workstation.templates import builtin_templates


@pytest.fixture
def doc() -> ReportDocument:
    return ReportDocument(builtin_templates()["ct_head"], case_id="RR-0007")


@pytest.fixture
def events() -> list[SessionEvent]:
    return []


@pytest.fixture
def session(doc: ReportDocument, events: list[SessionEvent]) -> Iterator[DictationSession]:
    s = DictationSession(
        sink=doc,
        recognizer_factory=lambda grammar: ScriptedRecognizer([], grammar),
        commands=CommandTable().with_sections(doc.template.spoken_names()),
        on_event=events.append,
    )
    yield s
    s.close()


def say(session: DictationSession, *utterances: str) -> None:
    for text in utterances:
        session.handle_final(final(text))


def test_dictation_with_punctuation_lands_in_the_current_field(session, doc) -> None:
    say(session, "headache comma vomiting period", "no trauma period")
    assert doc.text("clinical_information") == "Headache, vomiting. No trauma."


def test_next_field_and_go_to(session, doc) -> None:
    say(session, "fall from standing period", "next field", "non contrast period")
    assert doc.text("clinical_information") == "Fall from standing."
    assert doc.text("technique") == "Non contrast."
    say(session, "go to impression", "no acute findings period")
    assert doc.text("impression") == "No acute findings."
    say(session, "go to extra axial spaces", "small subdural period")
    assert doc.text("extra_axial_spaces") == "Small subdural."
    say(session, "previous field", "normal period")
    assert doc.text("ventricles") == "Normal."


def test_go_to_a_section_moves_to_its_first_field(session, doc) -> None:
    say(session, "go to findings", "mild atrophy period")
    assert doc.text("brain_parenchyma") == "Mild atrophy."


def test_go_to_an_unknown_section_is_dictated(session, doc) -> None:
    say(session, "go to garage")
    assert doc.current.id == "clinical_information"
    assert doc.text() == "Go to garage"  # not a section of this template: dictated


def test_normal_findings_fills_every_findings_field(session, doc) -> None:
    say(session, "normal findings", "normal impression")
    for field in doc.fields:
        if field.section in ("findings", "impression"):
            assert doc.text(field.id) == field.normal
    assert doc.is_complete
    say(session, "go to skull", "insert normal")
    assert doc.text("skull") == doc.fields[doc.index_of("skull")].normal
    say(session, "normal brain")
    assert doc.text("brain_parenchyma").startswith("No acute territorial infarct")


def test_scratch_that(session, doc) -> None:
    say(session, "the brain is normal period", "the ventricles are large period", "scratch that")
    assert doc.text() == "The brain is normal."
    say(session, "next field", "scratch that")  # moving on forgets what can be scratched
    assert doc.text("clinical_information") == "The brain is normal."


def test_cap_and_all_caps(session, doc) -> None:
    say(session, "known", "cap glioblastoma")
    assert doc.text() == "Known Glioblastoma"
    say(session, "all caps on", "critical", "all caps off", "result")
    assert doc.text() == "Known Glioblastoma CRITICAL result"


def test_delete_new_line_undo_redo(session, doc) -> None:
    say(session, "first period", "new line", "second word")
    assert doc.text() == "First.\nSecond word"
    say(session, "delete last word")
    assert doc.text() == "First.\nSecond"
    say(session, "undo")
    assert doc.text() == "First.\nSecond word"
    say(session, "redo")
    assert doc.text() == "First.\nSecond"


def test_low_confidence_words_become_review_spans(session, doc) -> None:
    session.handle_final(final("mass in the left frontal lobe", [1, 1, 1, 0.3, 1, 1]))
    text = doc.text()
    assert [text[a:b] for a, b in doc.review_spans()] == ["left"]


def test_sign_report_only_counts_a_request(session, doc) -> None:
    say(session, "sign report")
    assert doc.sign_requests == 1
    assert doc.texts == dict.fromkeys(doc.texts, "")


def test_restricted_results_only_run_commands(session, doc, events) -> None:
    session.handle_final(final("go to impression hello normal impression", restricted=True))
    assert doc.current.id == "impression"
    assert doc.text() == "No acute intracranial abnormality."
    assert not any(isinstance(e, ErrorOccurred) for e in events)


def test_a_recording_through_the_engine_thread(doc: ReportDocument) -> None:
    script = [
        ("partial", "no"),
        ("final", "go to impression"),
        ("final", "no acute intracranial abnormality period"),
    ]
    session = DictationSession(
        sink=doc,
        recognizer_factory=lambda g: ScriptedRecognizer(script if g is None else [], g),
        commands=CommandTable().with_sections(doc.template.spoken_names()),
    )
    session.start(source=ChunkSource(5))
    assert session.wait_finished(5)
    assert doc.text("impression") == "No acute intracranial abnormality."
    session.close()
