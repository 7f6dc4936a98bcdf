"""The volume store: cache by Series Instance UID, one fetch per series, LRU, prefetch."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import httpx
import pytest
from pydicom.dataset import Dataset

from tests.workstation.fakes import FakeServer, small_study
from workstation.client import ProblemError, ReadroomClient
from workstation.services import VolumeStore


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
