"""Encrypted, content-addressed blobs in a directory tree.

Format of one blob file (all integers big-endian)::

    b"RRB1" | nonce prefix (8 bytes) | plaintext size (8 bytes) | chunk*

A blob lives at ``<root>/<first two hex digits of its SHA-256>/<SHA-256>``, as git
files its objects. The 256 fan-out directories are made when the store is opened, so
that storing a blob makes no directory; at a million blobs each holds some 4000. Blobs
of a store written before this layout (``<2>/<2>/<SHA-256>``) are still found; a store
made in this layout says so (:data:`LAYOUT_MARKER` in its root), and is looked up in
one place only.

Each chunk is AES-256-GCM over at most ``CHUNK`` plaintext bytes with the nonce
``prefix || counter (4 bytes)`` and the blob's SHA-256 plus a last-chunk flag as
associated data, so chunks cannot be reordered, truncated or moved between blobs
without failing authentication. Writes go to a temporary file in the same
directory, are fsynced, and are renamed into place, and the directory is fsynced:
a crash leaves no half blob, and a blob is durable once :meth:`put_file` returns —
or, for blobs put into a :class:`StagedBatch`, once that batch is synced: their files
are sealed and written by sync threads while the caller goes on, then made durable
together and renamed (one ``syncfs`` before the renames and one after, when the machine
has little else to write back: :mod:`server.storage.volume_sync`). A sync thread seals
a blob straight into a page-aligned buffer and writes it past the page cache where it
can (:mod:`server.storage.direct_io`).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import struct
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, wait
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from server.storage.base import BlobNotFound, BlobRef, WriteBatch
from server.storage.direct_io import DIRECT_MAX, aligned_buffer, open_new, write_head_direct
from server.storage.volume_sync import VolumeSync, on_local_disk, quiet
from server.threads import SharedPool

MAGIC = b"RRB1"
CHUNK = 1024 * 1024
TAG = 16
_HEADER = struct.Struct(">4s8sQ")
#: Bytes of blobs put into batches that may wait in memory for a sync thread to write
#: them (per process); past it, the caller writes its blob itself.
WRITE_BEHIND_BUDGET = 64 * 1024 * 1024
#: fsyncs of a batch in flight at once (they wait on the disk, not the CPU).
SYNC_THREADS = 8
_IOV_MAX = os.sysconf("SC_IOV_MAX")
_DIGEST = re.compile(r"[0-9a-f]{64}")
#: In the root of a store made in the current layout, by this version or later.
LAYOUT_MARKER = "LAYOUT"


@dataclass(frozen=True)
class _Staged:
    """A blob bound for a temporary file beside its place, not yet synced."""

    temporary: Path
    target: Path


@dataclass
class _Sealing:
    """A blob's file to be: the blob's digest and size, and its plaintext in chunks of
    :data:`CHUNK` bytes (the last may be shorter), encrypted as the file is written."""

    aead: AESGCM
    digest: str
    size: int
    chunks: Iterable[bytes | memoryview]
    prefix: bytes  # of each chunk's nonce: random, never reused under the key

    @property
    def _count(self) -> int:
        return max(1, -(-self.size // CHUNK))

    @property
    def file_size(self) -> int:
        return _HEADER.size + self.size + TAG * self._count

    def _sealed(self) -> Iterator[tuple[bytes, bytes | memoryview, bytes]]:
        """Each chunk with its nonce and associated data."""
        last = self._count - 1
        for index, chunk in enumerate(self.chunks if self.size else [b""]):
            yield _nonce(self.prefix, index), chunk, _aad(self.digest, index == last)

    def pieces(self) -> Iterator[bytes]:
        """The file's bytes: its header, then each chunk encrypted."""
        yield _HEADER.pack(MAGIC, self.prefix, self.size)
        for nonce, chunk, aad in self._sealed():
            yield self.aead.encrypt(nonce, chunk, aad)

    def seal_into(self, out: memoryview) -> None:
        """The file's bytes into ``out``, :attr:`file_size` long (no copy of a chunk)."""
        _HEADER.pack_into(out, 0, MAGIC, self.prefix, self.size)
        at = _HEADER.size
        for nonce, chunk, aad in self._sealed():
            end = at + len(chunk) + TAG
            self.aead.encrypt_into(nonce, chunk, aad, out[at:end])
            at = end


