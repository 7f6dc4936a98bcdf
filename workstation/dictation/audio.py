"""Audio sources: the microphone (sounddevice) and WAV files, 16 kHz mono int16.

A source calls ``on_audio(chunk)`` from its own thread with raw little-endian
16-bit mono PCM at :data:`SAMPLE_RATE`, and ``on_end()`` when it runs out
(files only). The callback must not block; the dictation session queues the
chunk and returns.
"""

from __future__ import annotations

import math
import threading
import time
import wave
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

__all__ = [
    "SAMPLE_RATE",
    "AudioError",
    "AudioFormatError",
    "AudioSource",
    "AudioUnavailableError",
    "DeviceLister",
    "InputDevice",
    "Level",
    "MicrophoneFactory",
    "MicrophoneSource",
    "NoInputDeviceError",
    "StreamResampler",
    "WavFileSource",
    "find_input_device",
    "input_devices",
    "level_of",
    "match_input_device",
    "read_wav",
    "resample",
]

SAMPLE_RATE = 16000
SILENCE_DBFS = -120.0

OnAudio = Callable[[bytes], None]
OnEnd = Callable[[], None]


class AudioError(Exception):
    """Audio cannot be captured; the message is shown to the user as is."""


class AudioUnavailableError(AudioError):
    """PortAudio (the sound library) is missing."""


class NoInputDeviceError(AudioError):
    """No microphone, or not the one asked for."""


class AudioFormatError(AudioError):
    """A WAV file this reader cannot decode."""


class AudioSource(Protocol):
    """Something that produces 16 kHz mono int16 chunks."""

    sample_rate: int
    #: True when audio arrives in real time (it must never wait); False for a
    #: recording read as fast as recognition goes (it may wait for room).
    live: bool

    def start(self, on_audio: OnAudio, on_end: OnEnd) -> None:
        """Begin calling ``on_audio``; ``on_end`` after the last chunk (if the source ends)."""

    def stop(self) -> None:
        """Stop; no ``on_audio`` call starts after this returns."""


# --- level meter -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Level:
    """Loudness of a chunk in dBFS (0 is full scale; silence is -120)."""

    rms_dbfs: float = SILENCE_DBFS
    peak_dbfs: float = SILENCE_DBFS


def _dbfs(value: float) -> float:
    return max(SILENCE_DBFS, 20 * math.log10(value / 32768.0)) if value > 0 else SILENCE_DBFS


def level_of(chunk: bytes) -> Level:
    """RMS and peak level of int16 PCM."""
    samples = np.frombuffer(chunk, dtype="<i2").astype(np.float64)
    if samples.size == 0:
        return Level()
    rms = float(np.sqrt(np.mean(samples * samples)))
    peak = float(np.max(np.abs(samples)))
    return Level(_dbfs(rms), _dbfs(peak))


# --- conversion --------------------------------------------------------------


def resample(samples: np.ndarray, src_rate: int, dst_rate: int) -> np.ndarray:
    """Band-limited resampling of a float signal by FFT (like scipy's ``resample``)."""
    if src_rate == dst_rate or samples.size == 0:
        return samples
    n_out = max(1, round(samples.size * dst_rate / src_rate))
    spectrum = np.fft.rfft(samples)
    bins = n_out // 2 + 1
    if bins <= spectrum.size:
        spectrum = spectrum[:bins]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins - spectrum.size, dtype=spectrum.dtype)])
    return np.fft.irfft(spectrum, n_out) * (n_out / samples.size)


class StreamResampler:
    """Block-by-block resampling of int16 PCM for live audio (windowed-sinc low-pass, then
    linear interpolation), keeping state across blocks so there are no seams."""

    def __init__(self, src_rate: int, dst_rate: int = SAMPLE_RATE, taps: int = 63) -> None:
        self.step = src_rate / dst_rate
        cutoff = 0.45 * min(src_rate, dst_rate) / src_rate  # cycles per input sample
        n = np.arange(taps) - (taps - 1) / 2
        kernel = 2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(taps)
        self.kernel = kernel / kernel.sum()
        self._tail = np.zeros(taps - 1)
        self._previous = 0.0
        self._position = 0.0  # read position in [previous, filtered...]

    def __call__(self, chunk: bytes) -> bytes:
        block = np.frombuffer(chunk, dtype="<i2").astype(np.float64)
        signal = np.concatenate([self._tail, block])
        self._tail = signal[len(signal) - len(self._tail) :]
        filtered = np.concatenate([[self._previous], np.convolve(signal, self.kernel, "valid")])
        last = len(filtered) - 1
        positions = np.arange(self._position, last, self.step)
        out = np.interp(positions, np.arange(len(filtered)), filtered)
        self._position = (
            (positions[-1] + self.step - last) if positions.size else self._position - last
        )
        self._previous = filtered[-1]
        return to_pcm16(out)


