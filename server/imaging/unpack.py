"""Turn a received upload into candidate files, safely.

A single file is its own candidate. A zip (a hospital CD) is checked as a whole
first — member count, declared total size, against ``settings.zip_max_*`` — so a
zip bomb is refused before anything is stored; then each member is extracted,
one at a time, to a temporary file, counting the bytes actually inflated. Unsafe
members (``../``, absolute paths, drive letters, symlinks), encrypted members and
members whose compression ratio is implausible are refused one by one; files that
are not DICOM (DICOMDIR, viewer programs, autorun files…) are skipped.
"""

from __future__ import annotations

import os
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from server.imaging.dicom_header import looks_like_dicom
from server.imaging.models import RefusalReason, UploadKind, Verdict
from server.imaging.verdicts import is_companion_file

__all__ = ["ArchiveRefused", "Candidate", "iter_candidates"]

_COPY_CHUNK = 1024 * 1024


class ArchiveRefused(Exception):
    """The whole archive is refused (nothing of it is stored); the message is for the patient."""


@dataclass
class Candidate:
    """One file of an upload: its bytes (in memory, or a path to them), or a verdict
    reached without them."""

    name: str
    path: Path | None = None
    verdict: Verdict | None = None
    reason: RefusalReason | None = None
    temporary: bool = False
    data: bytes | None = None

    @property
    def source(self) -> Path | bytes | None:
        """Where the bytes are: in memory, else the file."""
        return self.data if self.data is not None else self.path

    def discard(self) -> None:
        """Let go of the bytes (a temporary file is deleted)."""
        self.data = None
        if self.temporary and self.path is not None:
            self.path.unlink(missing_ok=True)


def iter_candidates(
    source: Path, *, kind: UploadKind, name: str, settings: Any, workdir: Path
) -> Iterator[Candidate]:
    """The candidates of an upload, in order. Raises :class:`ArchiveRefused` up front."""
    if kind is UploadKind.FILE:
        yield _single(source, name)
        return
    try:
        archive = zipfile.ZipFile(source)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        raise ArchiveRefused("The file is not a readable zip archive.") from error
    with archive:
        members = archive.infolist()
        _check_archive(members, settings)
        budget = [settings.zip_max_total_bytes]
        for info in members:
            if info.is_dir():
                continue
            yield _member(archive, info, settings=settings, workdir=workdir, budget=budget)


def _single(path: Path, name: str) -> Candidate:
    if looks_like_dicom(path):
        return Candidate(name, path)
    if is_companion_file(name):
        return Candidate(name, verdict=Verdict.SKIPPED, reason=_skip_reason(name))
    # Not DICOM by its preamble: the header reader gives the verdict (not DICOM).
    return Candidate(name, path)


def _skip_reason(name: str) -> RefusalReason:
    base = PurePosixPath(name.replace("\\", "/")).name.upper()
    return RefusalReason.DICOMDIR if base == "DICOMDIR" else RefusalReason.COMPANION


def _check_archive(members: list[zipfile.ZipInfo], settings: Any) -> None:
    if len(members) > settings.zip_max_members:
        raise ArchiveRefused(
            f"The archive holds {len(members)} files; at most {settings.zip_max_members} "
            "are accepted."
        )
    declared = sum(info.file_size for info in members)
    if declared > settings.zip_max_total_bytes:
        raise ArchiveRefused(
            "The archive unpacks to more than "
            f"{settings.zip_max_total_bytes // 1024**2} MB, more than is accepted."
        )


def unsafe_member_name(name: str) -> bool:
    """``../`` anywhere, an absolute path, a drive letter or a NUL byte."""
    normal = name.replace("\\", "/")
    parts = PurePosixPath(normal).parts
    return (
        normal.startswith("/")
        or (len(normal) > 1 and normal[1] == ":")
        or ".." in parts
        or "\x00" in normal
    )


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _member(
    archive: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    *,
    settings: Any,
    workdir: Path,
    budget: list[int],
) -> Candidate:
    name = info.filename
    if unsafe_member_name(name) or _is_symlink(info):
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.UNSAFE_PATH)
    if info.flag_bits & 0x1:
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.ENCRYPTED)
    if info.file_size > 1024**2 and info.file_size > settings.zip_max_ratio * max(
        info.compress_size, 1
    ):
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.TOO_LARGE)
    try:
        with archive.open(info) as member:
            head = member.read(132)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.UNREADABLE)
    if len(head) < 132 or head[128:132] != b"DICM":
        return Candidate(name, verdict=Verdict.SKIPPED, reason=_skip_reason(name))
    return _extract(archive, info, workdir=workdir, budget=budget)


def _extract(
    archive: zipfile.ZipFile, info: zipfile.ZipInfo, *, workdir: Path, budget: list[int]
) -> Candidate:
    """Copy one member to a temporary file, never past its declared size or the budget."""
    name = info.filename
    limit = min(info.file_size, budget[0])
    fd, tmp = tempfile.mkstemp(dir=workdir, prefix="member-", suffix=".dcm")
    path = Path(tmp)
    written = 0
    try:
        with os.fdopen(fd, "wb") as out, archive.open(info) as member:
            while chunk := member.read(_COPY_CHUNK):
                written += len(chunk)
                if written > limit:
                    raise _Oversize
                out.write(chunk)
    except _Oversize:
        path.unlink(missing_ok=True)
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.TOO_LARGE)
    except (zipfile.BadZipFile, OSError, EOFError, RuntimeError, ValueError, NotImplementedError):
        path.unlink(missing_ok=True)
        return Candidate(name, verdict=Verdict.REFUSED, reason=RefusalReason.UNREADABLE)
    budget[0] -= written
    return Candidate(name, path, temporary=True)


class _Oversize(Exception):
    pass
