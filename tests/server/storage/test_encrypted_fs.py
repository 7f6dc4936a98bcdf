"""Encrypted blobs: round trip, content addressing, tamper evidence, nothing readable on disk."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from server.storage import BlobNotFound, EncryptedFileStore
from server.storage.encrypted_fs import CHUNK, LAYOUT_MARKER
from tests.server.storage.support import blob_files


@pytest.fixture
def store(tmp_path: Path) -> EncryptedFileStore:
    return EncryptedFileStore(tmp_path / "blobs", secrets.token_bytes(32))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17])
def test_round_trip_any_size(store: EncryptedFileStore, tmp_path: Path, size: int) -> None:
    data = secrets.token_bytes(size)
    source = tmp_path / "in.bin"
    source.write_bytes(data)
    ref = store.put_file(source)
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert ref.size == size
    assert store.read_bytes(ref.sha256) == data
    assert store.size(ref.sha256) == size


def test_plaintext_never_on_disk(store: EncryptedFileStore) -> None:
    marker = b"DOE^JANE-SYNTHETIC" * 100
    ref = store.put_bytes(marker)
    on_disk = b"".join(p.read_bytes() for p in blob_files(store))
    assert b"DOE^JANE" not in on_disk
    assert store.read_bytes(ref.sha256) == marker


def test_same_content_stored_once(store: EncryptedFileStore) -> None:
    first = store.put_bytes(b"same")
    second = store.put_bytes(b"same")
    assert first == second
    assert len(blob_files(store)) == 1


def test_tampered_blob_fails_authentication(store: EncryptedFileStore) -> None:
    ref = store.put_bytes(b"x" * 5000)
    path = blob_files(store)[0]
    raw = bytearray(path.read_bytes())
    raw[-20] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(InvalidTag):
        store.read_bytes(ref.sha256)


def test_wrong_key_cannot_read(store: EncryptedFileStore) -> None:
    ref = store.put_bytes(b"secret")
    other = EncryptedFileStore(store.root, secrets.token_bytes(32))
    with pytest.raises(InvalidTag):
        other.read_bytes(ref.sha256)


def test_missing_blob(store: EncryptedFileStore) -> None:
    with pytest.raises(BlobNotFound):
        store.read_bytes("0" * 64)
    with pytest.raises(BlobNotFound):
        store.read_bytes("../../etc/passwd")


def test_blobs_put_in_a_batch_have_their_directories_synced_once_when_it_is_synced(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.storage import encrypted_fs

    synced: list[Path] = []
    monkeypatch.setattr(encrypted_fs, "_fsync_dir", synced.append)
    monkeypatch.setattr(encrypted_fs, "quiet", lambda: False)  # busy: one file at a time
    first = store.put_bytes(b"first")
    alone = list(synced)
    assert store._path(first.sha256).parent in alone  # durable on return outside a block
    synced.clear()
    batch = store.write_batch()
    second = store.put_bytes(b"second", batch=batch)
    store.put_bytes(b"first", batch=batch)  # already there: its directory is synced again
    assert synced == []
    assert not store.exists(second.sha256)  # staged: not under its name before the sync
    batch.sync()
    assert store.read_bytes(second.sha256) == b"second"
    assert {store._path(second.sha256).parent, store._path(first.sha256).parent} <= set(synced)
    assert len(synced) == len(set(synced))


def test_a_discarded_batch_leaves_nothing_behind(store: EncryptedFileStore) -> None:
    batch = store.write_batch()
    refs = [store.put_bytes(f"blob {n}".encode(), batch=batch) for n in range(5)]
    batch.discard()
    batch.sync()  # nothing left to sync
    assert not any(store.exists(ref.sha256) for ref in refs)
    assert blob_files(store) == []


def test_a_failed_sync_keeps_no_staged_blob(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.storage import encrypted_fs

    def failing(_fd: int) -> None:
        raise OSError(5, "I/O error")

    monkeypatch.setattr(encrypted_fs, "quiet", lambda: False)  # busy: one file at a time
    batch = store.write_batch()
    monkeypatch.setattr(os, "fsync", failing)
    ref = store.put_bytes(b"never durable", batch=batch)
    with pytest.raises(OSError, match="I/O error"):
        batch.sync()
    assert not store.exists(ref.sha256)
    assert blob_files(store) == []


@pytest.mark.parametrize("budget", [0, 1 << 20], ids=["written-by-caller", "written-behind"])
def test_batched_blobs_are_whole_after_the_sync_whoever_writes_them(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    from server.storage import encrypted_fs

    monkeypatch.setattr(encrypted_fs, "_write_behind", encrypted_fs._Budget(budget))
    batch = store.write_batch()
    blobs = [secrets.token_bytes(size) for size in (0, 1000, 300_000)]
    refs = [store.put_bytes(data, batch=batch) for data in blobs]
    batch.sync()
    assert [store.read_bytes(ref.sha256) for ref in refs] == blobs
    assert [p.name for p in store.root.rglob(".tmp-*")] == []
    assert encrypted_fs._write_behind.take(budget)  # all of it given back


def test_blobs_are_filed_under_the_first_byte_of_their_digest(store: EncryptedFileStore) -> None:
    ref = store.put_bytes(b"filed")
    assert store._path(ref.sha256) == store.root / ref.sha256[:2] / ref.sha256
    assert store._path(ref.sha256).is_file()
    fan_out = [f"{n:02x}" for n in range(256)]
    assert sorted(p.name for p in store.root.iterdir()) == sorted([*fan_out, LAYOUT_MARKER])


@pytest.mark.parametrize("budget", [0, 1 << 20], ids=["written-by-caller", "written-behind"])
def test_a_fan_out_directory_removed_under_the_store_is_made_again(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch, budget: int
) -> None:
    from server.storage import encrypted_fs

    monkeypatch.setattr(encrypted_fs, "_write_behind", encrypted_fs._Budget(budget))
    data = b"after an admin's clean-up"
    leaf = store._path(hashlib.sha256(data).hexdigest()).parent
    leaf.rmdir()
    batch = store.write_batch()
    ref = store.put_bytes(data, batch=batch)
    batch.sync()
    assert store.read_bytes(ref.sha256) == data


def test_a_short_writev_is_finished_piece_by_piece(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from server.storage import encrypted_fs

    def short(fd: int, pieces: list[bytes]) -> int:
        return os.write(fd, pieces[0][:7])  # the system took only seven bytes

    monkeypatch.setattr(os, "writev", short)
    monkeypatch.setattr(encrypted_fs, "_write_behind", encrypted_fs._Budget(1 << 20))
    monkeypatch.setattr(encrypted_fs, "DIRECT_MAX", 0)  # the ordinary path, not direct I/O
    batch = store.write_batch()
    data = secrets.token_bytes(300_000)
    ref = store.put_bytes(data, batch=batch)
    batch.sync()
    assert store.read_bytes(ref.sha256) == data


def test_a_blob_filed_in_the_earlier_two_level_layout_is_still_found(tmp_path: Path) -> None:
    key = secrets.token_bytes(32)
    store = EncryptedFileStore(tmp_path / "blobs", key)
    ref = store.put_bytes(b"stored by an earlier version")
    earlier = store.root / ref.sha256[:2] / ref.sha256[2:4] / ref.sha256
    earlier.parent.mkdir()
    store._path(ref.sha256).rename(earlier)
    (store.root / LAYOUT_MARKER).unlink()  # as a store made by an earlier version
    store = EncryptedFileStore(store.root, key)
    assert not (store.root / LAYOUT_MARKER).exists()  # not claimed on reopening
    assert store.exists(ref.sha256)
    assert store.size(ref.sha256) == len(b"stored by an earlier version")
    assert store.read_bytes(ref.sha256) == b"stored by an earlier version"
    again = store.put_bytes(b"stored by an earlier version")  # not stored a second time
    assert again == ref
    assert not store._path(ref.sha256).exists()


def test_a_store_made_in_this_layout_looks_for_a_blob_in_one_place(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    ref = store.put_bytes(b"filed once")
    looked: list[str] = []
    real_exists = os.path.exists

    def exists(path: str) -> bool:
        looked.append(os.path.relpath(path, store.root))
        return real_exists(path)

    monkeypatch.setattr(os.path, "exists", exists)
    absent = "f" * 64
    assert not store.exists(absent)
    assert store.exists(ref.sha256)
    assert looked == [f"ff/{absent}", f"{ref.sha256[:2]}/{ref.sha256}"]