def _decode(frames: bytes, sample_width: int) -> np.ndarray:
    """PCM bytes → float64 in int16 scale."""
    if sample_width == 1:
        return (np.frombuffer(frames, dtype=np.uint8).astype(np.float64) - 128.0) * 256.0
    if sample_width == 2:
        return np.frombuffer(frames, dtype="<i2").astype(np.float64)
    if sample_width == 3:
        raw = np.frombuffer(frames, dtype=np.uint8).reshape(-1, 3).astype(np.int32)
        value = raw[:, 0] | (raw[:, 1] << 8) | (raw[:, 2] << 16)
        value = np.where(value & 0x800000, value - 0x1000000, value)
        return value.astype(np.float64) / 256.0
    if sample_width == 4:
        return np.frombuffer(frames, dtype="<i4").astype(np.float64) / 65536.0
    raise AudioFormatError(f"unsupported WAV sample width: {sample_width} bytes")


def to_pcm16(samples: np.ndarray) -> bytes:
    """Float samples in int16 scale → clipped little-endian int16 bytes."""
    return np.clip(np.round(samples), -32768, 32767).astype("<i2").tobytes()


def read_wav(path: Path | str, rate: int = SAMPLE_RATE) -> bytes:
    """A PCM WAV file (any rate, channels, 8/16/24/32-bit) as mono int16 at ``rate``."""
    try:
        with wave.open(str(path), "rb") as wav:
            channels, width, src_rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
            frames = wav.readframes(wav.getnframes())
    except (wave.Error, EOFError) as error:
        raise AudioFormatError(f"{path}: not a PCM WAV file ({error})") from None
    except OSError as error:
        raise AudioFormatError(f"{path}: {error.strerror or error}") from None
    samples = _decode(frames, width)
    if channels > 1:
        samples = samples[: samples.size // channels * channels].reshape(-1, channels).mean(axis=1)
    if src_rate == rate and width == 2 and channels == 1:
        return frames
    return to_pcm16(resample(samples, src_rate, rate))


# --- sources -----------------------------------------------------------------


class WavFileSource:
    """Dictate from a recording; ``realtime`` paces chunks like a microphone."""

    def __init__(self, path: Path | str, *, realtime: bool = False, chunk_ms: int = 100) -> None:
        self.path = Path(path)
        self.realtime = realtime
        self.live = realtime
        self.chunk_ms = chunk_ms
        self.sample_rate = SAMPLE_RATE
        self.pcm = read_wav(self.path)  # fail early, in the caller's thread
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.pcm) / 2 / self.sample_rate

    def start(self, on_audio: OnAudio, on_end: OnEnd) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, args=(on_audio, on_end), name="dictation-wav", daemon=True
        )
        self._thread.start()

    def _run(self, on_audio: OnAudio, on_end: OnEnd) -> None:
        step = self.sample_rate * self.chunk_ms // 1000 * 2
        started = time.monotonic()
        for offset in range(0, len(self.pcm), step):
            if self._stop.is_set():
                return
            if self.realtime:
                # pacing a recording like a live microphone, not waiting for work
                due = started + (offset + step) / 2 / self.sample_rate
                if self._stop.wait(max(0.0, due - time.monotonic())):
                    return
            on_audio(self.pcm[offset : offset + step])
        on_end()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join()
        self._thread = None


@dataclass(frozen=True, slots=True)
class InputDevice:
    """A capture device as PortAudio lists it."""

    index: int
    name: str
    channels: int
    default_samplerate: float
    default: bool = False
    """True for the system's default input."""

    @property
    def label(self) -> str:
        """``"3: USB mic"`` — how the device is shown to the user."""
        return f"{self.index}: {self.name}"


