"""The report panel on the reading screen: template, typing, focus, dictation, drafts, signing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.workstation.dictation.conftest import ChunkSource, ScriptedRecognizer
from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.config import Settings
from workstation.dictation.models import ModelError, ModelNotFoundError
from workstation.dictation.session import DictationSession, DictationState
from workstation.dictation.sink import MemoryDocument
from workstation.screens.reading import ReadingScreen
from workstation.screens.sign_dialog import NOT_AVAILABLE, SignDialog
from workstation.screens.worklist import WorklistScreen
from workstation.services import DictationService
from workstation.widgets.dictation_panel import DictationPanel
from workstation.widgets.report_editor import FieldArea, ReportEditor
from workstation.widgets.report_panel import LOADING_MODEL, NO_SESSION_MESSAGE, ReportPanel
from workstation.widgets.viewport import Viewport

pytestmark = pytest.mark.anyio
SIZE = (160, 50)


def scripted_session(script: list[tuple[str, str]], *, chunks: int, end: bool = True):
    """A session: a few silent chunks from the "microphone", a recogniser following a script."""
    return DictationSession(
        sink=MemoryDocument(),  # the panel makes its editor the sink
        recognizer_factory=lambda grammar: ScriptedRecognizer(
            script if grammar is None else [], grammar
        ),
        source_factory=lambda: ChunkSource(chunks, end=end),
    )


class Reading:
    """The app with the fake server; ``build`` makes its dictation session (None: no dictation)."""

    def __init__(self, tmp_path: Path, build=None) -> None:
        self.server = worklist_server()
        self.services = fake_services(self.server, token=self.server.issue_token())
        self.settings = settings_for(tmp_path, token=self.services.client.token)
        if build is not None:
            self.services.dictation = DictationService(self.settings, build=build)
        self.app = make_app(self.settings, self.services)

    async def open(self, pilot, keys: tuple[str, ...] = ("enter",)) -> ReadingScreen:
        await settle(pilot)
        assert isinstance(self.app.screen, WorklistScreen)
        await pilot.press(*keys)  # enter: RR-0000000B, CT abdomen and pelvis
        await settle(pilot)
        screen = self.app.screen
        assert isinstance(screen, ReadingScreen)
        return screen


async def test_the_report_editor_shows_the_chosen_template(tmp_path: Path) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        panel = screen.report_panel
        assert panel.document.template.id == "ct_abdomen_pelvis"
        assert panel.document.case_id == "RR-0000000B"
        ids = [area.id for area in screen.query(FieldArea)]
        assert ids[:3] == ["area-clinical_information", "area-technique", "area-comparison"]
        assert "area-liver" in ids
        assert "area-impression" in ids
        assert screen.query_one("#report-panel").border_title == "Report · CT Abdomen and Pelvis"
        assert panel.size.width >= 50  # the panel is wide enough to write in
        assert isinstance(screen.focused, Viewport)  # keys go to the image first
        # no dictation service: typing only, and the panel says how to install a model
        assert screen.query_one(DictationPanel).message == NO_SESSION_MESSAGE


async def test_typing_lands_in_the_document_and_escape_returns_to_the_image(
    tmp_path: Path,
) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        document = screen.report_panel.document
        await pilot.press("r")  # to the report
        assert isinstance(screen.focused, FieldArea)
        await pilot.press(*"Pain", "space", *"lrc")  # l, r, c are image keys elsewhere
        await pilot.press("tab", *"Portal")
        await pilot.pause()
        assert document.text("clinical_information") == "Pain lrc"
        assert document.text("technique") == "Portal"
        assert screen.series_index == 1  # tab in the report is the next field, not series
        assert screen.viewport.window.name != "Lung"
        await pilot.press("escape")
        assert isinstance(screen.focused, Viewport)
        assert reading.app.screen is screen  # escape in the report does not close the case
        await pilot.press("down")  # and the image keys work again
        assert screen.viewport.slice_index == 7
        await pilot.press("escape")
        assert isinstance(reading.app.screen, WorklistScreen)


async def test_a_draft_is_restored_when_the_case_is_reopened(tmp_path: Path) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        await pilot.press("r", *"Flank", "space", *"pain")
        await pilot.press("escape", "escape")  # to the image, then to the worklist
        await settle(pilot)
        assert isinstance(reading.app.screen, WorklistScreen)
        assert (tmp_path / "drafts" / "RR-0000000B.json").is_file()
        screen = await reading.open(pilot)
        document = screen.report_panel.document
        assert document.text("clinical_information") == "Flank pain"
        assert screen.query_one("#area-clinical_information", FieldArea).text == "Flank pain"


async def test_a_draft_of_another_template_is_kept_and_the_report_starts_empty(
    tmp_path: Path,
) -> None:
    drafts = tmp_path / "drafts"
    drafts.mkdir()
    (drafts / "RR-0000000B.json").write_text(
        '{"format": 1, "case_id": "RR-0000000B", "template": {"id": "ct_head"}, "texts": {}}'
    )
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        assert screen.report_panel.document.texts["clinical_information"] == ""
        messages = [n.message for n in reading.app._notifications]
        assert any("ct_head" in m for m in messages), messages
        assert "ct_head" in (drafts / "RR-0000000B.json").read_text()


async def test_f4_toggles_dictation_into_the_report(tmp_path: Path) -> None:
    session = scripted_session([("final", "no free fluid period")], chunks=2, end=False)
    built: list[Settings] = []

    def build(settings: Settings) -> DictationSession:
        built.append(settings)
        return session

    reading = Reading(tmp_path, build)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        panel = screen.report_panel
        assert panel.session is session  # built on a worker, then attached
        assert session.sink is panel.query_one(ReportEditor)
        assert isinstance(screen.focused, Viewport)
        await pilot.press("f4")  # from the image: the screen's binding
        await reading.app.workers.wait_for_complete()
        assert session.state is DictationState.DICTATING
        await pilot.press("f5")
        await reading.app.workers.wait_for_complete()
        assert session.state is DictationState.COMMAND_ONLY
        await pilot.press("f5")
        await reading.app.workers.wait_for_complete()
        await pilot.press("f4")  # stop: the last words are flushed into the editor
        await reading.app.workers.wait_for_complete()
        await pilot.pause()
        assert session.state is DictationState.OFF
        assert panel.document.text("clinical_information") == "No free fluid."
        assert screen.query_one("#area-clinical_information", FieldArea).text == "No free fluid."
        await pilot.press("escape")
        await settle(pilot)
        # the next case reuses the one session
        screen = await reading.open(pilot, ("down", "enter"))
        assert screen.report_panel.session is session
        assert session.sink is screen.report_panel.query_one(ReportEditor)
        assert len(built) == 1
    session.close()


async def test_escape_while_dictating_stops_first_and_keeps_the_words(tmp_path: Path) -> None:
    session = DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=lambda g: ScriptedRecognizer([("partial", "small cyst")], g),
        source_factory=lambda: ChunkSource(1, end=False),
    )
    reading = Reading(tmp_path, lambda settings: session)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        document = screen.report_panel.document
        await pilot.press("f4")
        await reading.app.workers.wait_for_complete()
        assert session.state is DictationState.DICTATING
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(reading.app.screen, WorklistScreen)
        assert session.state is DictationState.OFF
        assert document.text("clinical_information") == "Small cyst"
        assert "Small cyst" in (tmp_path / "drafts" / "RR-0000000B.json").read_text()
    session.close()


async def test_the_model_loads_on_a_worker_while_typing_works(tmp_path: Path) -> None:
    release = asyncio.Event()
    loop = asyncio.get_running_loop()
    session = scripted_session([], chunks=0)

    def slow_build(settings: Settings) -> DictationSession:
        asyncio.run_coroutine_threadsafe(release.wait(), loop).result(10)
        return session

    reading = Reading(tmp_path, slow_build)
    async with reading.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        while not isinstance(reading.app.screen, ReadingScreen):
            await pilot.pause()
        screen = reading.app.screen
        panel = screen.report_panel
        assert panel.session is None
        assert screen.query_one(DictationPanel).notice == LOADING_MODEL
        await pilot.press("r", *"ok")
        await pilot.pause()
        assert panel.document.text() == "ok"
        release.set()
        await settle(pilot)
        assert panel.session is session
        assert session.sink is panel.query_one(ReportEditor)
    session.close()


@pytest.mark.parametrize(
    ("error", "shown"),
    [
        (ModelNotFoundError("no model"), NO_SESSION_MESSAGE),
        (ModelError("cannot load the Vosk model at /m: bad"), "Typing only: cannot load"),
    ],
)
async def test_without_a_model_the_panel_says_why(
    tmp_path: Path, error: Exception, shown: str
) -> None:
    def build(settings: Settings) -> DictationSession:
        raise error

    reading = Reading(tmp_path, build)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        assert screen.report_panel.session is None
        assert screen.query_one(DictationPanel).message.startswith(shown)
        await pilot.press("f4")  # nothing to toggle: a warning, no crash
        await pilot.pause()
        assert reading.app.screen is screen


async def test_sign_opens_the_confirmation_with_the_report_and_missing_fields(
    tmp_path: Path,
) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        await pilot.press("r", *"Pain")
        await pilot.press("ctrl+s")
        await pilot.pause()
        dialog = reading.app.screen
        assert isinstance(dialog, SignDialog)
        text = str(dialog.query_one("#sign-text").render())
        assert "CLINICAL INFORMATION:\nPain" in text
        assert "Impression" in dialog.missing
        assert "Impression" in str(dialog.query_one("#sign-missing").render())
        assert dialog.query_one("#sign-confirm").disabled
        assert NOT_AVAILABLE in str(dialog.query_one("#sign-footer").render())
        await pilot.press("escape")
        await pilot.pause()
        assert reading.app.screen is screen
        assert isinstance(screen.focused, FieldArea)  # back where the radiologist was


async def test_confirming_a_complete_report_says_signing_is_not_available(
    tmp_path: Path,
) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        screen = await reading.open(pilot)
        document = screen.report_panel.document
        for spec in document.fields:
            document.replace_text(spec.id, "Normal.")
        panel: ReportPanel = screen.report_panel
        panel.action_request_sign()
        await pilot.pause()
        dialog = reading.app.screen
        assert isinstance(dialog, SignDialog)
        assert dialog.missing == ()
        assert not dialog.query_one("#sign-confirm").disabled
        await pilot.click("#sign-confirm")
        await pilot.pause()
        assert reading.app.screen is screen
        messages = [n.message for n in reading.app._notifications]
        assert any(NOT_AVAILABLE in m for m in messages), messages
