"""The microphone picker (ctrl+d on the reading screen), on a fake device list."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import OptionList, Static

from tests.workstation.dictation.conftest import ScriptedRecognizer
from tests.workstation.fakes import fake_services, settings_for, settle, worklist_server
from workstation.app import make_app
from workstation.config import Settings
from workstation.dictation.audio import AudioUnavailableError, InputDevice, MicrophoneFactory
from workstation.dictation.session import DictationSession
from workstation.dictation.sink import MemoryDocument
from workstation.screens.device_picker import NO_DEVICES, SUBTITLE, DevicePicker
from workstation.screens.reading import ReadingScreen
from workstation.screens.worklist import WorklistScreen
from workstation.services import DictationService

pytestmark = pytest.mark.anyio
SIZE = (160, 50)
DEVICES = [
    InputDevice(0, "Built-in microphone", 2, 48000.0, default=True),
    InputDevice(3, "USB dictation mic", 1, 16000.0),
]


def microphone_session(settings: Settings) -> DictationSession:
    """A session like the real one (a microphone factory), on a scripted recogniser."""
    return DictationSession(
        sink=MemoryDocument(),
        recognizer_factory=lambda grammar: ScriptedRecognizer([], grammar),
        source_factory=MicrophoneFactory(settings.input_device),
    )


class Reading:
    def __init__(self, tmp_path: Path, *, lister=lambda: DEVICES, dictation=True, **settings):
        self.server = worklist_server()
        self.services = fake_services(self.server, token=self.server.issue_token())
        self.settings = settings_for(tmp_path, token=self.services.client.token, **settings)
        if dictation:
            self.services.dictation = DictationService(
                self.settings, build=microphone_session, list_devices=lister
            )
        self.app = make_app(self.settings, self.services)

    async def picker(self, pilot) -> DevicePicker:
        await settle(pilot)
        assert isinstance(self.app.screen, WorklistScreen)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(self.app.screen, ReadingScreen)
        await pilot.press("ctrl+d")
        await settle(pilot)
        picker = self.app.screen
        assert isinstance(picker, DevicePicker)
        return picker


async def test_lists_the_devices_and_enter_chooses_one(tmp_path: Path) -> None:
    reading = Reading(tmp_path)
    async with reading.app.run_test(size=SIZE) as pilot:
        picker = await reading.picker(pilot)
        options = picker.query_one(OptionList)
        assert options.option_count == 2
        assert options.highlighted == 0  # none configured: the system default is in use
        assert "Built-in microphone" in str(options.get_option_at_index(0).prompt)
        assert str(picker.query_one("#devices-subtitle", Static).render()) == SUBTITLE
        await pilot.press("down", "enter")
        await settle(pilot)
        screen = reading.app.screen
        assert isinstance(screen, ReadingScreen)
        service = reading.services.dictation
        assert service is not None
        assert service.input_device == 3
        session = service.ready
        assert isinstance(session, DictationSession)
        assert isinstance(session.source_factory, MicrophoneFactory)
        assert session.source_factory.device == 3  # the next start opens this one
        assert screen.report_panel.dictation.microphone == "3: USB dictation mic"
        assert reading.settings.input_device is None  # the config is not written


async def test_escape_keeps_the_configured_device(tmp_path: Path) -> None:
    reading = Reading(tmp_path, input_device="usb")
    async with reading.app.run_test(size=SIZE) as pilot:
        picker = await reading.picker(pilot)
        options = picker.query_one(OptionList)
        assert options.highlighted == 1  # "usb" matches the USB mic by name
        assert "in use" in str(options.get_option_at_index(1).prompt)
        await pilot.press("up", "escape")
        await settle(pilot)
        screen = reading.app.screen
        assert isinstance(screen, ReadingScreen)
        service = reading.services.dictation
        assert service is not None
        assert service.ready is not None
        assert service.input_device == "usb"
        assert service.ready.source_factory.device == "usb"
        assert screen.report_panel.dictation.microphone == "usb"


@pytest.mark.parametrize(
    ("lister", "message"),
    [
        (lambda: [], NO_DEVICES),
        (
            lambda: (_ for _ in ()).throw(AudioUnavailableError("audio is unavailable: no lib")),
            "audio is unavailable: no lib",
        ),
    ],
    ids=["no-devices", "no-portaudio"],
)
async def test_says_why_there_is_nothing_to_choose(tmp_path: Path, lister, message) -> None:
    reading = Reading(tmp_path, lister=lister)
    async with reading.app.run_test(size=SIZE) as pilot:
        picker = await reading.picker(pilot)
        status = picker.query_one("#devices-message", Static)
        assert str(status.render()) == message
        assert status.display
        assert status.has_class("-problem")
        assert not picker.query_one(OptionList).display
        await pilot.press("escape")
        assert isinstance(reading.app.screen, ReadingScreen)
        assert reading.services.dictation is not None
        assert reading.services.dictation.input_device is None


async def test_without_dictation_there_is_no_picker(tmp_path: Path) -> None:
    reading = Reading(tmp_path, dictation=False)
    async with reading.app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        await pilot.press("ctrl+d")
        await pilot.pause()
        assert isinstance(reading.app.screen, ReadingScreen)
        assert any("not available" in n.message for n in reading.app._notifications)