class StagedBatch:
    """Blobs to make durable together (a :class:`~server.storage.base.WriteBatch`, shared
    by the threads putting blobs).

    A blob put into the batch goes to a temporary file on a sync thread, which encrypts
    and writes it (when the caller has handed over its bytes, within
    :data:`WRITE_BEHIND_BUDGET`) while the caller goes on; :meth:`sync` waits for those,
    makes the files durable, renames each into place, and makes the renames durable. A
    blob reaches its name only once its bytes are durable, so a name in the store always
    holds a whole blob.

    Durable how: when the machine has little else to write back, by one ``syncfs`` of
    the store's file system before the renames and one after
    (:mod:`server.storage.volume_sync`); otherwise each file is fsynced by its sync
    thread as soon as it is written, and each directory once after the renames.
    """

    def __init__(self, root: Path, *, volume_sync: bool) -> None:
        self._root, self._volume_sync = root, volume_sync
        self._lock = threading.Lock()
        self._staged: list[tuple[_Staged, Future[None]]] = []
        self._dirs: set[Path] = set()
        self._volume: VolumeSync | None = None  # opened with the first blob, if quiet

    def _volume_wide(self) -> bool:
        """Whether this batch syncs its file system whole (decided under the lock with
        its first blob, before that blob's file is written)."""
        if not self._staged and self._volume_sync and quiet():
            with contextlib.suppress(OSError):  # cannot open it: fsync each file instead
                self._volume = VolumeSync(self._root)
        return self._volume is not None

    def stage(self, staged: _Staged, sealing: _Sealing | None = None, reserved: int = 0) -> None:
        """Add a blob written to its temporary file, or to be sealed and written there
        (``sealing``, ``reserved`` bytes of the write-behind budget) by a sync thread."""
        with self._lock:
            fsync = not self._volume_wide()
            if sealing is not None:
                syncing = _sync_pool().submit(
                    _write_file, staged.temporary, sealing, reserved, fsync
                )
            elif fsync:
                syncing = _sync_pool().submit(_fsync_file, staged.temporary)
            else:
                syncing = _DONE
            self._staged.append((staged, syncing))

    def add(self, directories: set[Path]) -> None:
        with self._lock:
            self._dirs |= directories

    def sync(self) -> None:
        """Make every blob put so far durable, in place. On an error none of the blobs not
        yet renamed is kept (those renamed are whole, and unreferenced until the caller's
        transaction commits)."""
        with self._lock:
            staged, dirs, volume = self._staged, self._dirs, self._volume
            self._staged, self._dirs, self._volume = [], set(), None
        try:
            try:
                for _blob, syncing in staged:
                    syncing.result()
                if volume is not None and staged:
                    volume.sync()
                for blob, _syncing in staged:
                    os.replace(blob.temporary, blob.target)
                    dirs.add(blob.target.parent)
            except BaseException:
                _let_go(staged)
                raise
            if volume is not None:
                if dirs:
                    volume.sync()
            elif len(dirs) == 1:
                _fsync_dir(dirs.pop())
            elif dirs:
                list(_sync_pool().map(_fsync_dir, dirs))
        finally:
            if volume is not None:
                volume.close()

    def discard(self) -> None:
        """Let go of the blobs staged and not synced; returns once none is left."""
        with self._lock:
            staged, self._staged, self._dirs = self._staged, [], set()
            volume, self._volume = self._volume, None
        if volume is not None:
            volume.close()
        _let_go(staged)


def _let_go(staged: list[tuple[_Staged, Future[None]]]) -> None:
    """Remove staged temporary files once the sync threads are done with them (one being
    written now would otherwise be made again after its removal): a batch's own writes,
    a few milliseconds at most."""
    wait([writing for _blob, writing in staged])
    for blob, _writing in staged:
        blob.temporary.unlink(missing_ok=True)


class _Budget:
    """Bytes that may wait to be written: taken without waiting, or not at all."""

    def __init__(self, size: int) -> None:
        self._lock = threading.Lock()
        self._left = size

    def take(self, size: int) -> bool:
        with self._lock:
            if size > self._left:
                return False
            self._left -= size
            return True

    def give(self, size: int) -> None:
        with self._lock:
            self._left += size


_write_behind = _Budget(WRITE_BEHIND_BUDGET)
_DONE: Future[None] = Future()
_DONE.set_result(None)
_sync_pool = SharedPool(SYNC_THREADS, "blob-sync")


