"""The recogniser thread with a scripted recogniser: ordering, flush, grammar, errors."""

from __future__ import annotations

import threading

from workstation.dictation.engine import (
    EndOfStream,
    EngineError,
    Final,
    Partial,
    RecognizerThread,
)

from .conftest import ScriptedRecognizer, vosk_result


def test_final_from_vosk_json_keeps_word_confidences() -> None:
    final = Final.from_json(vosk_result("left kidney", [0.4, 0.9]), captured_at=1.0)
    assert final.text == "left kidney"
    assert [(w.word, w.conf) for w in final.words] == [("left", 0.4), ("kidney", 0.9)]
    assert final.captured_at == 1.0


def test_events_in_order_and_end_of_stream() -> None:
    events: list = []
    done = threading.Event()

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, EndOfStream):
            done.set()

    script = [
        ("partial", "a"),
        ("partial", "a"),
        ("partial", "a b"),
        ("final", "a b c"),
        ("partial", "d"),
    ]
    thread = RecognizerThread(lambda g: ScriptedRecognizer(script, g), on_event)
    thread.start()
    for _ in range(5):
        assert thread.feed(b"\x00\x00")
    thread.flush(end_of_stream=True)
    assert done.wait(5)
    thread.close()
    assert events[:3] == [Partial("a"), Partial("a b"), events[2]]
    assert [e.text for e in events if isinstance(e, Final)] == ["a b c", "d"]
    assert isinstance(events[-1], EndOfStream)


def test_grammar_change_flushes_and_marks_results_restricted() -> None:
    events: list = []
    grammars: list = []

    def factory(grammar):
        grammars.append(grammar)
        return ScriptedRecognizer(
            [("partial", "dictated")] if grammar is None else [("final", "undo")], grammar
        )

    thread = RecognizerThread(factory, events.append)
    thread.start()
    thread.feed(b"\x00\x00")
    thread.set_grammar(["undo"])
    thread.feed(b"\x00\x00")
    assert thread.flush().wait(5)
    thread.close()
    finals = [e for e in events if isinstance(e, Final)]
    assert [(f.text, f.restricted) for f in finals] == [("dictated", False), ("undo", True)]
    assert grammars == [None, ("undo",)]


def test_a_failing_handler_is_reported_and_the_thread_survives() -> None:
    events: list = []

    def on_event(event) -> None:
        events.append(event)
        if isinstance(event, Final) and event.text == "boom":
            raise RuntimeError("sink failed")

    script = [("final", "boom"), ("final", "fine")]
    thread = RecognizerThread(lambda g: ScriptedRecognizer(script, g), on_event)
    thread.start()
    thread.feed(b"\x00\x00")
    thread.feed(b"\x00\x00")
    assert thread.flush().wait(5)
    thread.close()
    assert any(isinstance(e, EngineError) and "sink failed" in str(e.error) for e in events)
    assert [e.text for e in events if isinstance(e, Final)] == ["boom", "fine"]


def test_a_failing_recognizer_factory_is_reported() -> None:
    events: list = []
    failed = threading.Event()

    def factory(grammar):
        raise OSError("model missing")

    def on_event(event) -> None:
        events.append(event)
        failed.set()

    thread = RecognizerThread(factory, on_event)
    thread.start()
    assert failed.wait(5)
    assert isinstance(events[0], EngineError)
