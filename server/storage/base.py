"""The blob store protocol: content-addressed (SHA-256 of the plaintext), write-once."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class BlobRef:
    sha256: str
    size: int


class BlobNotFound(KeyError):
    """No blob with that digest."""


class WriteBatch(Protocol):
    """Blobs put with ``batch=`` this are durable once :meth:`sync` returns, not before
    (and may not be readable before).

    Lets a store make many blobs durable at once (shared syncs, one request …) instead of
    one at a time. Safe to pass to puts running on several threads."""

    def sync(self) -> None: ...

    def discard(self) -> None:
        """Let go of the blobs put and not synced (the batch is abandoned)."""
        ...


class BlobStore(Protocol):
    """Where patient files live. A second backend (S3-compatible) implements the same."""

    def put_file(
        self, path: Path, *, sha256: str | None = None, batch: WriteBatch | None = None
    ) -> BlobRef:
        """Store a file's bytes, read in chunks (never whole in memory); durable on return,
        or with ``batch`` once the batch is synced.

        ``sha256`` is the digest of those bytes when the caller has just computed it."""
        ...

    def put_bytes(
        self, data: bytes, *, sha256: str | None = None, batch: WriteBatch | None = None
    ) -> BlobRef:
        """As :meth:`put_file`, for bytes already in memory."""
        ...

    def write_batch(self) -> WriteBatch:
        """A new batch for :meth:`put_file` / :meth:`put_bytes`."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def iter_chunks(self, sha256: str) -> Iterator[bytes]:
        """The plaintext, chunk by chunk, each chunk authenticated before it is yielded."""
        ...

    def read_bytes(self, sha256: str) -> bytes: ...

    def size(self, sha256: str) -> int: ...