def create_key(path: Path) -> bool:
    """Write a new random 256-bit key with mode 0600 from the first byte; False if one exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as key:
        key.write(secrets.token_bytes(32))
    return True


def load_key(path: Path) -> bytes:
    key = path.read_bytes()
    if len(key) != 32:
        raise ValueError(f"{path} does not hold a 256-bit key")
    return key


class EncryptedFileStore:
    """A :class:`~server.storage.base.BlobStore` on the local filesystem."""

    def __init__(self, root: Path, key: bytes) -> None:
        self.root = root
        self._root_text = os.fspath(root)
        self._aead = AESGCM(key)
        root.mkdir(parents=True, exist_ok=True)
        if _make_fan_out(root) == 256:  # a new store: nothing in it was filed earlier
            _write_marker(root / LAYOUT_MARKER)
        #: Blobs may be filed in the two-level layout of versions before the marker.
        self._earlier = not (root / LAYOUT_MARKER).exists()
        #: Batches may be synced by syncing the file system (while it is quiet).
        self._volume_sync = on_local_disk(root)

    def _location(self, sha256: str) -> str:
        """Where the blob is filed, as text: every blob stored or looked for asks, and
        joining text costs a fraction of joining paths."""
        if not _DIGEST.fullmatch(sha256):
            raise BlobNotFound(sha256)
        return f"{self._root_text}/{sha256[:2]}/{sha256}"

    def _path(self, sha256: str) -> Path:
        return Path(self._location(sha256))

    def _earlier_path(self, sha256: str) -> Path:
        """Where the two-level layout of earlier versions filed the blob."""
        return self._path(sha256).parent / sha256[2:4] / sha256

    def _places(self, sha256: str) -> tuple[Path, ...]:
        """Where the blob may be, the current layout first."""
        if self._earlier:
            return self._path(sha256), self._earlier_path(sha256)
        return (self._path(sha256),)

    def exists(self, sha256: str) -> bool:
        if not self._earlier:
            return os.path.exists(self._location(sha256))
        return any(path.exists() for path in self._places(sha256))

    def write_batch(self) -> StagedBatch:
        return StagedBatch(self.root, volume_sync=self._volume_sync)

    def put_bytes(
        self, data: bytes, *, sha256: str | None = None, batch: WriteBatch | None = None
    ) -> BlobRef:
        """Store ``data``. ``sha256``: its digest when the caller has just computed it
        (the caller vouches for it, as the blob is filed under it)."""
        digest = sha256 or hashlib.sha256(data).hexdigest()
        if not self.exists(digest):
            self._write(digest, len(data), _chunks_of(data), _own(batch))
        else:
            self._stored_earlier(digest, _own(batch))
        return BlobRef(digest, len(data))

    def put_file(
        self, path: Path, *, sha256: str | None = None, batch: WriteBatch | None = None
    ) -> BlobRef:
        """Store ``path``'s bytes. ``sha256``: their digest when the caller has just
        computed it from this same file (it is then not read twice); the caller vouches
        for it, as the blob is filed under it."""
        if sha256 is None:
            digest, size = _digest_file(path)
        else:
            digest, size = sha256, path.stat().st_size
        if not self.exists(digest):
            with path.open("rb") as source:
                self._write(digest, size, _read_chunks(source), _own(batch))
        else:
            self._stored_earlier(digest, _own(batch))
        return BlobRef(digest, size)

    def _stored_earlier(self, digest: str, batch: StagedBatch | None) -> None:
        """With a batch, a blob found already in place may be another batch's not yet
        synced rename: sync its directory too."""
        if batch is not None:
            batch.add({self._path(digest).parent})

    def _write(
        self,
        digest: str,
        size: int,
        chunks: Iterable[bytes | memoryview],
        batch: StagedBatch | None,
    ) -> None:
        location = self._location(digest)
        target = Path(location)
        prefix = secrets.token_bytes(8)  # the nonces' prefix, and the temporary's name
        temporary = Path(f"{location[: -len(digest)]}.tmp-{prefix.hex()}")
        if batch is not None and _write_behind.take(size):
            sealing = _Sealing(self._aead, digest, size, list(chunks), prefix)
            batch.stage(_Staged(temporary, target), sealing, reserved=size)
            return
        try:
            with os.fdopen(_create(temporary)[0], "wb") as out:
                out.writelines(_Sealing(self._aead, digest, size, chunks, prefix).pieces())
                if batch is None:
                    out.flush()
                    os.fsync(out.fileno())
            if batch is not None:
                batch.stage(_Staged(temporary, target))
                return
            os.replace(temporary, target)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        _fsync_dir(target.parent)  # the rename is durable once its directory is synced

    def size(self, sha256: str) -> int:
        with self._open(sha256) as handle:
            _magic, _prefix, size = _HEADER.unpack(handle.read(_HEADER.size))
        return size

    def _open(self, sha256: str) -> BinaryIO:
        for path in self._places(sha256):
            try:
                return path.open("rb")
            except FileNotFoundError:
                pass
        raise BlobNotFound(sha256)

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        with self._open(sha256) as handle:
            magic, prefix, size = _HEADER.unpack(handle.read(_HEADER.size))
            if magic != MAGIC:
                raise ValueError(f"blob {sha256[:12]} is not in Readroom's format")
            total_chunks = max(1, -(-size // CHUNK))
            for index in range(total_chunks):
                sealed = handle.read(min(CHUNK, size - index * CHUNK) + TAG)
                last = index == total_chunks - 1
                yield self._aead.decrypt(_nonce(prefix, index), sealed, _aad(sha256, last))

    def read_bytes(self, sha256: str) -> bytes:
        return b"".join(self.iter_chunks(sha256))


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


def _aad(digest: str, last: bool) -> bytes:
    return digest.encode() + (b"\x01" if last else b"\x00")


def _own(batch: WriteBatch | None) -> StagedBatch | None:
    if batch is not None and not isinstance(batch, StagedBatch):
        raise TypeError("a write batch of another store")
    return batch


def _chunks_of(data: bytes) -> Iterator[bytes | memoryview]:
    if len(data) <= CHUNK:
        yield data
        return
    view = memoryview(data)
    for start in range(0, len(data), CHUNK):
        yield view[start : start + CHUNK]


def _read_chunks(source: BinaryIO) -> Iterator[bytes]:
    while chunk := source.read(CHUNK):
        yield chunk


def _make_fan_out(root: Path) -> int:
    """Make the 256 directories blobs are filed in, those missing; sync the root if any
    was made. How many were made."""
    made = 0
    for byte in range(256):
        try:
            (root / f"{byte:02x}").mkdir()
            made += 1
        except FileExistsError:
            pass
    if made:
        _fsync_dir(root)
    return made


def _write_marker(path: Path) -> None:
    """The layout marker, durable (a store that loses it only looks in more places)."""
    with path.open("w") as out:
        out.write("one level of 256 directories since the store was made\n")
        out.flush()
        os.fsync(out.fileno())
    _fsync_dir(path.parent)


def _create(path: Path, *, direct: bool = False) -> tuple[int, bool]:
    """A new file at ``path`` (a blob's temporary), open for writing (``O_DIRECT`` if asked
    and allowed: whether it is); its fan-out directory is made again if something
    removed it since the store was opened."""
    try:
        return open_new(path, direct=direct)
    except FileNotFoundError:
        _make_fan_out(path.parent.parent)
        return open_new(path, direct=direct)


def _write_file(path: Path, sealing: _Sealing, reserved: int, fsync: bool) -> None:
    """Seal and write a staged blob's file (past the page cache where it can), fsync it
    if asked, then give its bytes back to the budget."""
    try:
        size = sealing.file_size
        fd, direct = _create(path, direct=size <= DIRECT_MAX)
        try:
            if direct:
                out = aligned_buffer(size)[:size]
                sealing.seal_into(out)
                write_head_direct(fd, out)
            else:
                _write_all(fd, list(sealing.pieces()))
            if fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
    finally:
        sealing.chunks = []
        _write_behind.give(reserved)


def _write_all(fd: int, pieces: list[bytes]) -> None:
    """Write ``pieces`` in order: with one ``writev`` (one release of the GIL) when the
    system takes them all at once, as it does for a regular file."""
    done = os.writev(fd, pieces) if len(pieces) <= _IOV_MAX else 0
    for piece in pieces:
        skip = min(done, len(piece))
        done -= skip
        view = memoryview(piece)[skip:]
        while view:
            view = view[os.write(fd, view) :]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _digest_file(path: Path) -> tuple[str, int]:
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        for chunk in _read_chunks(source):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
