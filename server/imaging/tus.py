"""The tus 1.0.0 resumable upload protocol: core, creation, checksum and termination.

Protocol pieces only (no database): header parsing and the streaming append of one
PATCH body to the upload's file. See https://tus.io/protocols/resumable-upload —
``Tus-Resumable`` on every request but OPTIONS (412 otherwise), ``Upload-Offset``
must equal the bytes received (409), ``Content-Type: application/offset+octet-stream``
(415), ``Upload-Checksum: <algorithm> <base64 digest>`` over the PATCH body (460 and
the chunk discarded when it does not match).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
from collections.abc import AsyncIterator
from pathlib import Path

from server.problems import BadRequest, Conflict, Locked, PayloadTooLarge, Problem

__all__ = [
    "CHECKSUM_ALGORITHMS",
    "EXTENSIONS",
    "OFFSET_CONTENT_TYPE",
    "TUS_VERSION",
    "ChecksumMismatch",
    "PreconditionFailed",
    "append_chunk",
    "parse_checksum",
    "parse_metadata",
]

TUS_VERSION = "1.0.0"
EXTENSIONS = "creation,checksum,termination"
CHECKSUM_ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256}
OFFSET_CONTENT_TYPE = "application/offset+octet-stream"
MAX_METADATA_CHARS = 4096


class PreconditionFailed(Problem):
    """The client speaks a tus version this server does not (tus core: 412)."""

    status, title, slug = 412, "Precondition failed", "tus-version"


class ChecksumMismatch(Problem):
    """tus checksum extension: the PATCH body does not match ``Upload-Checksum`` (460)."""

    status, title, slug = 460, "Checksum mismatch", "checksum-mismatch"


def check_version(value: str | None) -> None:
    if value != TUS_VERSION:
        raise PreconditionFailed(
            f"Send 'Tus-Resumable: {TUS_VERSION}'; other versions are not supported.",
            field="Tus-Resumable",
            headers={"Tus-Version": TUS_VERSION, "Tus-Resumable": TUS_VERSION},
        )


def parse_metadata(value: str | None) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs (value optional)."""
    if not value:
        return {}
    if len(value) > MAX_METADATA_CHARS:
        raise BadRequest("Upload-Metadata is too long.", field="Upload-Metadata")
    pairs: dict[str, str] = {}
    for item in value.split(","):
        parts = item.strip().split(" ")
        key = parts[0]
        if not key or len(parts) > 2 or key in pairs:
            raise BadRequest("Upload-Metadata is malformed.", field="Upload-Metadata")
        try:
            pairs[key] = (
                base64.b64decode(parts[1], validate=True).decode("utf-8") if len(parts) > 1 else ""
            )
        except (binascii.Error, UnicodeDecodeError):
            raise BadRequest(
                f"Upload-Metadata value of {key!r} is not base64 UTF-8.", field="Upload-Metadata"
            ) from None
    return pairs


def parse_checksum(value: str | None) -> tuple[str, bytes] | None:
    """``Upload-Checksum: sha1 <base64>`` → (algorithm, digest); 400 for an unknown one."""
    if value is None:
        return None
    algorithm, _, encoded = value.strip().partition(" ")
    if algorithm not in CHECKSUM_ALGORITHMS:
        raise BadRequest(
            f"Checksum algorithm {algorithm!r} is not supported (use sha1 or sha256).",
            field="Upload-Checksum",
        )
    try:
        digest = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise BadRequest("Upload-Checksum is not base64.", field="Upload-Checksum") from None
    return algorithm, digest


def parse_offset(value: str | None, *, name: str = "Upload-Offset") -> int:
    if value is None or not value.isdigit() or len(value) > 19:
        raise BadRequest(f"{name} must be a non-negative integer.", field=name)
    return int(value)


async def append_chunk(
    path: Path,
    *,
    offset: int,
    length: int,
    stream: AsyncIterator[bytes],
    checksum: tuple[str, bytes] | None,
) -> int:
    """Append one PATCH body at ``offset``; returns the new offset.

    Streams to the file as it arrives (never the whole body in memory). With a
    checksum, a mismatch truncates the file back to ``offset`` (the chunk is
    discarded) and raises :class:`ChecksumMismatch`. A body that would pass the
    declared ``Upload-Length`` is refused and discarded (413). A connection lost
    mid-body keeps what arrived unless a checksum was given.
    """
    try:
        handle = path.open("r+b")
    except FileNotFoundError:
        raise Conflict("The upload is no longer receiving data.") from None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Locked("Another request is writing to this upload; retry shortly.") from None
        size = handle.seek(0, 2)
        if size != offset:
            raise Conflict(
                f"Upload-Offset {offset} does not match the {size} bytes received.",
                field="Upload-Offset",
                headers={"Upload-Offset": str(size)},
            )
        hasher = CHECKSUM_ALGORITHMS[checksum[0]]() if checksum else None
        written = 0
        try:
            async for chunk in stream:
                if not chunk:
                    continue
                if offset + written + len(chunk) > length:
                    raise PayloadTooLarge(
                        "The data goes past the declared Upload-Length.", field="Upload-Length"
                    )
                handle.write(chunk)
                written += len(chunk)
                if hasher is not None:
                    hasher.update(chunk)
        except PayloadTooLarge:
            handle.truncate(offset)
            raise
        except BaseException:
            # The connection broke: keep what arrived (tus resumes from it) unless it
            # cannot be verified against a checksum.
            handle.flush()
            if checksum is not None:
                handle.truncate(offset)
            raise
        handle.flush()
        if hasher is not None and checksum is not None and hasher.digest() != checksum[1]:
            handle.truncate(offset)
            handle.flush()
            raise ChecksumMismatch(
                "The data does not match Upload-Checksum; the chunk was discarded, send it again.",
                field="Upload-Checksum",
            )
        with contextlib.suppress(OSError):
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return offset + written
