"""Read what intake needs from a DICOM file's header, never its pixels.

:func:`read_header` opens a PS3.10 file (128-byte preamble, ``DICM``, File Meta
Information, then the data set in its transfer syntax). A plain File Meta
Information is walked here and the data set read straight after it: from its bytes
(:mod:`server.imaging.header_walk`) when it is plain Explicit VR Little Endian, else
by pydicom's ``read_dataset``; anything else goes through pydicom's ``dcmread``. All
of them stop before the Pixel Data and give the same result (see the equivalence
tests). It returns a :class:`Header`: the identifying attributes, clipped to what the
index columns hold, and the DICOM JSON model of the header without bulk data
(:mod:`server.imaging.json_model`). Anything unreadable raises :class:`HeaderError`
with a :class:`~server.imaging.models.RefusalReason`; no other exception leaves this
module, whatever the bytes (see the fuzz test).
"""

from __future__ import annotations

import io
import os
import re
import struct
import warnings
import zlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, BinaryIO

from pydicom import dcmread
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.filereader import _read_file_meta_info, read_dataset, read_preamble
from pydicom.uid import PrivateTransferSyntaxes
from pydicom.valuerep import EXPLICIT_VR_LENGTH_32, VR

from server.imaging.header_walk import walk
from server.imaging.json_model import PN_GROUPS, json_model, safe_text
from server.imaging.models import RefusalReason

__all__ = [
    "DICOMDIR_SOP_CLASS",
    "Header",
    "HeaderError",
    "looks_like_dicom",
    "read_header",
]

#: Media Storage Directory Storage (PS3.10 §8.6): the DICOMDIR of a CD.
DICOMDIR_SOP_CLASS = "1.2.840.10008.1.3.10"
DEFLATED_TRANSFER_SYNTAX = "1.2.840.10008.1.2.1.99"
#: Values longer than this are left out of the parse (read lazily, never loaded).
DEFER_SIZE = 64 * 1024
#: A deflated data set (PS3.5 §A.5) may inflate to at most this much header + pixels.
DEFLATE_MAX_BYTES = 64 * 1024**2
#: Of a file on disk, this much is read for the walk from bytes; a header running past
#: it is read by pydicom.
WALK_HEAD = 256 * 1024
#: Of a file on disk, this much is read for its File Meta Information (a few hundred
#: bytes in practice); a longer one is read by pydicom.
META_HEAD = 16 * 1024
_UID = re.compile(r"^[0-9]+(\.[0-9]+)*$")


class HeaderError(Exception):
    """The file cannot be taken in; ``reason`` says why (no patient data in the message)."""

    def __init__(self, reason: RefusalReason, detail: str = "") -> None:
        super().__init__(detail or reason.value)
        self.reason = reason


@dataclass(frozen=True)
class Header:
    """The attributes intake indexes and checks, clipped to their VR's maximum length."""

    sop_class_uid: str
    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    transfer_syntax_uid: str
    modality: str
    study_date: date | None
    study_time: str | None
    accession_number: str | None
    study_description: str | None
    study_id: str | None
    patient_name: str | None
    patient_id: str | None
    patient_birth_date: date | None
    patient_sex: str | None
    referring_physician_name: str | None
    series_number: int | None
    series_description: str | None
    body_part_examined: str | None
    series_date: date | None
    series_time: str | None
    instance_number: int | None
    number_of_frames: int
    rows: int | None
    columns: int | None
    metadata: dict[str, Any]


def looks_like_dicom(path: Path) -> bool:
    """True if the file carries the PS3.10 §7.1 preamble and ``DICM`` prefix."""
    try:
        with path.open("rb") as handle:
            head = handle.read(132)
    except OSError:
        return False
    return _has_prefix(head)


def _has_prefix(head: bytes | memoryview) -> bool:
    return len(head) >= 132 and head[128:132] == b"DICM"


#: What a header is read from: a file, or the bytes of one already in memory.
Source = Path | bytes


