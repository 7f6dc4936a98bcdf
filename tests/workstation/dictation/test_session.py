"""The session from Vosk-format results (no model): formatting, commands, partials, threads."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from workstation.dictation.audio import NoInputDeviceError
from workstation.dictation.commands import Action, CommandTable
from workstation.dictation.diff import apply_diff
from workstation.dictation.session import (
    CommandExecuted,
    Committed,
    DictationSession,
    DictationState,
    ErrorOccurred,
    Finished,
    Overflowed,
    PartialChanged,
    SessionEvent,
    StateChanged,
    WordsIgnored,
)
from workstation.dictation.sink import MemoryDocument, ReportSink

from .conftest import ChunkSource, ScriptedRecognizer, final, partial


def say(session: DictationSession, *utterances: str) -> None:
    for text in utterances:
        session.handle_final(final(text))


def test_memory_document_is_a_report_sink(doc: MemoryDocument) -> None:
    assert isinstance(doc, ReportSink)


def test_dictation_is_formatted_into_the_current_field(session, doc) -> None:
    doc.goto_section("Findings")
    say(session, "there is a three point two centimeter mass period", "no effusion period")
    assert doc.fields["Findings"] == "There is a 3.2 cm mass. No effusion."


def test_utterances_continue_a_sentence_without_capital(session, doc) -> None:
    say(session, "the liver", "is normal comma", "the spleen too period")
    assert doc.text == "The liver is normal, the spleen too."


def test_punctuation_utterance_attaches_without_space(session, doc) -> None:
    say(session, "the liver is normal", "period")
    assert doc.text == "The liver is normal."


def test_commit_event_and_history(session, doc, events) -> None:
    say(session, "normal study")
    committed = [e for e in events if isinstance(e, Committed)]
    assert [c.text for c in committed] == ["Normal study"]
    assert session.history == ["Normal study"]


def test_partials_are_diffs_and_the_final_replaces_them(session, doc, events) -> None:
    session.handle_partial(partial("three"))
    session.handle_partial(partial("three point two"))
    session.handle_partial(partial("three point two centimeters"))
    shown = ""
    for event in events:
        if isinstance(event, PartialChanged):
            shown = apply_diff(shown, event.diff)
            assert shown == event.text
    assert shown == "3.2 cm"
    assert doc.text == ""  # partials are not typed by default
    session.handle_final(final("three point two centimeters"))
    assert doc.text == "3.2 cm"
    assert isinstance(events[-2], PartialChanged)
    assert events[-2].text == ""


def test_typed_partials_are_replaced_by_the_final(doc) -> None:
    session = DictationSession(
        sink=doc, recognizer_factory=lambda g: ScriptedRecognizer([], g), type_partials=True
    )
    say(session, "normal liver period")
    session.handle_partial(partial("the spleen"))
    assert doc.text == "Normal liver. The spleen"
    session.handle_partial(partial("the spleen is"))
    assert doc.text == "Normal liver. The spleen is"
    session.handle_final(final("the spleen is small period"))
    assert doc.text == "Normal liver. The spleen is small."
    session.handle_partial(partial("next"))
    session.handle_final(final("next field"))
    assert doc.fields["Clinical history"] == "Normal liver. The spleen is small."
    assert doc.section == "Findings"


def test_low_confidence_words_are_marked_for_review(session, doc, events) -> None:
    session.handle_final(final("mass in the left kidney", [1.0, 1.0, 1.0, 0.3, 0.9]))
    assert doc.text == "Mass in the left kidney"
    assert [doc.text[a:b] for a, b in doc.review["Clinical history"]] == ["left"]
    committed = next(e for e in events if isinstance(e, Committed))
    assert [w.word for w in committed.low_confidence] == ["left"]


def test_low_confidence_threshold_is_configurable(doc) -> None:
    session = DictationSession(
        sink=doc, recognizer_factory=lambda g: ScriptedRecognizer([], g), low_confidence=0.95
    )
    session.handle_final(final("left kidney", [0.9, 0.99]))
    assert [doc.text[a:b] for a, b in doc.review["Clinical history"]] == ["Left"]


# --- commands -----------------------------------------------------------------------


def test_navigation_commands(session, doc) -> None:
    say(
        session, "cough", "next field", "normal", "next field", "stable", "previous field", "period"
    )
    assert doc.fields == {
        "Clinical history": "Cough",
        "Findings": "Normal.",
        "Impression": "Stable",
    }


def test_go_to_section(session, doc) -> None:
    say(session, "go to impression", "no acute findings")
    assert doc.fields["Impression"] == "No acute findings"


def test_go_to_unknown_section_reports(session, doc, events) -> None:
    say(session, "go to garage")
    assert any(isinstance(e, ErrorOccurred) and "garage" in e.message for e in events)


def test_command_word_inside_a_sentence_is_dictated(session, doc) -> None:
    say(session, "the next field of view is normal")
    assert doc.section == "Clinical history"
    assert doc.text == "The next field of view is normal"


def test_scratch_that_removes_the_last_utterances(session, doc) -> None:
    say(session, "the liver is normal period", "the spleen is enlarged period", "scratch that")
    assert doc.text == "The liver is normal."
    say(session, "scratch that", "scratch that")
    assert doc.text == ""


def test_delete_last_word_and_sentence(session, doc) -> None:
    say(session, "the liver is normal period the spleen is big")
    say(session, "delete last word")
    assert doc.text == "The liver is normal. The spleen is"
    say(session, "delete last sentence")
    assert doc.text == "The liver is normal."
    say(session, "delete last sentence")
    assert doc.text == ""


def test_new_line_and_paragraph(session, doc) -> None:
    say(session, "normal period", "new paragraph", "stable", "new line", "unchanged")
    assert doc.text == "Normal.\n\nStable\nUnchanged"


def test_undo_redo(session, doc) -> None:
    say(session, "normal", "stable")
    say(session, "undo")
    assert doc.text == "Normal"
    say(session, "redo")
    assert doc.text == "Normal stable"


def test_insert_normal(session, doc) -> None:
    say(session, "go to findings", "insert normal", "normal impression")
    assert doc.fields["Findings"] == "Normal."
    assert doc.fields["Impression"] == "No acute abnormality."


def test_cap_and_all_caps(session, doc) -> None:
    say(session, "cap fleischner")
    assert doc.text == "Fleischner"
    say(session, "all caps on", "critical result", "all caps off", "called to doctor")
    assert doc.text == "Fleischner CRITICAL RESULT called to doctor"


def test_sign_report_only_requests_the_dialog(session, doc, events) -> None:
    say(session, "sign report")
    assert doc.sign_requests == 1
    assert any(
        isinstance(e, CommandExecuted) and e.command.action is Action.SIGN_REPORT for e in events
    )


def test_restricted_results_only_run_commands(session, doc, events) -> None:
    session.handle_final(final("next field hello next field", restricted=True))
    assert doc.section == "Impression"
    assert doc.fields == dict.fromkeys(doc.fields, "")
    assert any(isinstance(e, WordsIgnored) and e.words == ("hello",) for e in events)


def test_commands_from_config(doc, tmp_path) -> None:
    config = tmp_path / "commands.toml"
    config.write_text('[commands]\nnext_field = ["tab"]\n')
    table = CommandTable.from_toml(config).with_sections(list(doc.fields))
    session = DictationSession(
        sink=doc, recognizer_factory=lambda g: ScriptedRecognizer([], g), commands=table
    )
    say(session, "tab", "go to clinical history")
    assert doc.section == "Clinical history"
    say(session, "tab")
    assert doc.section == "Findings"


# --- the threaded pipeline with a scripted recogniser ---------------------------------


class Recorder:
    """Collects events and lets a test wait for one kind."""

    def __init__(self) -> None:
        self.events: list[SessionEvent] = []
        self._cond = threading.Condition()

    def __call__(self, event: SessionEvent) -> None:
        with self._cond:
            self.events.append(event)
            self._cond.notify_all()

    def wait_for(self, kind: type, timeout: float = 5.0) -> SessionEvent:
        with self._cond:
            assert self._cond.wait_for(
                lambda: any(isinstance(e, kind) for e in self.events), timeout
            )
            return next(e for e in self.events if isinstance(e, kind))

    def of(self, kind: type) -> list:
        return [e for e in self.events if isinstance(e, kind)]


def scripted(script: Sequence[tuple[str, str]], grammars: list | None = None):
    def factory(grammar):
        if grammars is not None:
            grammars.append(grammar)
        return ScriptedRecognizer(script if grammar is None else [], grammar)

    return factory


def test_recording_runs_through_the_engine_thread(doc) -> None:
    recorder = Recorder()
    script = [("partial", "no"), ("partial", "no acute"), ("final", "no acute findings period")]
    session = DictationSession(sink=doc, recognizer_factory=scripted(script), on_event=recorder)
    session.start(source=ChunkSource(5))
    assert session.wait_finished(5)
    assert doc.text == "No acute findings."
    kinds = [type(e) for e in recorder.events if not isinstance(e, StateChanged)]
    assert kinds.index(PartialChanged) < kinds.index(Committed) < kinds.index(Finished)
    assert session.state is DictationState.OFF
    session.close()


def test_stop_flushes_the_utterance_in_progress(doc) -> None:
    recorder = Recorder()
    session = DictationSession(
        sink=doc, recognizer_factory=scripted([("partial", "liver is normal")]), on_event=recorder
    )
    session.start(source=ChunkSource(1, end=False))
    recorder.wait_for(PartialChanged)
    session.stop()
    assert doc.text == "Liver is normal"
    session.close()


def test_overflow_is_counted_and_reported(doc) -> None:
    gate = threading.Event()

    class Slow(ScriptedRecognizer):
        def AcceptWaveform(self, data: bytes) -> bool:
            gate.wait(5)
            return super().AcceptWaveform(data)

    recorder = Recorder()
    session = DictationSession(
        sink=doc,
        recognizer_factory=lambda g: Slow([("final", "kept")], g),
        max_queue_chunks=3,
        on_event=recorder,
    )
    source = ChunkSource(10)
    session.start(source=source)
    source._thread.join()  # all chunks offered (the callback never blocks)
    assert session.overflow in (6, 7)
    assert recorder.of(Overflowed)[-1].count == session.overflow
    gate.set()
    assert session.wait_finished(5)
    assert doc.text == "Kept"
    session.close()


def test_toggles_switch_grammar_and_state(doc) -> None:
    grammars: list = []
    recorder = Recorder()
    session = DictationSession(
        sink=doc,
        recognizer_factory=scripted([], grammars),
        source_factory=lambda: ChunkSource(0, end=False),
        commands=CommandTable().with_sections(list(doc.fields)),
        on_event=recorder,
    )
    assert session.toggle_dictation() is DictationState.DICTATING
    assert session.toggle_command_only() is DictationState.COMMAND_ONLY
    assert session.toggle_command_only() is DictationState.DICTATING
    assert session.toggle_dictation() is DictationState.OFF
    session.close()
    assert grammars[0] is None
    assert "next field" in grammars[1]
    assert "go to impression" in grammars[1]
    assert grammars[2] is None
    states = [e.state for e in recorder.of(StateChanged)]
    assert states == ["dictating", "command_only", "dictating", "off"]


def test_spoken_stop_and_start_dictation_switch_modes(doc) -> None:
    session = DictationSession(
        sink=doc,
        recognizer_factory=scripted([]),
        source_factory=lambda: ChunkSource(0, end=False),
    )
    session.toggle_dictation()
    say(session, "stop dictation")
    assert session.state is DictationState.COMMAND_ONLY
    session.handle_final(final("start dictation", restricted=True))
    assert session.state is DictationState.DICTATING
    session.close()
    assert session.state is DictationState.OFF


def test_no_microphone_is_a_clear_error_and_typing_still_works(doc) -> None:
    def no_device():
        raise NoInputDeviceError("no microphone found; typing still works")

    recorder = Recorder()
    session = DictationSession(
        sink=doc, recognizer_factory=scripted([]), source_factory=no_device, on_event=recorder
    )
    with pytest.raises(NoInputDeviceError, match="no microphone"):
        session.toggle_dictation()
    assert session.state is DictationState.OFF
    assert recorder.of(ErrorOccurred)[0].message == "no microphone found; typing still works"
    doc.insert_text("typed by hand")
    assert doc.text == "typed by hand"
    session.close()
