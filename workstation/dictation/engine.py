"""The recogniser thread: audio chunks in, partial and final results out.

A plain thread (the toolong watcher's shape) owns the Vosk recogniser and
reads a queue filled by the audio callback. A live callback never blocks:
:meth:`RecognizerThread.feed` drops a chunk only when the queue holds
``max_chunks`` already, and counts it in :attr:`RecognizerThread.overflow`.
A recording that is not paced in real time feeds with ``block=True`` and
waits for room instead, so nothing of it is dropped.
Control items (flush, grammar change, stop) travel on the same queue so they
stay in order with the audio and are never dropped.
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "EndOfStream",
    "EngineError",
    "EngineEvent",
    "Final",
    "Partial",
    "Recognizer",
    "RecognizerFactory",
    "RecognizerThread",
    "VoskRecognizerFactory",
    "Word",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Word:
    """A recognised word with its confidence (0–1) and times in seconds."""

    word: str
    conf: float = 1.0
    start: float = 0.0
    end: float = 0.0


@dataclass(frozen=True, slots=True)
class Partial:
    """The recogniser's current guess for the utterance in progress."""

    text: str
    restricted: bool = False


@dataclass(frozen=True, slots=True)
class Final:
    """A finished utterance.

    ``restricted`` tells whether a command grammar was active when it was
    heard; ``captured_at`` is the ``time.monotonic()`` capture time of the last
    audio chunk it includes (for latency); ``recognised_at`` when it came out.
    """

    text: str
    words: tuple[Word, ...] = ()
    restricted: bool = False
    captured_at: float | None = None
    recognised_at: float = field(default_factory=time.monotonic)

    @classmethod
    def from_json(
        cls,
        payload: str | dict[str, Any],
        *,
        restricted: bool = False,
        captured_at: float | None = None,
    ) -> Final:
        """Build from Vosk result JSON (``{"result": [{"conf", "word", ...}], "text": ...}``)."""
        data = json.loads(payload) if isinstance(payload, str) else payload
        words = tuple(
            Word(
                str(w["word"]),
                float(w.get("conf", 1.0)),
                float(w.get("start", 0.0)),
                float(w.get("end", 0.0)),
            )
            for w in data.get("result", [])
        )
        text = str(data.get("text", "")).strip() or " ".join(w.word for w in words)
        return cls(text, words, restricted, captured_at)


@dataclass(frozen=True, slots=True)
class EndOfStream:
    """The audio source ended and the last utterance has been flushed."""


@dataclass(frozen=True, slots=True)
class EngineError:
    """The recogniser (or a result handler) failed; the thread keeps running."""

    error: BaseException


EngineEvent = Partial | Final | EndOfStream | EngineError


class Recognizer(Protocol):
    """The part of ``vosk.KaldiRecognizer`` the thread uses."""

    def AcceptWaveform(self, data: bytes) -> bool: ...
    def Result(self) -> str: ...
    def PartialResult(self) -> str: ...
    def FinalResult(self) -> str: ...


#: Builds a recogniser; ``grammar`` restricts it to those phrases (None: free dictation).
RecognizerFactory = Callable[[Sequence[str] | None], Recognizer]


class VoskRecognizerFactory:
    """Makes ``KaldiRecognizer``s for one loaded ``vosk.Model`` with word confidences on."""

    def __init__(self, model: Any, sample_rate: int = 16000) -> None:
        self.model = model
        self.sample_rate = sample_rate

    def known(self, phrase: str) -> bool:
        """True when every word of ``phrase`` is in the model's vocabulary."""
        return all(self.model.vosk_model_find_word(word) >= 0 for word in phrase.split())

    def __call__(self, grammar: Sequence[str] | None = None) -> Recognizer:
        import vosk

        if grammar is None:
            recognizer = vosk.KaldiRecognizer(self.model, self.sample_rate)
        else:
            phrases = [p for p in grammar if self.known(p)]
            dropped = len(grammar) - len(phrases)
            if dropped:
                log.warning("%d command phrases use words the model does not know", dropped)
            if self.known("[unk]"):
                phrases.append("[unk]")
            # ensure_ascii=False: Vosk does not decode \\u escapes (Korean phrases)
            recognizer = vosk.KaldiRecognizer(
                self.model, self.sample_rate, json.dumps(phrases, ensure_ascii=False)
            )
        recognizer.SetWords(True)
        return recognizer


