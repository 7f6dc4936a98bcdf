"""A batch of blobs made durable by syncing their file system whole while little else
waits to be written, and one file at a time otherwise."""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest

from server.storage import BlobRef, EncryptedFileStore, encrypted_fs, volume_sync
from server.storage.volume_sync import (
    QUIET_DIRTY,
    VolumeSync,
    on_local_disk,
    quiet,
    waiting_bytes,
)
from tests.server.storage.support import blob_files

MEMINFO = """MemTotal:       24576000 kB
MemFree:        20000000 kB
Dirty:              {dirty} kB
Writeback:          {writeback} kB
AnonPages:        100000 kB
"""


def _meminfo(tmp_path: Path, *, dirty: int, writeback: int = 0) -> Path:
    path = tmp_path / "meminfo"
    path.write_text(MEMINFO.format(dirty=dirty // 1024, writeback=writeback // 1024))
    return path


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EncryptedFileStore:
    """A store on a local disk (whatever the test machine's temporary directory is)."""
    monkeypatch.setattr(encrypted_fs, "_write_behind", encrypted_fs._Budget(64 << 20))
    monkeypatch.setattr(encrypted_fs, "on_local_disk", lambda _root: True)
    return EncryptedFileStore(tmp_path / "blobs", secrets.token_bytes(32))


@pytest.fixture
def events(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What the batch did to make its blobs durable, in order: fsync, syncfs, rename."""
    seen: list[str] = []
    real_fsync, real_replace, real_sync = os.fsync, os.replace, VolumeSync.sync

    def fsync(fd: int) -> None:
        seen.append("fsync")
        real_fsync(fd)

    def replace(source: os.PathLike[str], target: os.PathLike[str]) -> None:
        seen.append("rename")
        real_replace(source, target)

    def sync(self: VolumeSync) -> None:
        seen.append("syncfs")
        real_sync(self)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    monkeypatch.setattr(VolumeSync, "sync", sync)
    return seen


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def _put_three(
    store: EncryptedFileStore,
) -> tuple[encrypted_fs.StagedBatch, list[bytes], list[BlobRef]]:
    batch = store.write_batch()
    blobs = [secrets.token_bytes(size) for size in (1000, 70_000, 300_000)]
    refs = [store.put_bytes(data, batch=batch) for data in blobs]
    return batch, blobs, refs


def test_the_bytes_waiting_to_be_written_are_read_from_meminfo(tmp_path: Path) -> None:
    meminfo = _meminfo(tmp_path, dirty=3 << 20, writeback=1 << 20)
    assert waiting_bytes(meminfo) == 4 << 20
    (tmp_path / "partial").write_text("MemTotal: 1 kB\nDirty: 12 kB\n")
    assert waiting_bytes(tmp_path / "partial") is None
    assert waiting_bytes(tmp_path / "absent") is None


def test_the_volume_is_quiet_below_the_threshold_only(tmp_path: Path) -> None:
    assert quiet(_meminfo(tmp_path, dirty=QUIET_DIRTY - (1 << 20)))
    assert not quiet(_meminfo(tmp_path, dirty=QUIET_DIRTY - (1 << 20), writeback=2 << 20))
    assert not quiet(tmp_path / "absent")


def test_without_syncfs_the_volume_is_never_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(volume_sync, "_syncfs", None)
    assert not quiet(_meminfo(tmp_path, dirty=0))
    with pytest.raises(OSError, match="syncfs"):
        VolumeSync(tmp_path)


MOUNTS = """\
21 1 8:1 / / rw,relatime - ext4 /dev/sda1 rw
22 21 0:45 / /srv/share rw,relatime - nfs4 files:/export rw,vers=4.2
23 22 8:17 / /srv/share/local\\040disk rw,relatime - xfs /dev/sdb1 rw
24 21 0:30 / /run rw,nosuid - tmpfs tmpfs rw
"""


@pytest.mark.parametrize(
    ("directory", "local"),
    [
        ("/var/lib/readroom", True),
        ("/srv/share/readroom", False),  # a network file system
        ("/srv/share", False),
        ("/srv/shared", True),  # not under /srv/share
        ("/srv/share/local disk/blobs", True),  # the innermost mount, its name unescaped
        ("/run/readroom", False),
    ],
)
def test_only_a_local_disk_file_system_is_synced_whole(
    tmp_path: Path, directory: str, local: bool
) -> None:
    mountinfo = tmp_path / "mountinfo"
    mountinfo.write_text(MOUNTS)
    assert on_local_disk(Path(directory), mountinfo) is local
    assert not on_local_disk(Path(directory), tmp_path / "absent")


def test_a_store_on_a_network_file_system_fsyncs_each_file_even_when_quiet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    monkeypatch.setattr(encrypted_fs, "on_local_disk", lambda _root: False)
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: True)
    store = EncryptedFileStore(tmp_path / "blobs", secrets.token_bytes(32))
    events.clear()  # the store's own marker
    batch, blobs, refs = _put_three(store)
    batch.sync()
    assert "syncfs" not in events
    assert events.count("fsync") >= 3
    assert [store.read_bytes(ref.sha256) for ref in refs] == blobs


def test_a_quiet_batch_syncs_its_volume_before_and_after_the_renames(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: True)
    before = _open_fds()
    batch, blobs, refs = _put_three(store)
    assert not any(store.exists(ref.sha256) for ref in refs)
    batch.sync()
    assert events == ["syncfs", "rename", "rename", "rename", "syncfs"]
    assert [store.read_bytes(ref.sha256) for ref in refs] == blobs
    assert list(store.root.rglob(".tmp-*")) == []
    assert _open_fds() == before  # the volume's descriptor is closed


def test_a_busy_batch_fsyncs_each_file_and_directory(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: False)
    batch, blobs, refs = _put_three(store)
    batch.sync()
    assert "syncfs" not in events
    assert events[:3] == ["fsync"] * 3  # each file, before any rename
    assert events[3:6] == ["rename"] * 3
    directories = {store._path(ref.sha256).parent for ref in refs}
    assert events[6:] == ["fsync"] * len(directories)
    assert [store.read_bytes(ref.sha256) for ref in refs] == blobs


def test_the_way_is_chosen_once_per_batch_before_its_first_file(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    answers = iter([True, False, False])
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: next(answers))
    batch, blobs, refs = _put_three(store)  # the machine got busy after the first blob
    batch.sync()
    assert events.count("syncfs") == 2
    assert "fsync" not in events
    batch, blobs, refs = _put_three(store)  # the next batch asks again
    batch.sync()
    assert events.count("syncfs") == 2
    assert [store.read_bytes(ref.sha256) for ref in refs] == blobs


def _failing_syncfs(number: int) -> Callable[[int], int]:
    def syncfs(_fd: int) -> int:
        ctypes.set_errno(number)
        return -1

    return syncfs


def test_a_failed_volume_sync_keeps_no_blob(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: True)
    monkeypatch.setattr(volume_sync, "_syncfs", _failing_syncfs(errno.EIO))
    before = _open_fds()
    batch, _blobs, refs = _put_three(store)
    with pytest.raises(OSError, match=os.strerror(errno.EIO)) as failure:
        batch.sync()
    assert failure.value.errno == errno.EIO
    assert not any(store.exists(ref.sha256) for ref in refs)
    assert blob_files(store) == []
    assert _open_fds() == before


def test_a_discarded_quiet_batch_closes_its_volume(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: True)
    before = _open_fds()
    batch, _blobs, refs = _put_three(store)
    assert _open_fds() != before  # opened before the first file was written
    batch.discard()
    assert _open_fds() == before
    assert not any(store.exists(ref.sha256) for ref in refs)
    assert blob_files(store) == []


def test_a_blob_already_in_place_is_synced_with_the_volume(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, events: list[str]
) -> None:
    """Another batch may have renamed it and not yet synced the rename."""
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: True)
    ref = store.put_bytes(b"stored before")
    events.clear()
    batch = store.write_batch()
    store.put_bytes(b"new", batch=batch)
    store.put_bytes(b"stored before", batch=batch)
    batch.sync()
    assert events == ["syncfs", "rename", "syncfs"]
    assert store.read_bytes(ref.sha256) == b"stored before"
