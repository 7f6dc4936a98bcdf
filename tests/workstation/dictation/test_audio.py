"""WAV reading and conversion, the level meter, sources and their errors."""

from __future__ import annotations

import builtins
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from workstation.dictation import audio
from workstation.dictation.audio import (
    AudioFormatError,
    AudioUnavailableError,
    MicrophoneSource,
    NoInputDeviceError,
    WavFileSource,
    level_of,
    read_wav,
)


def write_wav(path: Path, samples: np.ndarray, rate: int, width: int = 2) -> Path:
    """Write float samples in [-1, 1], shape (n,) or (n, channels)."""
    data = samples if samples.ndim == 2 else samples[:, None]
    if width == 1:
        raw = np.round(data * 127 + 128).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(data * 32767).astype("<i2").tobytes()
    elif width == 3:
        ints = np.round(data * 8388607).astype("<i4").reshape(-1)
        raw = b"".join(int(v).to_bytes(3, "little", signed=True) for v in ints)
    else:
        raw = np.round(data * 2147483647).astype("<i4").tobytes()
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(data.shape[1])
        wav.setsampwidth(width)
        wav.setframerate(rate)
        wav.writeframes(raw)
    return path


def tone(rate: int, seconds: float = 0.5, freq: float = 440.0, amp: float = 0.5) -> np.ndarray:
    t = np.arange(int(rate * seconds)) / rate
    return amp * np.sin(2 * np.pi * freq * t)


def dominant_frequency(pcm: bytes, rate: int = 16000) -> float:
    samples = np.frombuffer(pcm, dtype="<i2").astype(float)
    spectrum = np.abs(np.fft.rfft(samples))
    return float(np.argmax(spectrum) * rate / samples.size)


@pytest.mark.parametrize("rate", [8000, 16000, 22050, 44100, 48000])
@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_any_rate_and_width_becomes_16k_mono_int16(tmp_path, rate, width) -> None:
    path = write_wav(tmp_path / "t.wav", tone(rate), rate, width)
    pcm = read_wav(path)
    assert len(pcm) // 2 == 8000  # 0.5 s at 16 kHz
    assert dominant_frequency(pcm) == pytest.approx(440, abs=3)
    peak = np.abs(np.frombuffer(pcm, dtype="<i2")).max()
    assert 0.45 * 32768 < peak < 0.56 * 32768


def test_stereo_is_mixed_to_mono(tmp_path) -> None:
    left, right = tone(44100, freq=440), tone(44100, freq=1000)
    pcm = read_wav(write_wav(tmp_path / "s.wav", np.stack([left, right], axis=1), 44100))
    spectrum = np.abs(np.fft.rfft(np.frombuffer(pcm, dtype="<i2").astype(float)))
    hz_per_bin = 16000 / 8000
    assert spectrum[int(440 / hz_per_bin)] > 0.3 * spectrum.max()
    assert spectrum[int(1000 / hz_per_bin)] > 0.3 * spectrum.max()


def test_not_a_wav_is_a_format_error(tmp_path) -> None:
    bogus = tmp_path / "x.wav"
    bogus.write_bytes(b"not audio")
    with pytest.raises(AudioFormatError, match="not a PCM WAV"):
        read_wav(bogus)
    with pytest.raises(AudioFormatError):
        read_wav(tmp_path / "missing.wav")


def test_level_meter() -> None:
    assert level_of(b"").rms_dbfs == -120.0
    assert level_of(b"\x00\x00" * 100).peak_dbfs == -120.0
    full = (np.ones(1600) * 32767).astype("<i2").tobytes()
    assert level_of(full).peak_dbfs == pytest.approx(0.0, abs=0.01)
    sine = (tone(16000, 0.1, amp=0.5) * 32767).astype("<i2").tobytes()
    level = level_of(sine)
    assert level.peak_dbfs == pytest.approx(-6.02, abs=0.1)
    assert level.rms_dbfs == pytest.approx(-9.03, abs=0.1)


def test_wav_source_delivers_every_sample_then_ends(tmp_path) -> None:
    source = WavFileSource(write_wav(tmp_path / "t.wav", tone(16000, 1.0), 16000), chunk_ms=100)
    chunks: list[bytes] = []
    ended = threading.Event()
    source.start(chunks.append, ended.set)
    assert ended.wait(5)
    source.stop()
    assert len(chunks) == 10
    assert b"".join(chunks) == source.pcm
    assert source.duration == pytest.approx(1.0)


def test_realtime_wav_source_can_be_stopped(tmp_path) -> None:
    source = WavFileSource(write_wav(tmp_path / "t.wav", tone(16000, 30.0), 16000), realtime=True)
    first = threading.Event()
    source.start(lambda chunk: first.set(), lambda: None)
    assert first.wait(5)
    source.stop()  # returns promptly although 30 s remain


def test_portaudio_missing_is_a_clear_error(monkeypatch) -> None:
    real_import = builtins.__import__

    def fake_import(name, *args, **kwargs):
        if name == "sounddevice":
            raise OSError("PortAudio library not found")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(AudioUnavailableError, match="libportaudio2"):
        MicrophoneSource().start(lambda c: None, lambda: None)


