"""The dictation panel: state, level meter, live partial, words to review, overflow, errors.

The panel only shows; the headless :class:`~workstation.dictation.session.DictationSession`
does the work. Pass :meth:`DictationPanel.session_listener` as the session's
``on_event``: it is called on the audio and recogniser threads and posts a
:class:`DictationPanel.EventReceived` message (``post_message`` is thread-safe
and never blocks — ``call_from_thread`` would stall the audio callback while
the UI is busy). The message bubbles, so a screen can react to it too.
"""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget

from workstation.dictation.audio import SILENCE_DBFS
from workstation.dictation.session import (
    CommandExecuted,
    Committed,
    DictationState,
    ErrorOccurred,
    LevelChanged,
    Overflowed,
    PartialChanged,
    SessionEvent,
    StateChanged,
    WordsIgnored,
)

__all__ = ["DictationPanel"]

METER_WIDTH = 12
METER_FLOOR = -60.0
BLOCKS = " ▁▂▃▄▅▆▇█"
STATE_LABELS = {
    DictationState.OFF: ("○ dictation off", "dim"),
    DictationState.DICTATING: ("● dictating", "bold red"),
    DictationState.COMMAND_ONLY: ("◆ commands only", "bold yellow"),
}


def meter(rms_dbfs: float, width: int = METER_WIDTH) -> str:
    """A bar of ``width`` cells for a level between -60 dBFS (empty) and 0 (full)."""
    fraction = min(1.0, max(0.0, (rms_dbfs - METER_FLOOR) / -METER_FLOOR))
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    return ("█" * full + (BLOCKS[rest] if rest else "")).ljust(width)


class DictationPanel(Widget):
    """Shows what dictation is doing; driven by session events."""

    DEFAULT_CSS = """
    DictationPanel {
        height: 3;
        padding: 0 1;
        background: $panel;
    }
    """

    state: reactive[DictationState] = reactive(DictationState.OFF)
    """Off, dictating or command-only."""
    level: reactive[float] = reactive(SILENCE_DBFS)
    """Microphone RMS level in dBFS."""
    peak: reactive[float] = reactive(SILENCE_DBFS)
    """Microphone peak level in dBFS."""
    partial: reactive[str] = reactive("")
    """The live guess for the utterance in progress (shown dimmed)."""
    last_text: reactive[str] = reactive("")
    """The last text committed to the report."""
    review_spans: reactive[tuple[tuple[int, int], ...]] = reactive(())
    """Spans of ``last_text`` heard with low confidence."""
    last_command: reactive[str] = reactive("")
    """The words of the last voice command executed."""
    overflow: reactive[int] = reactive(0)
    """Audio chunks dropped because recognition fell behind."""
    message: reactive[str] = reactive("")
    """A problem to show (no microphone, no model, …); empty when all is well."""
    notice: reactive[str] = reactive("")
    """Something to know that is not a problem (e.g. the speech model is loading)."""
    microphone: reactive[str] = reactive("")
    """The microphone the next start captures from (shown while off); empty: not shown."""

    class EventReceived(Message):
        """A session event arrived (posted from the session's threads)."""

        def __init__(self, event: SessionEvent) -> None:
            super().__init__()
            self.event = event

    def session_listener(self, event: SessionEvent) -> None:
        """The session's ``on_event``: safe to call from any thread."""
        self.post_message(self.EventReceived(event))

    def show_error(self, error: Exception | str) -> None:
        """Show a problem (an ``AudioError``, a ``ModelError``…); typing still works."""
        self.message = str(error)
        self.notice = ""

    def show_notice(self, text: str) -> None:
        """Show a remark (dimmed) in place of a problem; empty clears it."""
        self.message = ""
        self.notice = text

    def on_dictation_panel_event_received(self, message: EventReceived) -> None:
        event = message.event
        if isinstance(event, LevelChanged):
            self.level, self.peak = event.level.rms_dbfs, event.level.peak_dbfs
        elif isinstance(event, PartialChanged):
            self.partial = event.text
        elif isinstance(event, Committed):
            self.partial = ""
            self.last_text = event.text.strip()
            offset = len(event.text) - len(event.text.lstrip())
            self.review_spans = tuple((a - offset, b - offset) for a, b in event.review_spans)
        elif isinstance(event, CommandExecuted):
            self.partial = ""
            self.last_command = " ".join(event.command.words) or event.command.action.value
        elif isinstance(event, StateChanged):
            self.state = event.state
            if event.state is not DictationState.OFF:
                self.message = ""
            else:
                self.level = self.peak = SILENCE_DBFS
        elif isinstance(event, Overflowed):
            self.overflow = event.count
        elif isinstance(event, ErrorOccurred):
            self.message = event.message
        elif isinstance(event, WordsIgnored):
            self.last_command = f"not a command: {' '.join(event.words)}"

    def render(self) -> Text:
        label, style = STATE_LABELS[self.state]
        line = Text.assemble((f"{label:<16}", style), " ")
        if self.state is not DictationState.OFF:
            line.append(meter(self.level), style="green" if self.peak < -1 else "bold red")
            line.append(f" {self.level:4.0f} dBFS  ", style="dim")
        elif self.microphone:
            line.append(f"mic: {self.microphone}  ", style="dim")
        line.append(self.partial, style="dim italic")
        if self.overflow:
            line.append(f"  audio dropped: {self.overflow}", style="bold red")
        second = Text("", no_wrap=True, overflow="ellipsis")
        if self.last_text:
            second.append("last: ", style="dim")
            committed = Text(self.last_text)
            for start, end in self.review_spans:
                committed.stylize("reverse yellow", start, end)
            second.append_text(committed)
        if self.last_command:
            second.append(f"  ⟶ {self.last_command}", style="cyan")
        if self.message:
            third = Text(self.message, style="bold red")
        else:
            third = Text(self.notice, style="dim italic")
        return Text("\n").join([line, second, third])