def _open(source: Source) -> BinaryIO:
    return source.open("rb") if isinstance(source, Path) else io.BytesIO(source)


def read_header(source: Source) -> Header:
    """Parse the header of a file (or of its bytes); :class:`HeaderError` when it is not
    a readable DICOM file."""
    if isinstance(source, Path):
        if not looks_like_dicom(source):
            raise HeaderError(RefusalReason.NOT_DICOM)
    elif not _has_prefix(memoryview(source)[:132]):
        raise HeaderError(RefusalReason.NOT_DICOM)
    with warnings.catch_warnings():  # pydicom warnings may quote values (patient data)
        warnings.simplefilter("ignore")
        return _read(source)


def _read(source: Source) -> Header:
    meta = _simple_meta(source)
    if meta is not None:
        return _parse_data_set(source, meta)
    try:
        with _open(source) as handle:
            read_preamble(handle, False)
            file_meta = _read_file_meta_info(handle)
            data_set_start = handle.tell()
        transfer_syntax = str(file_meta.get("TransferSyntaxUID", "") or "")
        media_sop_class = str(file_meta.get("MediaStorageSOPClassUID", "") or "")
    except Exception as error:  # pydicom raises many types on bad bytes
        raise HeaderError(RefusalReason.UNREADABLE, type(error).__name__) from None
    if media_sop_class == DICOMDIR_SOP_CLASS:
        raise HeaderError(RefusalReason.DICOMDIR)
    if transfer_syntax == DEFLATED_TRANSFER_SYNTAX:
        _check_inflated(source, data_set_start)
    return _parse(source)


@dataclass(frozen=True)
class _Meta:
    """What the File Meta Information says of the data set after it."""

    transfer_syntax: str
    media_sop_class: str
    data_set_start: int


_SPECIAL_UIDS = (DEFLATED_TRANSFER_SYNTAX.encode(), DICOMDIR_SOP_CLASS.encode())
_META_MAX_ELEMENTS = 64
_GROUP_LENGTH, _MEDIA_SOP_CLASS, _TRANSFER_SYNTAX = 0x0000, 0x0002, 0x0010
#: (implicit VR, little endian) of a data set, by transfer syntax, as pydicom reads it;
#: any other transfer syntax but these is explicit VR little endian.
_ENCODINGS = {
    "1.2.840.10008.1.2": (True, True),
    "1.2.840.10008.1.2.2": (False, False),
}


#: A UID as the meta must give it for the quick path: digits and dots only.
_PLAIN_UID = re.compile(r"[0-9.]*")


def _simple_meta(source: Source) -> _Meta | None:
    """The File Meta Information (PS3.10 §7.1: explicit VR little endian, group 0002,
    read as pydicom reads it — until the group changes), when it is plain: it names a
    transfer syntax that is neither deflated nor private, and no DICOMDIR, so that the
    data set can be read at once. ``None`` when in doubt: pydicom then reads it all (so
    also for a file whose meta runs past its first :data:`META_HEAD` bytes)."""
    if isinstance(source, Path):
        with source.open("rb") as handle:
            buffer = handle.read(META_HEAD)
    else:
        buffer = source
    values: dict[int, str] = {}
    pos, end = 132, len(buffer)
    for _ in range(_META_MAX_ELEMENTS):
        if pos + 8 > end:
            return None
        group, element, vr = _META_ELEMENT.unpack_from(buffer, pos)
        if group != 2:
            transfer_syntax = values.get(_TRANSFER_SYNTAX)
            if not transfer_syntax or transfer_syntax in PrivateTransferSyntaxes:
                return None
            return _Meta(transfer_syntax, values.get(_MEDIA_SOP_CLASS, ""), pos)
        if vr not in _VRS:  # pydicom would guess
            return None
        if vr in _LONG_VRS:
            if pos + 12 > end:
                return None
            (length,) = _U32.unpack_from(buffer, pos + 8)
            pos += 12
        else:
            (length,) = _U16.unpack_from(buffer, pos + 6)
            pos += 8
        if length > 64 * 1024 or pos + length > end:
            return None
        value = buffer[pos : pos + length]
        pos += length
        if any(uid in value for uid in _SPECIAL_UIDS):
            return None
        if element == _GROUP_LENGTH and (vr != b"UL" or length != 4):
            return None  # pydicom reads it, and fails
        if element in (_MEDIA_SOP_CLASS, _TRANSFER_SYNTAX):
            if vr != b"UI" or not value.isascii():
                return None  # pydicom reads another VR's value, not a UID
            uid = value.decode("ascii").rstrip("\x00").strip()  # as pydicom's UID
            if not _PLAIN_UID.fullmatch(uid):
                return None
            values[element] = uid
    return None