#: Lists the capture devices (:func:`input_devices`; tests pass their own).
DeviceLister = Callable[[], list[InputDevice]]


def _sounddevice() -> Any:
    try:
        import sounddevice
    except OSError as error:  # PortAudio library not found
        raise AudioUnavailableError(
            f"audio is unavailable: {error} (install libportaudio2); typing still works"
        ) from None
    return sounddevice


def input_devices() -> list[InputDevice]:
    """The capture devices PortAudio knows (the default input flagged); raises
    :class:`AudioUnavailableError` without PortAudio."""
    sd = _sounddevice()
    default = sd.default.device
    default = default[0] if isinstance(default, list | tuple) else default
    return [
        InputDevice(
            int(d["index"]),
            str(d["name"]),
            int(d["max_input_channels"]),
            float(d["default_samplerate"]),
            default=int(d["index"]) == default,
        )
        for d in sd.query_devices()
        if d["max_input_channels"] > 0
    ]


def match_input_device(
    devices: Sequence[InputDevice], device: int | str | None
) -> InputDevice | None:
    """The device asked for: by index, by (part of its) name, or the default input when
    ``device`` is None (else the first); None when there is no such device."""
    if not devices:
        return None
    if device is None:
        return next((d for d in devices if d.default), devices[0])
    if isinstance(device, int) or str(device).isdigit():
        return next((d for d in devices if d.index == int(device)), None)
    wanted = str(device).lower()
    exact = [d for d in devices if d.name.lower() == wanted]
    partial = [d for d in devices if wanted in d.name.lower()]
    return (exact or partial or [None])[0]


def find_input_device(device: int | str | None) -> InputDevice:
    """The device by index, by (part of its) name, or the default input."""
    devices = input_devices()
    if not devices:
        raise NoInputDeviceError("no microphone found; typing still works")
    found = match_input_device(devices, device)
    if found is None:
        names = ", ".join(d.label for d in devices)
        raise NoInputDeviceError(f"no input device {device!r}; available: {names}")
    return found


class MicrophoneSource:
    """Capture from a microphone through a sounddevice ``RawInputStream`` callback."""

    def __init__(self, device: int | str | None = None, *, blocksize: int = 1600) -> None:
        self.device = device
        self.blocksize = blocksize
        self.sample_rate = SAMPLE_RATE
        self.live = True
        self.status_errors = 0  # PortAudio overflow/underflow flags seen
        self._stream: Any = None

    def start(self, on_audio: OnAudio, on_end: OnEnd) -> None:
        sd = _sounddevice()
        device = find_input_device(self.device)

        def open_stream(rate: int, on_chunk: OnAudio) -> Any:
            def callback(indata: Any, frames: int, time_info: Any, status: Any) -> None:
                if status:
                    self.status_errors += 1
                on_chunk(bytes(indata))

            stream = sd.RawInputStream(
                samplerate=rate,
                blocksize=self.blocksize * rate // self.sample_rate,
                device=device.index,
                channels=1,
                dtype="int16",
                callback=callback,
            )
            stream.start()
            return stream

        try:
            self._stream = open_stream(self.sample_rate, on_audio)
        except sd.PortAudioError:
            # the device cannot capture at 16 kHz: capture at its own rate and resample
            rate = int(device.default_samplerate)
            resampler = StreamResampler(rate, self.sample_rate)
            try:
                self._stream = open_stream(rate, lambda chunk: on_audio(resampler(chunk)))
            except sd.PortAudioError as error:
                raise NoInputDeviceError(
                    f"cannot open microphone {device.name!r}: {error}"
                ) from None

    def stop(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()  # waits for the running callback
            stream.close()


class MicrophoneFactory:
    """A session's ``source_factory`` for the microphone; :attr:`device` may change between
    starts (the device picker), taking effect at the next start."""

    def __init__(self, device: int | str | None = None) -> None:
        self.device = device
        """A sounddevice index or (part of) a name; None: the default input."""

    def __call__(self) -> MicrophoneSource:
        return MicrophoneSource(self.device)
