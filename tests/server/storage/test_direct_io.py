"""Blobs written past the page cache: whole at every size, and written the ordinary way
wherever the file system refuses direct I/O (at open or at the write)."""

from __future__ import annotations

import errno
import os
import secrets
from pathlib import Path

import pytest

from server.storage import EncryptedFileStore, direct_io, encrypted_fs
from server.storage.direct_io import ALIGN, DIRECT_MAX, aligned_buffer, open_new
from server.storage.encrypted_fs import CHUNK, TAG
from tests.server.storage.support import blob_files

#: The blob file's bytes beyond the plaintext for a one-chunk blob (header and tag).
_OVERHEAD = 20 + TAG


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> EncryptedFileStore:
    monkeypatch.setattr(encrypted_fs, "_write_behind", encrypted_fs._Budget(64 << 20))
    return EncryptedFileStore(tmp_path / "blobs", secrets.token_bytes(32))


def _store_batched(store: EncryptedFileStore, blobs: list[bytes]) -> list[bytes]:
    batch = store.write_batch()
    refs = [store.put_bytes(data, batch=batch) for data in blobs]
    batch.sync()
    return [store.read_bytes(ref.sha256) for ref in refs]


def _o_direct(fd: int) -> bool:
    flags = next(
        line
        for line in Path(f"/proc/self/fdinfo/{fd}").read_text().splitlines()
        if line.startswith("flags:")
    )
    return bool(int(flags.split()[1], 8) & os.O_DIRECT)


def test_a_new_file_is_open_direct_where_the_file_system_allows(tmp_path: Path) -> None:
    fd, direct = open_new(tmp_path / "new", direct=True)
    try:
        assert _o_direct(fd) == direct
    finally:
        os.close(fd)
    fd, direct = open_new(tmp_path / "plain", direct=False)
    try:
        assert not direct
        assert not _o_direct(fd)
    finally:
        os.close(fd)
    with pytest.raises(FileExistsError):
        open_new(tmp_path / "new", direct=True)


@pytest.mark.parametrize(
    "size",
    [
        0,
        1,
        ALIGN - _OVERHEAD,  # the file exactly one block
        ALIGN - _OVERHEAD + 1,
        3 * ALIGN,
        300_000,
        CHUNK + 1,  # two chunks, two tags
        2 * CHUNK,
    ],
)
def test_blobs_written_behind_are_whole_at_every_size(store: EncryptedFileStore, size: int) -> None:
    data = secrets.token_bytes(size)
    assert _store_batched(store, [data]) == [data]


def test_the_direct_path_is_the_one_taken(
    store: EncryptedFileStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fd, supported = open_new(tmp_path / "probe", direct=True)
    os.close(fd)
    written: list[int] = []
    real = direct_io.write_head_direct

    def spy(fd: int, data: memoryview) -> None:
        written.append(len(data))
        real(fd, data)

    monkeypatch.setattr(encrypted_fs, "write_head_direct", spy)
    data = secrets.token_bytes(300_000)
    assert _store_batched(store, [data]) == [data]
    assert written == ([300_000 + _OVERHEAD] if supported else [])


def test_a_blob_past_the_buffer_is_written_the_ordinary_way(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(encrypted_fs, "DIRECT_MAX", 64 * 1024)
    calls: list[bool] = []
    real = direct_io.open_new

    def spy(path: Path, *, direct: bool) -> tuple[int, bool]:
        calls.append(direct)
        return real(path, direct=direct)

    monkeypatch.setattr(encrypted_fs, "open_new", spy)
    small, large = secrets.token_bytes(1000), secrets.token_bytes(200_000)
    assert _store_batched(store, [small, large]) == [small, large]
    assert sorted(calls) == [False, True]


def test_a_file_system_refusing_direct_io_at_open_gets_ordinary_writes(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = os.open

    def no_direct(path: str, flags: int, mode: int = 0o777) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, mode)

    monkeypatch.setattr(os, "open", no_direct)
    blobs = [secrets.token_bytes(n) for n in (0, 5000, 300_000)]
    assert _store_batched(store, blobs) == blobs


def test_a_direct_write_refused_is_done_the_ordinary_way(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = os.write
    refused: list[int] = []

    def refuse_direct(fd: int, data: bytes) -> int:
        if _o_direct(fd):
            refused.append(fd)
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_write(fd, data)

    monkeypatch.setattr(os, "write", refuse_direct)
    data = secrets.token_bytes(300_000)
    assert _store_batched(store, [data]) == [data]


def test_another_write_error_fails_the_batch_and_keeps_nothing(
    store: EncryptedFileStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full(*_args: object) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    for write in ("write", "pwrite", "writev"):  # whichever path this file system takes
        monkeypatch.setattr(os, write, full)
    batch = store.write_batch()
    ref = store.put_bytes(secrets.token_bytes(300_000), batch=batch)
    with pytest.raises(OSError, match="No space"):
        batch.sync()
    assert not store.exists(ref.sha256)
    assert blob_files(store) == []


def test_the_aligned_buffer_is_page_aligned_reused_and_bounded() -> None:
    import ctypes

    first = aligned_buffer(5000)
    address = ctypes.addressof(ctypes.c_char.from_buffer(first))
    assert address % ALIGN == 0
    assert len(first) >= 5000
    assert len(aligned_buffer(100)) == len(first)  # the same buffer again
    with pytest.raises(ValueError, match="past"):
        aligned_buffer(DIRECT_MAX + 1)