_META_ELEMENT = struct.Struct("<HH2s")
_U16, _U32 = struct.Struct("<H"), struct.Struct("<I")


def _at_pixel_data(tag: int, _vr: str | None, _length: int) -> bool:
    """Where pydicom's ``stop_before_pixels`` stops."""
    return tag in _PIXEL_DATA_TAGS


_PIXEL_DATA_TAGS = frozenset({0x7FE00010, 0x7FE00009, 0x7FE00008})


def _parse_data_set(source: Source, meta: _Meta) -> Header:
    """The data set after a plain File Meta Information, read as ``dcmread`` would read
    it (without reading the meta a second time)."""
    implicit, little = _ENCODINGS.get(meta.transfer_syntax, (False, True))
    try:
        with _open(source) as handle:
            handle.seek(meta.data_set_start)
            if handle.read(2) == b"\x00\x00":  # a command set: pydicom's own way
                return _parse(source)
            if meta.transfer_syntax not in _ENCODINGS:  # explicit VR little endian
                header = _walked(source, handle, meta)
                if header is not None:
                    return header
            handle.seek(meta.data_set_start)
            data_set = read_dataset(
                handle, implicit, little, stop_when=_at_pixel_data, defer_size=DEFER_SIZE
            )
            # As dcmread returns it: a deferred value can then be read from the source.
            ds = FileDataset(handle, data_set, None, FileMetaDataset(), implicit, little)
            return _checked(ds, handle, meta.transfer_syntax, meta.media_sop_class)
    except HeaderError:
        raise
    except Exception as error:
        raise HeaderError(RefusalReason.UNREADABLE, type(error).__name__) from None


def _walked(source: Source, handle: BinaryIO, meta: _Meta) -> Header | None:
    """The header read from the file's bytes (:func:`~server.imaging.header_walk.walk`),
    checked as :func:`_checked` checks pydicom's; ``None`` when the walk gave up."""
    if isinstance(source, bytes):
        walked = walk(source, meta.data_set_start, whole=True)
    else:
        handle.seek(0)
        head = handle.read(WALK_HEAD)
        walked = walk(head, meta.data_set_start, whole=len(head) < WALK_HEAD)
    if walked is None:
        return None
    complete = None  # as _checked judges it: no Pixel Data (or another kind of pixels)
    if walked.pixel_data_at is not None:
        handle.seek(walked.pixel_data_at)
        complete = _pixel_data_complete(handle, meta.transfer_syntax)
    if complete is None:
        attrs = _Attributes(walked.model)
        if not (attrs.uid("00080018") and attrs.uid("0020000D")):
            raise HeaderError(RefusalReason.UNREADABLE, "ends early")
    elif not complete:
        raise HeaderError(RefusalReason.UNREADABLE, "pixel data cut short")
    return _header_of_model(walked.model, meta.transfer_syntax, meta.media_sop_class)