class FakeSoundDevice:
    class PortAudioError(Exception):
        pass

    class default:
        device = (1, 3)

    def __init__(self, devices: list[dict]) -> None:
        self.devices = devices
        self.opened: dict = {}

    def query_devices(self) -> list[dict]:
        return self.devices

    def RawInputStream(self, **kwargs):
        self.opened = kwargs
        owner = self

        class Stream:
            def start(self) -> None:
                kwargs["callback"](b"\x01\x00" * 4, 4, None, None)

            def stop(self) -> None:
                owner.opened["stopped"] = True

            def close(self) -> None:
                pass

        return Stream()


DEVICES = [
    {"index": 0, "name": "HDMI out", "max_input_channels": 0, "default_samplerate": 48000.0},
    {
        "index": 1,
        "name": "USB dictation mic",
        "max_input_channels": 1,
        "default_samplerate": 48000.0,
    },
    {"index": 2, "name": "pulse", "max_input_channels": 32, "default_samplerate": 44100.0},
]


@pytest.mark.parametrize(
    ("wanted", "index"), [(None, 1), (2, 2), ("2", 2), ("pulse", 2), ("usb", 1)]
)
def test_microphone_device_by_name_or_index(monkeypatch, wanted, index) -> None:
    fake = FakeSoundDevice(DEVICES)
    monkeypatch.setattr(audio, "_sounddevice", lambda: fake)
    chunks: list[bytes] = []
    source = MicrophoneSource(wanted)
    source.start(chunks.append, lambda: None)
    source.stop()
    assert fake.opened["device"] == index
    assert (fake.opened["samplerate"], fake.opened["channels"], fake.opened["dtype"]) == (
        16000,
        1,
        "int16",
    )
    assert chunks == [b"\x01\x00" * 4]
    assert fake.opened["stopped"]


def test_no_input_device(monkeypatch) -> None:
    monkeypatch.setattr(audio, "_sounddevice", lambda: FakeSoundDevice(DEVICES[:1]))
    with pytest.raises(NoInputDeviceError, match="no microphone found"):
        MicrophoneSource().start(lambda c: None, lambda: None)
    monkeypatch.setattr(audio, "_sounddevice", lambda: FakeSoundDevice(DEVICES))
    with pytest.raises(NoInputDeviceError, match="no input device 'bluetooth'; available: 1: USB"):
        MicrophoneSource("bluetooth").start(lambda c: None, lambda: None)


@pytest.mark.parametrize("rate", [44100, 48000, 22050])
def test_stream_resampler_is_seamless(rate) -> None:
    from workstation.dictation.audio import StreamResampler

    pcm = (tone(rate, 1.0, freq=440) * 32767).astype("<i2").tobytes()
    resampler = StreamResampler(rate)
    block = rate // 10 * 2
    out = b"".join(resampler(pcm[i : i + block]) for i in range(0, len(pcm), block))
    samples = np.frombuffer(out, dtype="<i2").astype(float)
    assert abs(samples.size - 16000) <= 2
    assert dominant_frequency(out[: 16000 // 2 * 2 * 2]) == pytest.approx(440, abs=3)
    steady = samples[200:-200]  # past the filter's start-up
    amplitude = 0.5 * 32767
    assert np.abs(steady).max() == pytest.approx(amplitude, rel=0.03)
    # no clicks at block seams: the sample-to-sample step stays that of a 440 Hz sine
    assert np.abs(np.diff(steady)).max() < amplitude * 2 * np.pi * 440 / 16000 * 1.1


def test_microphone_falls_back_to_the_device_rate(monkeypatch) -> None:
    class Only48k(FakeSoundDevice):
        def RawInputStream(self, **kwargs):
            if kwargs["samplerate"] != 48000:
                raise self.PortAudioError("Invalid sample rate")
            return super().RawInputStream(**kwargs)

    fake = Only48k(DEVICES)
    monkeypatch.setattr(audio, "_sounddevice", lambda: fake)
    chunks: list[bytes] = []
    source = MicrophoneSource(1)
    source.start(chunks.append, lambda: None)
    assert fake.opened["samplerate"] == 48000
    assert fake.opened["blocksize"] == 4800
    assert chunks  # resampled chunks arrive


def test_input_devices_lists_capture_devices_and_flags_the_default(monkeypatch) -> None:
    monkeypatch.setattr(audio, "_sounddevice", lambda: FakeSoundDevice(DEVICES))
    devices = audio.input_devices()
    assert [(d.index, d.name, d.default) for d in devices] == [
        (1, "USB dictation mic", True),  # FakeSoundDevice.default.device = (1, 3)
        (2, "pulse", False),
    ]
    assert devices[0].label == "1: USB dictation mic"


@pytest.mark.parametrize(
    ("wanted", "index"),
    [(None, 2), (2, 2), ("2", 2), ("PULSE", 2), ("usb", 1), (7, None), ("bluetooth", None)],
)
def test_match_input_device(wanted, index) -> None:
    devices = [
        audio.InputDevice(1, "USB dictation mic", 1, 48000.0),
        audio.InputDevice(2, "pulse", 32, 44100.0, default=True),
    ]
    found = audio.match_input_device(devices, wanted)
    assert (found.index if found else None) == index
    assert audio.match_input_device([], wanted) is None


def test_microphone_factory_opens_the_device_it_holds_now() -> None:
    factory = audio.MicrophoneFactory("USB")
    assert factory().device == "USB"
    factory.device = 3
    assert factory().device == 3
