"""Accept negotiation and ``multipart/related`` bodies for WADO-RS (PS3.18 §8.7, §8.6.1.2).

Pure: parse an ``Accept`` header into :class:`MediaRange` s, choose what to send
for a stored transfer syntax (:func:`negotiate_instance`, :func:`negotiate_frames`),
and encode parts as a stream of bytes (:func:`multipart_stream`).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pydicom.uid import UID

from server.problems import Problem

__all__ = [
    "ANY_TRANSFER_SYNTAX",
    "EXPLICIT_VR_LITTLE_ENDIAN",
    "Choice",
    "MediaRange",
    "NotAcceptable",
    "Part",
    "bulk_media_type",
    "is_native",
    "multipart_content_type",
    "multipart_length",
    "multipart_stream",
    "negotiate_frames",
    "negotiate_instance",
    "new_boundary",
    "parse_accept",
]

ANY_TRANSFER_SYNTAX = "*"
EXPLICIT_VR_LITTLE_ENDIAN = "1.2.840.10008.1.2.1"
DICOM = "application/dicom"
OCTET_STREAM = "application/octet-stream"

#: Uncompressed transfer syntaxes: frames go out as little-endian octets (PS3.18 §8.7.3.3.2).
_NATIVE = frozenset(
    {"1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.1.99", "1.2.840.10008.1.2.2"}
)

#: Media types of compressed pixel data per transfer syntax (PS3.18 Table 8.7.3-3, -4).
_BULK_MEDIA_TYPES: dict[str, str] = {
    "1.2.840.10008.1.2.4.50": "image/jpeg",
    "1.2.840.10008.1.2.4.51": "image/jpeg",
    "1.2.840.10008.1.2.4.57": "image/jpeg",
    "1.2.840.10008.1.2.4.70": "image/jpeg",
    "1.2.840.10008.1.2.4.80": "image/jls",
    "1.2.840.10008.1.2.4.81": "image/jls",
    "1.2.840.10008.1.2.4.90": "image/jp2",
    "1.2.840.10008.1.2.4.91": "image/jp2",
    "1.2.840.10008.1.2.4.92": "image/jpx",
    "1.2.840.10008.1.2.4.93": "image/jpx",
    "1.2.840.10008.1.2.4.201": "image/jphc",
    "1.2.840.10008.1.2.4.202": "image/jphc",
    "1.2.840.10008.1.2.4.203": "image/jphc",
    "1.2.840.10008.1.2.5": "image/dicom-rle",
    "1.2.840.10008.1.2.4.100": "video/mpeg",
    "1.2.840.10008.1.2.4.101": "video/mpeg",
    "1.2.840.10008.1.2.4.102": "video/mp4",
    "1.2.840.10008.1.2.4.103": "video/mp4",
    "1.2.840.10008.1.2.4.104": "video/mp4",
    "1.2.840.10008.1.2.4.105": "video/mp4",
    "1.2.840.10008.1.2.4.106": "video/mp4",
}


class NotAcceptable(Problem):
    """406: nothing the client accepts can be sent without transcoding (PS3.18 §8.7.5)."""

    status, title, slug = 406, "Not acceptable", "not-acceptable"


def is_native(transfer_syntax: str) -> bool:
    """Whether pixel data in this transfer syntax is uncompressed (not encapsulated)."""
    return transfer_syntax in _NATIVE or (
        transfer_syntax not in _BULK_MEDIA_TYPES and not UID(transfer_syntax).is_compressed
    )


def bulk_media_type(transfer_syntax: str) -> str:
    """The media type of a frame in ``transfer_syntax`` (octet-stream when native)."""
    return (
        OCTET_STREAM
        if is_native(transfer_syntax)
        else _BULK_MEDIA_TYPES.get(transfer_syntax, OCTET_STREAM)
    )


@dataclass(frozen=True)
class MediaRange:
    """One acceptable representation: ``type`` of the parts (the ``type`` parameter of
    ``multipart/related`` or the bare media type), its ``transfer_syntax`` parameter, ``q``."""

    type: str
    transfer_syntax: str | None = None
    q: float = 1.0

    def admits(self, media_type: str) -> bool:
        if self.type in ("*/*", "*"):
            return True
        major, _, minor = self.type.partition("/")
        want_major, _, _ = media_type.partition("/")
        return self.type == media_type or (minor == "*" and major == want_major)


def _split_params(text: str) -> list[str]:
    """Split on ``;`` outside double quotes."""
    parts, current, quoted = [], [], False
    for char in text:
        if char == '"':
            quoted = not quoted
        if char == ";" and not quoted:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _split_ranges(header: str) -> list[str]:
    """Split on ``,`` outside double quotes."""
    ranges, current, quoted = [], [], False
    for char in header:
        if char == '"':
            quoted = not quoted
        if char == "," and not quoted:
            ranges.append("".join(current))
            current = []
        else:
            current.append(char)
    ranges.append("".join(current))
    return [r.strip() for r in ranges if r.strip()]


def parse_accept(header: str | None) -> list[MediaRange]:
    """The media ranges of an ``Accept`` header, best first (``*/*`` when absent).

    ``multipart/related; type="application/dicom"; transfer-syntax=X`` becomes
    ``MediaRange("application/dicom", "X")``; a ``multipart/related`` without ``type``
    accepts any part type. Ranges with ``q=0`` are dropped.
    """
    if not header or not header.strip():
        return [MediaRange("*/*")]
    ranges: list[tuple[float, int, MediaRange]] = []
    for index, text in enumerate(_split_ranges(header)):
        media_type, *params = _split_params(text)
        media_type = media_type.lower()
        values: dict[str, str] = {}
        for param in params:
            name, _, value = param.partition("=")
            values[name.strip().lower()] = value.strip().strip('"')
        try:
            q = float(values.get("q", "1"))
        except ValueError:
            q = 1.0
        if q <= 0:
            continue
        part_type = media_type
        if media_type == "multipart/related":
            part_type = values.get("type", "*/*").lower()
        elif media_type.startswith("multipart/"):
            continue
        ranges.append((q, index, MediaRange(part_type, values.get("transfer-syntax"), q)))
    ranges.sort(key=lambda r: (-r[0], r[1]))
    return [r[2] for r in ranges]


@dataclass(frozen=True)
class Choice:
    """What to send: the parts' media type and the transfer syntax to declare."""

    media_type: str
    transfer_syntax: str

    @property
    def part_content_type(self) -> str:
        return f"{self.media_type}; transfer-syntax={self.transfer_syntax}"


def _ts_admits(requested: str | None, stored: str, *, default: str) -> bool:
    if requested is None:
        return stored == default
    return requested in (ANY_TRANSFER_SYNTAX, stored)


def negotiate_instance(accept: Iterable[MediaRange], stored_syntaxes: Iterable[str]) -> Choice:
    """Send instances as stored, byte for byte, if the client accepts every stored
    transfer syntax: ``transfer-syntax=*``, the stored UID, or no parameter when stored
    in the default Explicit VR Little Endian (PS3.18 §8.7.3.5.2). Readroom does not
    transcode: anything else is :class:`NotAcceptable`."""
    stored = sorted(set(stored_syntaxes)) or [EXPLICIT_VR_LITTLE_ENDIAN]
    for media in accept:
        if not media.admits(DICOM):
            continue
        wildcard_type = media.type in ("*/*", "*", "application/*")
        requested = media.transfer_syntax
        if wildcard_type and requested is None:
            requested = ANY_TRANSFER_SYNTAX
        if all(_ts_admits(requested, ts, default=EXPLICIT_VR_LITTLE_ENDIAN) for ts in stored):
            declared = stored[0] if len(stored) == 1 else ANY_TRANSFER_SYNTAX
            return Choice(DICOM, declared)
    raise NotAcceptable(
        "The instances are stored as "
        + ", ".join(stored)
        + "; ask for application/dicom with transfer-syntax=* or one of these "
        "(Readroom does not transcode).",
        field="Accept",
    )


def negotiate_frames(accept: Iterable[MediaRange], stored_syntax: str) -> Choice:
    """Frames as stored (PS3.18 §8.7.3.3): uncompressed ones as ``application/octet-stream``
    (little endian), compressed ones as the fragment bytes with their own media type
    (``image/jls`` …) or as ``application/octet-stream`` when the client allows any
    transfer syntax. Nothing is decoded or re-encoded: otherwise :class:`NotAcceptable`."""
    native = is_native(stored_syntax)
    natural = bulk_media_type(stored_syntax)
    declared = EXPLICIT_VR_LITTLE_ENDIAN if native else stored_syntax
    for media in accept:
        requested = media.transfer_syntax
        if media.admits(natural) and (requested in (None, ANY_TRANSFER_SYNTAX, declared)):
            return Choice(natural, declared)
        if (
            not native
            and media.admits(OCTET_STREAM)
            and requested in (ANY_TRANSFER_SYNTAX, declared)
        ):
            return Choice(OCTET_STREAM, declared)
    raise NotAcceptable(
        f"The frames are stored as {declared} ({natural}); ask for that media type or "
        "application/octet-stream with transfer-syntax=* (Readroom does not transcode).",
        field="Accept",
    )


@dataclass(frozen=True)
class Part:
    """One body part: its content type, an optional Content-Location, its bytes in chunks,
    and their total ``size`` when known in advance (for a ``Content-Length``)."""

    content_type: str
    chunks: Iterable[bytes]
    location: str | None = None
    size: int | None = None

    def head(self, boundary: str) -> bytes:
        text = f"--{boundary}\r\nContent-Type: {self.content_type}\r\n"
        if self.location:
            text += f"Content-Location: {self.location}\r\n"
        return (text + "\r\n").encode("ascii")


def new_boundary() -> str:
    return secrets.token_hex(16)


def multipart_content_type(
    part_type: str, boundary: str, transfer_syntax: str | None = None
) -> str:
    """The ``Content-Type`` of a multipart/related response (RFC 2387, PS3.18 §8.6.1.2)."""
    value = f'multipart/related; type="{part_type}"; boundary={boundary}'
    if transfer_syntax:
        value += f"; transfer-syntax={transfer_syntax}"
    return value


def _closing(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode("ascii")


def multipart_length(parts: Sequence[Part], boundary: str) -> int | None:
    """The exact length of :func:`multipart_stream` of ``parts``, if every size is known."""
    total = len(_closing(boundary))
    for part in parts:
        if part.size is None:
            return None
        total += len(part.head(boundary)) + part.size + 2
    return total


def multipart_stream(parts: Iterable[Part], boundary: str) -> Iterator[bytes]:
    """The multipart body, one part at a time, never whole in memory (RFC 2046 §5.1).

    Delimiters and headers ride with the next chunk of content, so a part of one chunk
    is one write (fewer hops between the event loop and the worker thread).
    """
    pending = b""
    for part in parts:
        pending += part.head(boundary)
        for chunk in part.chunks:
            if chunk:
                yield pending + chunk if pending else chunk
                pending = b""
        pending += b"\r\n"
    yield pending + _closing(boundary)