def _parse(source: Source) -> Header:
    try:
        with _open(source) as handle:
            ds = dcmread(handle, stop_before_pixels=True, defer_size=DEFER_SIZE)
            meta = ds.file_meta
            transfer_syntax = str(meta.get("TransferSyntaxUID", "") or "")
            media_sop_class = str(meta.get("MediaStorageSOPClassUID", "") or "")
            return _checked(ds, handle, transfer_syntax, media_sop_class)
    except HeaderError:
        raise
    except Exception as error:
        raise HeaderError(RefusalReason.UNREADABLE, type(error).__name__) from None


def _checked(ds: Dataset, handle: BinaryIO, transfer_syntax: str, media_sop_class: str) -> Header:
    """The header of a data set read up to its pixels (``handle`` there), if whole."""
    complete = _pixel_data_complete(handle, transfer_syntax)
    if complete is None and not _has_uids(ds):
        raise HeaderError(RefusalReason.UNREADABLE, "ends early")
    if complete is False:
        raise HeaderError(RefusalReason.UNREADABLE, "pixel data cut short")
    return _header_of(ds, transfer_syntax, media_sop_class)


_PIXEL_TAGS = {b"\xe0\x7f\x10\x00", b"\x7f\xe0\x00\x10"}
_VRS = frozenset(vr.value.encode() for vr in VR if len(vr.value) == 2)
_LONG_VRS = frozenset(vr.value.encode() for vr in EXPLICIT_VR_LENGTH_32)
_SEQUENCE_END = b"\xfe\xff\xdd\xe0\x00\x00\x00\x00"


def _pixel_data_complete(handle: BinaryIO, transfer_syntax: str) -> bool | None:
    """Is the Pixel Data element where pydicom stopped whole? ``None`` when the data set
    ended without one. Checks the declared length against the file (native pixels) or
    looks for the sequence delimiter at the end (encapsulated, PS3.5 §A.4) — a
    truncated upload is caught without decoding a pixel."""
    start = handle.tell()
    size = handle.seek(0, os.SEEK_END)
    handle.seek(start)
    head = handle.read(12)
    if len(head) < 8 or head[:4] not in _PIXEL_TAGS:
        return None
    little = head[:4] == b"\xe0\x7f\x10\x00"
    order = "<" if little else ">"
    if transfer_syntax == "1.2.840.10008.1.2":  # implicit VR: tag, 4-byte length
        (length,), header_size = struct.unpack(order + "I", head[4:8]), 8
    elif head[4:6] in _LONG_VRS:
        if len(head) < 12:
            return False
        (length,), header_size = struct.unpack(order + "I", head[8:12]), 12
    else:
        (length,), header_size = struct.unpack(order + "H", head[6:8]), 8
    if length == 0xFFFFFFFF:
        handle.seek(max(start, size - 4096))
        return _SEQUENCE_END in handle.read()
    return start + header_size + length <= size


def _has_uids(ds: Dataset) -> bool:
    return all(_uid(ds.get(k)) for k in ("SOPInstanceUID", "StudyInstanceUID"))


def _check_inflated(source: Source, start: int) -> None:
    """Refuse a deflated data set (PS3.5 §A.5) that is cut short, or that inflates past
    :data:`DEFLATE_MAX_BYTES` (a deflate bomb: pydicom inflates it whole), counting in
    chunks so the check itself stays small."""
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    total = 0
    with _open(source) as handle:
        handle.seek(start)
        while chunk := handle.read(256 * 1024):
            try:
                total += len(inflater.decompress(chunk, DEFLATE_MAX_BYTES))
                while inflater.unconsumed_tail and total <= DEFLATE_MAX_BYTES:
                    total += len(inflater.decompress(inflater.unconsumed_tail, DEFLATE_MAX_BYTES))
            except zlib.error:
                raise HeaderError(RefusalReason.UNREADABLE, "bad deflate stream") from None
            if total > DEFLATE_MAX_BYTES:
                raise HeaderError(RefusalReason.TOO_LARGE, "deflated data set too large")
    if not inflater.eof:
        raise HeaderError(RefusalReason.UNREADABLE, "deflate stream cut short")


