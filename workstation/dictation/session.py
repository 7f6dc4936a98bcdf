"""The dictation session: source → queue → recogniser thread → interpreter → report sink.

Headless: a front end calls :meth:`DictationSession.toggle_dictation` and
:meth:`~DictationSession.toggle_command_only` (bound to F4 and friends) and
subscribes to :data:`SessionEvent`s; the report editor implements
:class:`~workstation.dictation.sink.ReportSink`. Sink calls and events come
from the recogniser thread.

States: ``off`` (microphone closed), ``dictating`` (free dictation; an
utterance that is wholly a command phrase is executed), ``command_only`` (the
recogniser is restricted to the command phrases; nothing is typed). The
spoken "stop dictation" switches to command-only, so "start dictation" can
still be heard; only the toggle (or the end of a recording) turns it off.

Threads: :meth:`~DictationSession.stop` (and the toggles that stop) waits
until the last utterance is in the document. When the sink hands its edits
to the UI thread (``call_from_thread``), call them from a worker thread, not
from the UI thread itself, or the flush waits on the thread that waits for it.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from workstation.dictation.audio import AudioError, AudioSource, Level, level_of
from workstation.dictation.commands import Action, Command, CommandTable
from workstation.dictation.diff import TextDiff, text_diff
from workstation.dictation.engine import (
    EndOfStream,
    EngineError,
    EngineEvent,
    Final,
    Partial,
    RecognizerFactory,
    RecognizerThread,
    Word,
)
from workstation.dictation.formatting import FormattedText, format_words
from workstation.dictation.sink import ReportSink, Span

__all__ = [
    "CommandExecuted",
    "Committed",
    "DictationSession",
    "DictationState",
    "ErrorOccurred",
    "Finished",
    "LevelChanged",
    "Overflowed",
    "PartialChanged",
    "SessionEvent",
    "StateChanged",
    "WordsIgnored",
]

log = logging.getLogger(__name__)

NO_SPACE_BEFORE = set(",.;:?!)%°\n-/")
NO_SPACE_AFTER = set("(\n-/ \t")
SENTENCE_END = (".", "?", "!")


class DictationState(StrEnum):
    """What the microphone and recogniser are doing."""

    OFF = "off"
    DICTATING = "dictating"
    COMMAND_ONLY = "command_only"


# --- events (all frozen; posted from the recogniser or audio thread) --------


@dataclass(frozen=True, slots=True)
class StateChanged:
    state: DictationState


@dataclass(frozen=True, slots=True)
class PartialChanged:
    """The live guess, formatted; ``diff`` turns the previous guess into this one."""

    text: str
    diff: TextDiff


@dataclass(frozen=True, slots=True)
class Committed:
    """Text that went into the document, with low-confidence words to review."""

    text: str
    review_spans: tuple[Span, ...] = ()
    low_confidence: tuple[Word, ...] = ()
    latency: float | None = None  # seconds from audio capture to the sink


@dataclass(frozen=True, slots=True)
class CommandExecuted:
    command: Command


@dataclass(frozen=True, slots=True)
class WordsIgnored:
    """Words heard in command-only mode that were no command."""

    words: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LevelChanged:
    level: Level


@dataclass(frozen=True, slots=True)
class Overflowed:
    """Audio was dropped because recognition fell behind; ``count`` chunks so far."""

    count: int


@dataclass(frozen=True, slots=True)
class ErrorOccurred:
    message: str


@dataclass(frozen=True, slots=True)
class Finished:
    """The recording ended and everything heard is in the document."""


SessionEvent = (
    StateChanged
    | PartialChanged
    | Committed
    | CommandExecuted
    | WordsIgnored
    | LevelChanged
    | Overflowed
    | ErrorOccurred
    | Finished
)


@dataclass(slots=True)
class _Stats:
    latencies: list[float] = field(default_factory=list)


class DictationSession:
    """Wires an audio source, the recogniser thread, voice commands and formatting to a sink."""

    def __init__(
        self,
        *,
        sink: ReportSink,
        recognizer_factory: RecognizerFactory,
        source_factory: Callable[[], AudioSource] | None = None,
        commands: CommandTable | None = None,
        formatter: Callable[..., FormattedText] = format_words,
        low_confidence: float = 0.6,
        type_partials: bool = False,
        max_queue_chunks: int = 100,
        on_event: Callable[[SessionEvent], None] | None = None,
    ) -> None:
        self.sink = sink
        self.source_factory = source_factory
        self.commands = commands or CommandTable()
        self.formatter = formatter
        self.low_confidence = low_confidence
        self.type_partials = type_partials
        self.on_event = on_event
        self.all_caps = False
        self.level = Level()
        self.stats = _Stats()
        #: Texts committed by dictation since the cursor last moved ("scratch that").
        self.history: list[str] = []
        self.engine = RecognizerThread(
            recognizer_factory, self._on_engine_event, max_chunks=max_queue_chunks
        )
        self._state = DictationState.OFF
        self._source: AudioSource | None = None
        self._lock = threading.RLock()
        self._partial = ""  # the formatted partial shown (or typed) now
        self._partial_context: str | None = None
        self._finished = threading.Event()
        self._reported_overflow = 0
        self._block = False  # a recording not paced in real time waits for room

    # --- control (UI thread) ------------------------------------------------------

    @property
    def state(self) -> DictationState:
        """The current state."""
        return self._state

    @property
    def overflow(self) -> int:
        """Audio chunks dropped so far (never silently: also posted as :class:`Overflowed`)."""
        return self.engine.overflow

    def start(
        self, mode: DictationState = DictationState.DICTATING, source: AudioSource | None = None
    ) -> None:
        """Open the audio source and listen in ``mode``; raises (and posts) :class:`AudioError`."""
        if mode is DictationState.OFF:
            self.stop()
            return
        with self._lock:
            if self._state is not DictationState.OFF:
                self._set_mode(mode)
                return
            if source is None:
                if self.source_factory is None:
                    raise AudioError("no audio source configured")
                try:
                    source = self.source_factory()
                except AudioError as error:
                    self._emit(ErrorOccurred(str(error)))
                    raise
            self.engine.start()
            self.engine.set_grammar(self._grammar(mode))
            self._finished.clear()
            self._source = source
            self._block = not getattr(source, "live", True)
            self._state = mode
            try:
                source.start(self._on_audio, self._on_source_end)
            except AudioError as error:
                self._source = None
                self._state = DictationState.OFF
                self._emit(ErrorOccurred(str(error)))
                raise
        self._emit(StateChanged(mode))

    def stop(self, *, timeout: float | None = 10.0) -> None:
        """Close the source and flush the last utterance into the document (waits for it)."""
        with self._lock:
            source, self._source = self._source, None
            was = self._state
            self._state = DictationState.OFF
        if source is not None:
            source.stop()
        if was is not DictationState.OFF:
            self.engine.flush().wait(timeout)
            self._emit(StateChanged(DictationState.OFF))
            self._finished.set()

    def toggle_dictation(self) -> DictationState:
        """Off → dictating; dictating or command-only → off."""
        if self._state is DictationState.OFF:
            self.start(DictationState.DICTATING)
        else:
            self.stop()
        return self._state

    def toggle_command_only(self) -> DictationState:
        """Dictating ↔ command-only; off → command-only."""
        if self._state is DictationState.COMMAND_ONLY:
            self.start(DictationState.DICTATING)
        else:
            self.start(DictationState.COMMAND_ONLY)
        return self._state

    def wait_finished(self, timeout: float | None = None) -> bool:
        """Block until a recording has been dictated to its end, or dictation stopped."""
        return self._finished.wait(timeout)

    def close(self) -> None:
        """Stop and end the recogniser thread."""
        self.stop()
        self.engine.close()

    def _grammar(self, mode: DictationState) -> list[str] | None:
        return self.commands.grammar() if mode is DictationState.COMMAND_ONLY else None

    def _set_mode(self, mode: DictationState) -> None:
        with self._lock:
            if mode is self._state or self._state is DictationState.OFF:
                return
            self._state = mode
            self.engine.set_grammar(self._grammar(mode))
        self._emit(StateChanged(mode))

    # --- audio thread ----------------------------------------------------------------

    def _on_audio(self, chunk: bytes) -> None:
        self.level = level_of(chunk)
        self._emit(LevelChanged(self.level))
        fed = self.engine.feed(chunk, time.monotonic(), block=self._block)
        if not fed and self.engine.overflow != self._reported_overflow:
            self._reported_overflow = self.engine.overflow
            self._emit(Overflowed(self._reported_overflow))

    def _on_source_end(self) -> None:
        self.engine.flush(end_of_stream=True)

    # --- recogniser thread -------------------------------------------------------------

    def _emit(self, event: SessionEvent) -> None:
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("dictation event handler failed")

    def _on_engine_event(self, event: EngineEvent) -> None:
        if isinstance(event, Partial):
            self.handle_partial(event)
        elif isinstance(event, Final):
            self.handle_final(event)
        elif isinstance(event, EndOfStream):
            with self._lock:
                source, self._source = self._source, None
                self._state = DictationState.OFF
            if source is not None:
                source.stop()
            self._emit(StateChanged(DictationState.OFF))
            self._emit(Finished())
            self._finished.set()
        elif isinstance(event, EngineError):
            self._emit(ErrorOccurred(f"dictation failed: {event.error}"))

    def handle_partial(self, partial: Partial) -> None:
        """Show (and with ``type_partials``, type) the live guess as a diff."""
        if partial.restricted or not partial.text:
            self._set_partial("")
            return
        if self._partial_context is None:
            self._partial_context = self.sink.text_before_cursor()
        words = partial.text.split()
        written = self._written(words, [False] * len(words), self._partial_context)
        self._set_partial(written.text)

    def _set_partial(self, text: str) -> None:
        diff = text_diff(self._partial, text)
        if diff.empty:
            return
        if self.type_partials:
            if diff.delete:
                self.sink.delete_chars(diff.delete)
            if diff.insert:
                self.sink.insert_text(diff.insert)
        self._partial = text
        if not text:
            self._partial_context = None
        self._emit(PartialChanged(text, diff))

    def handle_final(self, final: Final) -> None:
        """Execute a command or commit formatted text; the partial is replaced."""
        words = [w for w in final.text.split() if w != "[unk]"]
        self._set_partial("")
        if not words:
            return
        if final.restricted:
            commands, ignored = self.commands.match_sequence(words)
            for command in commands:
                self.execute(command)
            if ignored:
                self._emit(WordsIgnored(tuple(ignored)))
            return
        command = self.commands.match(words)
        if command is not None:
            self.execute(command)
            return
        self._commit(words, final.words, final.captured_at)

    def _flags(self, words: Sequence[str], recognised: Sequence[Word]) -> list[bool]:
        confident = [w for w in recognised if w.word != "[unk]"]
        if len(confident) != len(words):
            return [False] * len(words)
        return [w.conf < self.low_confidence for w in confident]

    def _written(self, words: Sequence[str], flags: Sequence[bool], context: str) -> FormattedText:
        sentence_start = _sentence_start(context)
        written = self.formatter(words, flags, sentence_start=sentence_start)
        text = written.text.upper() if self.all_caps else written.text
        if (
            text
            and context
            and context[-1] not in NO_SPACE_AFTER
            and text[0] not in NO_SPACE_BEFORE
        ):
            return FormattedText(" " + text, tuple((a + 1, b + 1) for a, b in written.review_spans))
        return FormattedText(text, written.review_spans)

    def _commit(
        self, words: Sequence[str], recognised: Sequence[Word], captured_at: float | None
    ) -> None:
        flags = self._flags(words, recognised)
        written = self._written(words, flags, self.sink.text_before_cursor())
        if not written.text:
            return
        self.sink.insert_text(written.text, written.review_spans)
        self.history.append(written.text)
        latency = None if captured_at is None else time.monotonic() - captured_at
        if latency is not None:
            self.stats.latencies.append(latency)
        low = tuple(w for w, flag in zip(recognised, flags, strict=False) if flag)
        self._emit(Committed(written.text, written.review_spans, low, latency))

    # --- commands --------------------------------------------------------------------

    def execute(self, command: Command) -> None:
        """Carry out a voice command on the sink (or on the session's own state)."""
        sink = self.sink
        action = command.action
        if action is Action.SCRATCH_THAT:
            if self.history:
                sink.delete_chars(len(self.history.pop()))
        elif action is Action.DELETE_LAST_WORD:
            sink.delete_chars(_last_word_length(sink.text_before_cursor()))
            self.history.clear()
        elif action is Action.DELETE_LAST_SENTENCE:
            sink.delete_chars(_last_sentence_length(sink.text_before_cursor()))
            self.history.clear()
        elif action in (Action.NEW_LINE, Action.NEW_PARAGRAPH):
            text = "\n" if action is Action.NEW_LINE else "\n\n"
            sink.insert_text(text)
            self.history.append(text)
        elif action is Action.CAP:
            self._commit(["cap", command.argument or ""], (), None)
        elif action is Action.ALL_CAPS_ON:
            self.all_caps = True
        elif action is Action.ALL_CAPS_OFF:
            self.all_caps = False
        elif action is Action.START_DICTATION:
            self._set_mode(DictationState.DICTATING)
        elif action is Action.STOP_DICTATION:
            self._set_mode(DictationState.COMMAND_ONLY)
        else:
            self.history.clear()
            if action is Action.NEXT_FIELD:
                sink.next_field()
            elif action is Action.PREVIOUS_FIELD:
                sink.previous_field()
            elif action is Action.GOTO_SECTION:
                if not sink.goto_section(command.argument or ""):
                    self._emit(ErrorOccurred(f"no section called {command.argument!r}"))
            elif action is Action.INSERT_NORMAL:
                sink.insert_normal(command.argument)
            elif action is Action.UNDO:
                sink.undo()
            elif action is Action.REDO:
                sink.redo()
            elif action is Action.SIGN_REPORT:
                sink.request_sign()
        self._emit(CommandExecuted(command))


def _sentence_start(context: str) -> bool:
    stripped = context.rstrip(" \t")
    return not stripped or stripped.endswith(SENTENCE_END) or stripped.endswith("\n")


def _last_word_length(text: str) -> int:
    """Characters to delete for "delete last word" (the word, its punctuation, the space before)."""
    match = re.search(r"[ \t]*\S+[ \t]*$", text) or re.search(r"\s+$", text)
    return len(match.group(0)) if match else 0


def _last_sentence_length(text: str) -> int:
    """Characters to delete for "delete last sentence" (back to the previous . ? ! or line)."""
    body = text.rstrip(" \t")
    trailing = len(text) - len(body)
    end = len(body) - 1 if body.endswith(SENTENCE_END) else len(body)
    start = max(body.rfind(c, 0, end) for c in (".", "?", "!", "\n")) + 1
    while start < len(body) and body[start] in " \t":
        start += 1
    # also delete the space that separated it from the previous sentence
    while start > 0 and body[start - 1] in " \t":
        start -= 1
    return len(body) - start + trailing
