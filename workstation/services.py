"""The service container handed to ``make_app``: API client, token store, volumes, dictation.

:class:`VolumeStore` keeps decoded series in an LRU cache keyed by Series
Instance UID and fetches them (WADO-RS, then decode into the viewer's
``SeriesVolume``) on its own threads: a foreground pool for the series the
radiologist is looking at, one background thread for prefetching the rest
of the study and the next case. A series requested while it is being
prefetched is waited for, never fetched twice. Nothing here runs on a
keypress and nothing imports Textual.

:class:`DictationService` builds the one
:class:`~workstation.dictation.session.DictationSession` of the process on
first use: loading a Vosk model takes 1–3 s and ~600 MB, so call
:meth:`DictationService.session` from a worker thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pydicom.dataset import Dataset

from workstation.client import ReadroomClient
from workstation.config import Settings
from workstation.credentials import TokenStore, default_store

if TYPE_CHECKING:
    from workstation.dictation.audio import DeviceLister, InputDevice
    from workstation.dictation.session import DictationSession

__all__ = [
    "Decoder",
    "DictationService",
    "Services",
    "VolumeStore",
    "build_services",
    "default_decoder",
]

log = logging.getLogger(__name__)

#: Turns the instances of one series into a volume the Viewport shows.
Decoder = Callable[[Sequence[Dataset]], Any]


def default_decoder(datasets: Sequence[Dataset]) -> Any:
    """The viewer's ``SeriesVolume`` built from a series' datasets."""
    from workstation.viewer.loading import load_series

    return load_series(datasets)


class VolumeStore:
    """Decoded series by Series Instance UID: cached, loaded on demand, prefetched."""

    def __init__(
        self,
        client: ReadroomClient,
        *,
        decode: Decoder = default_decoder,
        capacity: int = 12,
    ) -> None:
        self._client = client
        self._decode = decode
        self._capacity = capacity
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._pending: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()
        self._foreground = ThreadPoolExecutor(max_workers=2, thread_name_prefix="volume")
        self._background = ThreadPoolExecutor(max_workers=1, thread_name_prefix="prefetch")
        self._tasks: set[Future[Any]] = set()
        self.fetched: list[str] = []
        """Series UIDs fetched from the server, in order (for tests and diagnostics)."""

    def get(self, series_uid: str) -> Any | None:
        """The cached volume, or None (never fetches)."""
        with self._lock:
            volume = self._cache.get(series_uid)
            if volume is not None:
                self._cache.move_to_end(series_uid)
            return volume

    def put(self, series_uid: str, volume: Any) -> None:
        with self._lock:
            self._cache[series_uid] = volume
            self._cache.move_to_end(series_uid)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)

    def __contains__(self, series_uid: str) -> bool:
        with self._lock:
            return series_uid in self._cache

    def _submit(self, study_uid: str, series_uid: str, *, background: bool) -> Future[Any]:
        with self._lock:
            future = self._pending.get(series_uid)
            if future is not None:
                return future
            pool = self._background if background else self._foreground
            future = pool.submit(self._fetch, study_uid, series_uid)
            self._pending[series_uid] = future
            self._track(future)
        return future

    def _track(self, future: Future[Any]) -> None:
        self._tasks.add(future)
        future.add_done_callback(self._tasks.discard)

    def _fetch(self, study_uid: str, series_uid: str) -> Any:
        try:
            cached = self.get(series_uid)
            if cached is not None:
                return cached
            datasets = self._client.retrieve_series(study_uid, series_uid)
            self.fetched.append(series_uid)
            volume = self._decode(datasets)
            self.put(series_uid, volume)
            return volume
        finally:
            with self._lock:
                self._pending.pop(series_uid, None)

    def load(self, study_uid: str, series_uid: str) -> Any:
        """The volume of a series, fetching it now if needed (blocks: call from a worker)."""
        cached = self.get(series_uid)
        if cached is not None:
            return cached
        return self._submit(study_uid, series_uid, background=False).result()

    def prefetch(self, study_uid: str, series_uids: Iterable[str]) -> None:
        """Fetch and decode these series in the background (errors are logged, not raised)."""
        for uid in series_uids:
            if uid not in self:
                self._submit(study_uid, uid, background=True).add_done_callback(_log_failure)

    def prefetch_study(self, study_uid: str) -> None:
        """List a study's series (QIDO-RS) and prefetch them all, in the background."""

        def run() -> None:
            series = self._client.series(study_uid)
            self.prefetch(study_uid, [s.series_instance_uid for s in series])

        future = self._background.submit(run)
        self._track(future)
        future.add_done_callback(_log_failure)

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until no fetch or prefetch is queued or running (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while tasks := self._tasks.copy():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            wait(tasks, timeout=remaining)
        return True

    def clear(self) -> None:
        with self._lock:
            self._cache.clear()

    def close(self) -> None:
        for pool in (self._foreground, self._background):
            pool.shutdown(wait=False, cancel_futures=True)


class DictationService:
    """The dictation session, built once, on first use, from the settings.

    ``build`` makes the session (default: :func:`vosk_session`); it may raise
    :class:`~workstation.dictation.models.ModelNotFoundError` (no model
    installed: typing only) or another ``ModelError``. A failure is not
    remembered: a model installed meanwhile is found next time.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        build: Callable[[Settings], DictationSession] | None = None,
        list_devices: DeviceLister | None = None,
    ) -> None:
        self._settings = settings
        self._build = build or vosk_session
        self.list_devices: DeviceLister = list_devices or _input_devices
        """Lists the capture devices (PortAudio; tests pass their own)."""
        self._session: DictationSession | None = None
        self._lock = threading.Lock()
        self._input_device = settings.input_device

    @property
    def ready(self) -> DictationSession | None:
        """The session if it has been built already (never blocks)."""
        return self._session

    @property
    def input_device(self) -> int | str | None:
        """The microphone of the next start: the configured one unless changed since."""
        return self._input_device

    def set_input_device(self, device: int | str | None) -> None:
        """Capture from ``device`` from the next start on (for this process; the config file
        is not changed). Applies to a session whose source is a microphone."""
        with self._lock:
            self._input_device = device
            if self._session is not None:
                self._apply_device(self._session)

    def _apply_device(self, session: DictationSession) -> None:
        from workstation.dictation.audio import MicrophoneFactory

        factory = getattr(session, "source_factory", None)
        if isinstance(factory, MicrophoneFactory):
            factory.device = self._input_device

    def session(self) -> DictationSession:
        """The session, building it now if needed (blocks for seconds: call from a worker)."""
        with self._lock:
            if self._session is None:
                self._session = self._build(self._settings)
                self._apply_device(self._session)
            return self._session

    def close(self) -> None:
        """Stop dictating and end the recogniser thread."""
        with self._lock:
            session, self._session = self._session, None
        if session is not None:
            session.close()


def vosk_session(settings: Settings) -> DictationSession:
    """A session on the configured (or installed) Vosk model and microphone (loads the model)."""
    from workstation.dictation.audio import MicrophoneFactory
    from workstation.dictation.commands import CommandTable
    from workstation.dictation.engine import VoskRecognizerFactory
    from workstation.dictation.models import cached_model, resolve_model_path
    from workstation.dictation.session import DictationSession
    from workstation.dictation.sink import MemoryDocument

    model = cached_model(resolve_model_path(configured=settings.vosk_model))
    return DictationSession(
        sink=MemoryDocument(),  # the report panel makes its editor the sink
        recognizer_factory=VoskRecognizerFactory(model),
        source_factory=MicrophoneFactory(settings.input_device),
        commands=CommandTable().extended(settings.commands),
    )


def _input_devices() -> list[InputDevice]:
    from workstation.dictation.audio import input_devices

    return input_devices()


def _log_failure(future: Future[Any]) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.info("prefetch failed: %s", type(future.exception()).__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Services:
    """What the app needs from the outside world; tests build one with fakes."""

    client: ReadroomClient
    tokens: TokenStore
    volumes: VolumeStore
    clock: Callable[[], datetime] = field(default=_utcnow)
    dictation: DictationService | None = None
    """None: no dictation at all (typing only), as in most tests."""

    def close(self) -> None:
        if self.dictation is not None:
            self.dictation.close()
        self.volumes.close()
        self.client.close()


def build_services(settings: Settings, *, decode: Decoder = default_decoder) -> Services:
    """The real services: HTTP client, keyring/file token store, volume store, dictation."""
    client = ReadroomClient(settings.server_url, timeout=settings.request_timeout)
    return Services(
        client=client,
        tokens=default_store(settings.data_dir),
        volumes=VolumeStore(client, decode=decode, capacity=settings.cache_series),
        dictation=DictationService(settings),
    )
