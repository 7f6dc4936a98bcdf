"""The real pipeline with the real (Korean) Vosk model: WAV file and a PulseAudio microphone.

Speech is synthesised at test time with espeak-ng; the virtual microphone is a
PulseAudio null sink whose monitor sounddevice records through ALSA's
``pulse`` device. Missing binaries fail the test with a message (``make``
installs them); they are never skipped silently.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from workstation.dictation.audio import MicrophoneSource, WavFileSource
from workstation.dictation.commands import CommandTable
from workstation.dictation.engine import VoskRecognizerFactory
from workstation.dictation.session import (
    CommandExecuted,
    Committed,
    DictationSession,
    DictationState,
    PartialChanged,
    SessionEvent,
    WordsIgnored,
)
from workstation.dictation.sink import MemoryDocument

from .conftest import require_binary

pytestmark = pytest.mark.slow

HANGUL = re.compile(r"[\uac00-\ud7a3]")

#: A Korean command table: the mechanism does not care about the language.
KOREAN_COMMANDS = {"next_field": ["병원"], "previous_field": ["오늘"], "sign_report": ["날씨"]}


def test_wav_through_the_real_pipeline(korean_model, korean_wav) -> None:
    doc = MemoryDocument()
    events: list[SessionEvent] = []
    session = DictationSession(
        sink=doc, recognizer_factory=VoskRecognizerFactory(korean_model), on_event=events.append
    )
    session.start(source=WavFileSource(korean_wav))
    assert session.wait_finished(60)
    session.close()
    partials = [i for i, e in enumerate(events) if isinstance(e, PartialChanged) and e.text]
    commits = [i for i, e in enumerate(events) if isinstance(e, Committed)]
    assert partials, "no partial results"
    assert commits, "no final result"
    assert partials[0] < commits[0]
    assert HANGUL.search(doc.text), doc.text
    assert doc.text == "".join(e.text for e in events if isinstance(e, Committed))
    assert session.overflow == 0


def test_grammar_restricted_mode_returns_only_grammar_phrases(korean_model, korean_wav) -> None:
    doc = MemoryDocument(["Findings", "Impression", "Comparison"])
    events: list[SessionEvent] = []
    session = DictationSession(
        sink=doc,
        recognizer_factory=VoskRecognizerFactory(korean_model),
        commands=CommandTable(KOREAN_COMMANDS),
        on_event=events.append,
    )
    session.start(DictationState.COMMAND_ONLY, source=WavFileSource(korean_wav))
    assert session.wait_finished(60)
    session.close()
    executed = [e.command for e in events if isinstance(e, CommandExecuted)]
    assert executed, "no command recognised"
    heard = {word for command in executed for word in command.words}
    assert heard <= {"병원", "오늘", "날씨"}
    assert not [e for e in events if isinstance(e, WordsIgnored)]
    assert doc.fields == dict.fromkeys(doc.fields, "")  # nothing typed in command-only mode


@pytest.fixture
def pulseaudio(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A private PulseAudio server with a 16 kHz null sink; its monitor is the microphone."""
    binary = require_binary("pulseaudio")
    require_binary("paplay")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path)}
    server = subprocess.Popen(
        [binary, "-n", "--daemonize=no", "--exit-idle-time=-1", "--log-target=stderr", "-v",
         "-L", "module-native-protocol-unix",
         "-L", "module-null-sink sink_name=nullsink rate=16000"],
        env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    ready = threading.Event()
    log: list[str] = []

    def read_log() -> None:
        assert server.stderr is not None
        for line in server.stderr:
            log.append(line)
            if "Daemon startup complete" in line:
                ready.set()

    threading.Thread(target=read_log, daemon=True).start()
    try:
        if not ready.wait(20):
            pytest.fail("PulseAudio did not start:\n" + "".join(log[-20:]))
        for key, value in (
            ("XDG_RUNTIME_DIR", str(runtime)),
            ("PULSE_SERVER", f"unix:{runtime}/pulse/native"),
            ("PULSE_SOURCE", "nullsink.monitor"),
        ):
            monkeypatch.setenv(key, value)
        yield {**env, "PULSE_SERVER": f"unix:{runtime}/pulse/native"}
    finally:
        server.terminate()
        server.wait(10)


def test_microphone_path_through_pulseaudio(korean_model, korean_wav, pulseaudio, tmp_path) -> None:
    import sounddevice

    sounddevice._terminate()  # re-enumerate devices now that the server is up
    sounddevice._initialize()
    padded = tmp_path / "padded.wav"
    subprocess.run(["sox", str(korean_wav), str(padded), "pad", "0", "0.7"], check=True)
    doc = MemoryDocument()
    events: list[SessionEvent] = []
    heard = threading.Event()

    def on_event(event: SessionEvent) -> None:
        events.append(event)
        if isinstance(event, PartialChanged) and event.text:
            heard.set()

    session = DictationSession(
        sink=doc,
        recognizer_factory=VoskRecognizerFactory(korean_model),
        source_factory=lambda: MicrophoneSource("pulse"),
        on_event=on_event,
    )
    session.toggle_dictation()
    assert session.state is DictationState.DICTATING
    player = subprocess.run(
        ["paplay", "--device=nullsink", str(padded)],
        env=pulseaudio,
        check=False,
        capture_output=True,
        text=True,
    )
    assert player.returncode == 0, player.stderr
    session.toggle_dictation()  # stop: flushes the final result
    session.close()
    assert heard.is_set(), "the microphone delivered no speech"
    assert HANGUL.search(doc.text), doc.text
    assert session.overflow == 0