@dataclass(frozen=True, slots=True)
class _Audio:
    data: bytes
    captured_at: float


@dataclass(frozen=True, slots=True)
class _Flush:
    end_of_stream: bool
    done: threading.Event


@dataclass(frozen=True, slots=True)
class _SetGrammar:
    grammar: tuple[str, ...] | None


class _Stop:
    pass


class RecognizerThread:
    """Runs a recogniser in a worker thread and reports :data:`EngineEvent`s to ``on_event``.

    ``on_event`` is called on the worker thread; an exception it raises is
    reported as :class:`EngineError` and the thread carries on.
    """

    def __init__(
        self,
        factory: RecognizerFactory,
        on_event: Callable[[EngineEvent], None],
        *,
        max_chunks: int = 100,
    ) -> None:
        self.factory = factory
        self.on_event = on_event
        self.max_chunks = max_chunks
        self._queue: queue.Queue[_Audio | _Flush | _SetGrammar | _Stop] = queue.Queue()
        self._slots = threading.BoundedSemaphore(max_chunks)  # free places for audio
        self._overflow = 0
        self._thread: threading.Thread | None = None
        self._grammar: tuple[str, ...] | None = None

    @property
    def overflow(self) -> int:
        """Audio chunks dropped because the recogniser fell behind."""
        return self._overflow

    @property
    def running(self) -> bool:
        """True while the worker thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the worker thread (the recogniser is built there)."""
        if self.running:
            return
        self._thread = threading.Thread(target=self._run, name="dictation-engine", daemon=True)
        self._thread.start()

    def feed(self, data: bytes, captured_at: float | None = None, *, block: bool = False) -> bool:
        """Queue audio; when the queue is full, drop and count it (or, with ``block``, wait)."""
        if not self._slots.acquire(blocking=block):
            self._overflow += 1
            return False
        self._queue.put_nowait(
            _Audio(data, time.monotonic() if captured_at is None else captured_at)
        )
        return True

    def flush(self, *, end_of_stream: bool = False) -> threading.Event:
        """Finish the utterance in progress (``FinalResult``); the event is set when done."""
        done = threading.Event()
        self._queue.put(_Flush(end_of_stream, done))
        return done

    def set_grammar(self, grammar: Sequence[str] | None) -> None:
        """Flush, then restrict recognition to ``grammar`` (None: free dictation)."""
        self._queue.put(_SetGrammar(tuple(grammar) if grammar is not None else None))

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop the thread after the queued work."""
        if self._thread is None:
            return
        self._queue.put(_Stop())
        self._thread.join(timeout)
        self._thread = None

    # --- worker ----------------------------------------------------------------

    def _emit(self, event: EngineEvent) -> None:
        try:
            self.on_event(event)
        except Exception as error:  # a failing sink must not kill recognition
            log.exception("dictation result handler failed")
            if not isinstance(event, EngineError):
                self._emit(EngineError(error))

    def _final(self, payload: str, captured_at: float | None) -> None:
        final = Final.from_json(
            payload, restricted=self._grammar is not None, captured_at=captured_at
        )
        if final.text:
            self._emit(final)

    def _run(self) -> None:
        try:
            recognizer = self.factory(None)
        except Exception as error:
            self._emit(EngineError(error))
            return
        last_partial = ""
        last_captured: float | None = None
        while True:
            item = self._queue.get()
            try:
                if isinstance(item, _Audio):
                    self._slots.release()
                    last_captured = item.captured_at
                    if recognizer.AcceptWaveform(item.data):
                        last_partial = ""
                        self._final(recognizer.Result(), item.captured_at)
                    else:
                        partial = json.loads(recognizer.PartialResult()).get("partial", "")
                        if partial != last_partial:
                            last_partial = partial
                            self._emit(Partial(partial, self._grammar is not None))
                elif isinstance(item, _Flush):
                    last_partial = ""
                    self._final(recognizer.FinalResult(), last_captured)
                    if item.end_of_stream:
                        self._emit(EndOfStream())
                    item.done.set()
                elif isinstance(item, _SetGrammar):
                    last_partial = ""
                    self._final(recognizer.FinalResult(), last_captured)
                    if item.grammar != self._grammar:
                        self._grammar = item.grammar
                        recognizer = self.factory(item.grammar)
                else:
                    return
            except Exception as error:
                log.exception("dictation engine failed")
                self._emit(EngineError(error))
                if isinstance(item, _Flush):
                    item.done.set()
