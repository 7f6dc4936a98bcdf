"""The volume store: cache by Series Instance UID, one fetch per series, LRU, prefetch."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import httpx
import pytest
from pydicom.dataset import Dataset

from tests.workstation.fakes import FakeServer, small_study
from workstation.client import ProblemError, ReadroomClient
from workstation.config import Settings
from workstation.dictation.commands import Action
from workstation.dictation.models import ModelNotFoundError
from workstation.services import DictationService, VolumeStore, vosk_session


@pytest.fixture
def server() -> FakeServer:
    return FakeServer()


def _client(server: FakeServer) -> ReadroomClient:
    token = server.issue_token()
    return ReadroomClient("http://x.test", token=token, transport=httpx.MockTransport(server))


def _series(server: FakeServer, study_uid: str) -> list[str]:
    return list(dict.fromkeys(str(d.SeriesInstanceUID) for d in server.studies[study_uid]))


def test_load_decodes_once_and_caches(server: FakeServer) -> None:
    study = server.add_study(small_study(slices=3))
    store = VolumeStore(_client(server))
    axial = _series(server, study)[1]
    volume = store.load(study, axial)
    assert volume.count == 3
    assert store.get(axial) is volume
    assert store.load(study, axial) is volume
    assert store.fetched == [axial]
    store.close()


def test_concurrent_requests_share_one_fetch(server: FakeServer) -> None:
    study = server.add_study(small_study(slices=3))
    gate = threading.Event()
    decoded: list[int] = []

    def slow_decode(datasets: Sequence[Dataset]) -> object:
        gate.wait(10)
        decoded.append(len(datasets))
        return object()

    store = VolumeStore(_client(server), decode=slow_decode)
    axial = _series(server, study)[1]
    store.prefetch(study, [axial])  # in the background, held at the gate
    results: list[object] = []
    waiter = threading.Thread(target=lambda: results.append(store.load(study, axial)))
    waiter.start()
    gate.set()
    waiter.join(10)
    assert store.wait_idle(10)
    assert decoded == [3]
    assert results == [store.get(axial)]
    store.close()


def test_least_recently_used_series_is_evicted(server: FakeServer) -> None:
    study = server.add_study(small_study(slices=2))
    store = VolumeStore(_client(server), decode=lambda datasets: len(datasets), capacity=2)
    scout, soft, lung = _series(server, study)
    store.load(study, scout)
    store.load(study, soft)
    store.get(scout)  # touch: the soft-tissue series is now the oldest
    store.load(study, lung)
    assert scout in store
    assert lung in store
    assert soft not in store


def test_prefetch_study_fetches_every_series(server: FakeServer) -> None:
    study = server.add_study(small_study(slices=2))
    store = VolumeStore(_client(server))
    store.prefetch_study(study)
    assert store.wait_idle(30)
    assert all(uid in store for uid in _series(server, study))
    store.close()


def test_failed_fetch_is_raised_to_the_loader_and_retried_later(server: FakeServer) -> None:
    store = VolumeStore(_client(server))
    with pytest.raises(ProblemError):
        store.load("1.2.3", "4.5.6")
    study = server.add_study(small_study(slices=2))
    axial = _series(server, study)[1]
    store.prefetch("1.2.3", ["nope"])  # a background failure is only logged
    assert store.wait_idle(10)
    assert store.load(study, axial).count == 2
    store.close()


def test_dictation_session_is_built_once_even_when_asked_twice_at_once() -> None:
    built: list[Settings] = []
    gate = threading.Event()

    class Session:
        closed = False

        def close(self) -> None:
            self.closed = True

    def build(settings: Settings) -> Session:
        gate.wait(5)
        built.append(settings)
        return Session()

    service = DictationService(Settings(), build=build)  # type: ignore[arg-type]
    assert service.ready is None
    results: list[object] = []
    threads = [threading.Thread(target=lambda: results.append(service.session())) for _ in "ab"]
    for thread in threads:
        thread.start()
    gate.set()
    for thread in threads:
        thread.join(5)
    assert len(built) == 1
    assert results[0] is results[1] is service.ready
    service.close()
    assert results[0].closed
    assert service.ready is None


def test_a_missing_model_is_not_remembered(tmp_path) -> None:
    attempts: list[int] = []

    def build(settings: Settings):
        attempts.append(1)
        raise ModelNotFoundError("no model")

    service = DictationService(Settings(), build=build)
    for _ in range(2):
        with pytest.raises(ModelNotFoundError):
            service.session()
    assert len(attempts) == 2  # installed meanwhile? found next time


def test_vosk_session_without_a_model_says_how_to_install_one(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("READROOM_VOSK_MODEL", raising=False)
    monkeypatch.setattr("workstation.dictation.models.models_dir", lambda: tmp_path / "models")
    with pytest.raises(ModelNotFoundError, match="readroom model install"):
        vosk_session(Settings(vosk_model=None))


def test_vosk_session_uses_the_configured_model_device_and_commands(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_dir = tmp_path / "model"
    for name in ("am", "conf", "graph"):
        (model_dir / name).mkdir(parents=True)
    loaded: list[object] = []
    monkeypatch.delenv("READROOM_VOSK_MODEL", raising=False)
    monkeypatch.setattr(
        "workstation.dictation.models.cached_model", lambda path: loaded.append(path) or "model"
    )
    settings = Settings(
        vosk_model=model_dir, input_device="USB", commands={"next_field": ("onward",)}
    )
    session = vosk_session(settings)
    try:
        assert loaded == [model_dir]
        assert session.source_factory is not None
        assert session.source_factory().device == "USB"
        assert "onward" in session.commands.phrases[Action.NEXT_FIELD]
        assert "next field" in session.commands.phrases[Action.NEXT_FIELD]
    finally:
        session.close()


def test_the_input_device_changes_for_the_next_start() -> None:
    from workstation.dictation.audio import MicrophoneFactory

    class Session:
        def __init__(self) -> None:
            self.source_factory = MicrophoneFactory("USB")

        def close(self) -> None:
            pass

    service = DictationService(
        Settings(input_device="USB"),
        build=lambda settings: Session(),  # type: ignore[arg-type,return-value]
        list_devices=lambda: [],
    )
    assert service.input_device == "USB"
    service.set_input_device(4)  # before the session is built: applied when it is
    session = service.session()
    assert session.source_factory.device == 4
    service.set_input_device(None)  # after: applied at once, for the next start
    assert session.source_factory.device is None
    assert service.list_devices() == []