def _header_of(ds: Dataset, transfer_syntax: str, media_sop_class: str) -> Header:
    # The JSON model first: it reads raw elements faster than pydicom converts them,
    # and the indexed attributes are then taken from it.
    return _header_of_model(json_model(ds), transfer_syntax, media_sop_class)


def _header_of_model(
    metadata: dict[str, Any], transfer_syntax: str, media_sop_class: str
) -> Header:
    transfer_syntax = _uid(transfer_syntax)
    attrs = _Attributes(metadata)
    sop_class = attrs.uid("00080016") or _uid(media_sop_class)
    if sop_class == DICOMDIR_SOP_CLASS:
        raise HeaderError(RefusalReason.DICOMDIR)
    sop_instance = attrs.uid("00080018")
    study = attrs.uid("0020000D")
    series = attrs.uid("0020000E")
    if not (transfer_syntax and sop_class and sop_instance and study and series):
        raise HeaderError(RefusalReason.MISSING_UID)
    return Header(
        sop_class_uid=sop_class,
        sop_instance_uid=sop_instance,
        study_instance_uid=study,
        series_instance_uid=series,
        transfer_syntax_uid=transfer_syntax,
        modality=(attrs.text("00080060", 16) or "").upper(),
        study_date=attrs.day("00080020"),
        study_time=attrs.text("00080030", 16),
        accession_number=attrs.text("00080050", 16),
        study_description=attrs.text("00081030", 64),
        study_id=attrs.text("00200010", 16),
        # Person names in pydicom's own form (component groups joined by "=").
        patient_name=attrs.person_name("00100010", 324),
        patient_id=attrs.text("00100020", 64),
        patient_birth_date=attrs.day("00100030"),
        patient_sex=attrs.text("00100040", 16),
        referring_physician_name=attrs.person_name("00080090", 324),
        series_number=attrs.number("00200011"),
        series_description=attrs.text("0008103E", 64),
        body_part_examined=attrs.text("00180015", 16),
        series_date=attrs.day("00080021"),
        series_time=attrs.text("00080031", 16),
        instance_number=attrs.number("00200013"),
        number_of_frames=max(1, attrs.number("00280008") or 1),
        rows=attrs.number("00280010"),
        columns=attrs.number("00280011"),
        metadata=metadata,
    )


class _Attributes:
    """Top-level values of a DICOM JSON model, read as the index columns want them."""

    def __init__(self, model: dict[str, Any]) -> None:
        self._model = model

    def _values(self, key: str) -> list[Any]:
        element = self._model.get(key)
        return (element.get("Value") or []) if element else []

    def uid(self, key: str) -> str:
        values = self._values(key)
        return _uid(values[0]) if len(values) == 1 else ""

    def text(self, key: str, limit: int) -> str | None:
        values = self._values(key)
        text = safe_text("\\".join(str(v) for v in values)).strip()
        return text[:limit] or None

    def person_name(self, key: str, limit: int) -> str | None:
        names = (
            "=".join(name.get(g, "") for g in PN_GROUPS if g in name) for name in self._values(key)
        )
        text = "\\".join(names).strip()
        return text[:limit] or None

    def day(self, key: str) -> date | None:
        return _parse_date(self.text(key, 32))

    def number(self, key: str) -> int | None:
        values = self._values(key)
        return _as_int(values[0]) if len(values) == 1 else None


def _uid(value: Any) -> str:
    text = safe_text(str(value or "")).strip().rstrip("\x00")
    return text if len(text) <= 64 and _UID.match(text) else ""


_DATE = re.compile(r"\d{8}")


def _parse_date(text: str | None) -> date | None:
    if not text or not _DATE.fullmatch(text):
        return None
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        number = int(float(str(value)))
    except (TypeError, ValueError, OverflowError):
        return None
    return number if -(2**31) < number < 2**31 else None
