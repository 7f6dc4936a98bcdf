"""The microphone picker: the capture devices PortAudio lists, the current one highlighted.

A ``ModalScreen[int | None]``: the chosen device's index (Enter), or None when
cancelled (Esc). The choice lasts for this session; ``input_device`` in
``config.toml`` keeps one across starts. The devices are listed on a worker
(PortAudio may take a moment to enumerate them) through an injectable
:data:`~workstation.dictation.audio.DeviceLister`, so tests never touch the
machine's audio.
"""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from workstation.dictation.audio import (
    AudioError,
    DeviceLister,
    InputDevice,
    input_devices,
    match_input_device,
)
from workstation.screens.base import ForwardsWorkerFailures

__all__ = ["NO_DEVICES", "SUBTITLE", "DevicePicker"]

SUBTITLE = "For this session; set input_device in config.toml to keep it."
NO_DEVICES = "No microphone found; typing still works."


class DevicePicker(ForwardsWorkerFailures, ModalScreen[int | None]):
    """Lists the input devices; returns the index of the one chosen, or None."""

    DEFAULT_CSS = """
    DevicePicker { align: center middle; }
    DevicePicker > Vertical {
        width: 72; max-width: 95%; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    DevicePicker #devices { height: auto; max-height: 20; margin: 1 0 0 0; }
    DevicePicker #devices-message { color: $text-muted; margin: 1 0 0 0; }
    DevicePicker #devices-message.-problem { color: $error; text-style: bold; }
    DevicePicker #devices-subtitle { color: $text-muted; text-style: italic; margin: 1 0 0 0; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Keep the current microphone", id="devices.cancel"),
    ]

    class DevicesListed(Message):
        """The worker listed the devices, or found why it cannot (``problem``)."""

        def __init__(self, devices: list[InputDevice], problem: str = "") -> None:
            super().__init__()
            self.devices = devices
            self.problem = problem

    def __init__(self, current: int | str | None, *, lister: DeviceLister = input_devices) -> None:
        super().__init__()
        self.current = current
        """The device in use now (index, name or None for the default input)."""
        self.lister = lister
        self.devices: list[InputDevice] = []
        """The devices listed (empty until the worker reports)."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label("[b]Microphone[/b]", id="devices-title")
            yield OptionList(id="devices")
            yield Static("Looking for microphones…", id="devices-message")
            yield Static(SUBTITLE, id="devices-subtitle")

    def on_mount(self) -> None:
        self._list_devices()

    @work(thread=True, exclusive=True, group="input-devices", exit_on_error=False)
    def _list_devices(self) -> None:
        try:
            devices = self.lister()
        except AudioError as error:
            self.post_message(self.DevicesListed([], str(error)))
        else:
            self.post_message(self.DevicesListed(devices, "" if devices else NO_DEVICES))

    def on_device_picker_devices_listed(self, message: DevicesListed) -> None:
        self.devices = message.devices
        options = self.query_one(OptionList)
        status = self.query_one("#devices-message", Static)
        if message.problem:
            options.display = False
            status.add_class("-problem")
            status.update(escape(message.problem))
            return
        status.display = False
        current = match_input_device(self.devices, self.current)
        options.add_options(Option(self._label(d, current), id=str(d.index)) for d in self.devices)
        if current is not None:
            options.highlighted = self.devices.index(current)
        options.focus()

    @staticmethod
    def _label(device: InputDevice, current: InputDevice | None) -> str:
        text = escape(device.label)
        if device.default:
            text += " [dim](system default)[/dim]"
        if device == current:
            text = f"[b]{text}[/b]  ← in use"
        return text

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(self.devices[event.option_index].index)

    def action_cancel(self) -> None:
        self.dismiss(None)
