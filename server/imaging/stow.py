"""STOW-RS pieces (PS3.18 §10.5): receive a multipart/related body part by part, answer.

The request body is ``multipart/related; type="application/dicom"; boundary=…``
(PS3.18 §8.6.1.2, RFC 2387); each part is one PS3.10 instance. Parts are parsed
with python-multipart's streaming parser and handed on one by one as they complete
(in memory, or in a temporary file when large), so a large body is never held whole.
The response (PS3.18 §10.5.3, Table 10.5.3-1) is a DICOM JSON data set with Retrieve
URL, Referenced SOP Sequence (stored, including idempotent repeats) and Failed SOP
Sequence with a Failure Reason from the Storage Service statuses (PS3.4 Table B.2-1,
PS3.7 C.4).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Any, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from server.imaging.judging import FileOutcome
from server.imaging.models import RefusalReason, Verdict
from server.imaging.unpack import Candidate
from server.problems import BadRequest, PayloadTooLarge, UnsupportedMediaType

__all__ = [
    "MEMORY_PART_MAX",
    "FailureReason",
    "failure_reason",
    "parse_content_type",
    "receive_parts",
    "response_body",
    "response_status",
]

MAX_PARTS = 20_000
_MAX_PART_HEADERS = 16


class FailureReason(IntEnum):
    """Failure Reason (0008,1197) values (PS3.4 Table B.2-1; PS3.7 Annex C)."""

    PROCESSING_FAILURE = 0x0110
    DUPLICATE_SOP_INSTANCE = 0x0111
    SOP_CLASS_NOT_SUPPORTED = 0x0122
    NOT_AUTHORIZED = 0x0124
    OUT_OF_RESOURCES = 0xA700
    DATA_SET_DOES_NOT_MATCH = 0xA900
    CANNOT_UNDERSTAND = 0xC000


_REASONS: dict[RefusalReason, FailureReason] = {
    RefusalReason.NOT_DICOM: FailureReason.CANNOT_UNDERSTAND,
    RefusalReason.UNREADABLE: FailureReason.CANNOT_UNDERSTAND,
    RefusalReason.MISSING_UID: FailureReason.CANNOT_UNDERSTAND,
    RefusalReason.SOP_CLASS: FailureReason.SOP_CLASS_NOT_SUPPORTED,
    RefusalReason.MODALITY: FailureReason.SOP_CLASS_NOT_SUPPORTED,
    RefusalReason.DICOMDIR: FailureReason.SOP_CLASS_NOT_SUPPORTED,
    RefusalReason.COMPANION: FailureReason.CANNOT_UNDERSTAND,
    RefusalReason.TOO_OLD: FailureReason.NOT_AUTHORIZED,
    RefusalReason.STUDY_DATE: FailureReason.NOT_AUTHORIZED,
    RefusalReason.DIFFERENT_PATIENT: FailureReason.NOT_AUTHORIZED,
    RefusalReason.CASE_CLOSED: FailureReason.NOT_AUTHORIZED,
    RefusalReason.CONFLICT: FailureReason.DUPLICATE_SOP_INSTANCE,
    RefusalReason.STUDY_MISMATCH: FailureReason.DATA_SET_DOES_NOT_MATCH,
    RefusalReason.TOO_LARGE: FailureReason.OUT_OF_RESOURCES,
    RefusalReason.STORAGE: FailureReason.OUT_OF_RESOURCES,
}


def failure_reason(reason: RefusalReason | None) -> FailureReason:
    return (
        _REASONS.get(reason, FailureReason.PROCESSING_FAILURE)
        if reason
        else (FailureReason.PROCESSING_FAILURE)
    )


def parse_content_type(value: str | None) -> bytes:
    """The boundary of a ``multipart/related; type="application/dicom"`` body.

    415 for any other media type (PS3.18 §10.5.1.1: this server accepts the DICOM
    media type only, not the metadata + bulk data form); 400 when the boundary is missing.
    """
    media, params = parse_options_header(value or "")
    if media.decode("latin-1").lower() != "multipart/related":
        raise UnsupportedMediaType(
            'STOW-RS needs Content-Type: multipart/related; type="application/dicom".',
            field="Content-Type",
        )
    part_type = params.get(b"type", b"application/dicom").decode("latin-1").lower()
    if part_type != "application/dicom":
        raise UnsupportedMediaType(
            f'Only type="application/dicom" is accepted, not {part_type!r}.', field="Content-Type"
        )
    boundary = params.get(b"boundary")
    if not boundary or len(boundary) > 200:
        raise BadRequest("The multipart Content-Type has no boundary.", field="Content-Type")
    return boundary


#: A part up to this size is kept in memory; a larger one goes to a temporary file.
MEMORY_PART_MAX = 8 * 1024 * 1024


@dataclass
class _Part:
    """A part being received: its headers, and its bytes so far (in memory, or a file)."""

    index: int
    workdir: Path
    headers: dict[str, str] = field(default_factory=dict)
    #: Views into the body's chunks: the part's bytes are copied once, when it is whole.
    chunks: list[memoryview] = field(default_factory=list)
    size: int = 0
    path: Path | None = None
    handle: BinaryIO | None = None

    def write(self, data: memoryview) -> None:
        self.size += len(data)
        if self.handle is None and self.size <= MEMORY_PART_MAX:
            self.chunks.append(data)
            return
        if self.handle is None:
            fd, name = tempfile.mkstemp(dir=self.workdir, prefix="part-", suffix=".dcm")
            self.path, self.handle = Path(name), os.fdopen(fd, "wb")
            self.handle.writelines(self.chunks)
            self.chunks = []
        self.handle.write(data)

    def candidate(self) -> Candidate:
        name = f"part {self.index}"
        media = self.headers.get("content-type", "application/dicom").split(";")[0].strip()
        if media.lower() != "application/dicom":
            self.discard()
            return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.NOT_DICOM)
        if self.handle is not None:
            self.handle.close()
            return Candidate(name, self.path, temporary=True)
        data, self.chunks = b"".join(self.chunks), []
        return Candidate(name, data=data)

    def discard(self) -> None:
        self.chunks = []
        if self.handle is not None:
            self.handle.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


async def receive_parts(
    stream: AsyncIterator[bytes],
    *,
    boundary: bytes,
    workdir: Path,
    max_bytes: int,
    on_part: Callable[[Candidate], Awaitable[None]],
) -> int:
    """Read the body, handing each part to ``on_part`` as soon as it is complete (a
    candidate in memory, or a temporary file in ``workdir`` past
    :data:`MEMORY_PART_MAX`); the number of parts. 400 if the multipart body is
    malformed or holds no part, 413 past ``max_bytes``. A part not typed
    ``application/dicom`` becomes a refusal."""
    state: dict[str, Any] = {"part": None, "field": b"", "value": b"", "ended": False}
    done: list[Candidate] = []
    count = total = 0

    def on_part_begin() -> None:
        nonlocal count
        if count >= MAX_PARTS:
            raise BadRequest(f"At most {MAX_PARTS} instances per request.")
        count += 1
        state["part"] = _Part(index=count, workdir=workdir)

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["field"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["value"] += data[start:end]

    def on_header_end() -> None:
        part: _Part = state["part"]
        if len(part.headers) < _MAX_PART_HEADERS:
            key = state["field"].decode("latin-1").strip().lower()
            part.headers[key] = state["value"].decode("latin-1").strip()
        state["field"], state["value"] = b"", b""

    def on_part_data(data: bytes, start: int, end: int) -> None:
        state["part"].write(memoryview(data)[start:end])

    def on_part_end() -> None:
        done.append(state["part"].candidate())
        state["part"] = None

    def on_end() -> None:
        state["ended"] = True

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_part_data": on_part_data,
            "on_part_end": on_part_end,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_end": on_end,
        },
        max_header_count=_MAX_PART_HEADERS,
    )
    try:
        async for chunk in stream:
            total += len(chunk)
            if total > max_bytes:
                raise PayloadTooLarge(
                    f"The request is larger than {max_bytes // 1024**2} MB.", field="body"
                )
            parser.write(chunk)
            while done:
                await on_part(done.pop(0))
        parser.finalize()
        while done:
            await on_part(done.pop(0))
    except MultipartParseError:
        raise BadRequest("The multipart body is malformed.", field="body") from None
    finally:
        for candidate in done:
            candidate.discard()
        if state["part"] is not None:
            state["part"].discard()
    if not state["ended"]:
        raise BadRequest("The multipart body is incomplete (no closing boundary).", field="body")
    if not count:
        raise BadRequest("The request holds no DICOM instances.", field="body")
    return count


def response_status(outcomes: list[FileOutcome]) -> int:
    """200 all stored (repeats included), 202 some failed, 409 none stored (PS3.18 §10.5.3)."""
    ok = sum(o.verdict in (Verdict.STORED, Verdict.DUPLICATE) for o in outcomes)
    if ok == len(outcomes):
        return 200
    return 202 if ok else 409


def _ui(value: str | None) -> dict[str, Any]:
    return {"vr": "UI", "Value": [value]} if value else {"vr": "UI"}


def _ur(value: str) -> dict[str, Any]:
    return {"vr": "UR", "Value": [value]}


def response_body(outcomes: list[FileOutcome], *, base_url: str) -> dict[str, Any]:
    """The Store Instances response module (PS3.18 Table 10.5.3-1) in DICOM JSON (F.2)."""
    referenced: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    studies: set[str] = set()
    for outcome in outcomes:
        item = {
            "00081150": _ui(outcome.sop_class_uid),
            "00081155": _ui(outcome.sop_instance_uid),
        }
        if outcome.verdict in (Verdict.STORED, Verdict.DUPLICATE):
            assert outcome.study_instance_uid is not None
            studies.add(outcome.study_instance_uid)
            item["00081190"] = _ur(
                f"{base_url}/dicomweb/studies/{outcome.study_instance_uid}"
                f"/series/{outcome.series_instance_uid}/instances/{outcome.sop_instance_uid}"
            )
            referenced.append(item)
        else:
            item["00081197"] = {"vr": "US", "Value": [int(failure_reason(outcome.reason))]}
            failed.append(item)
    body: dict[str, Any] = {}
    if len(studies) == 1:
        body["00081190"] = _ur(f"{base_url}/dicomweb/studies/{next(iter(studies))}")
    if failed:
        body["00081198"] = {"vr": "SQ", "Value": failed}
    if referenced:
        body["00081199"] = {"vr": "SQ", "Value": referenced}
    return body
