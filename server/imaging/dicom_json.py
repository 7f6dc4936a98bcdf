"""The DICOM JSON model (PS3.18 Annex F.2): tags, keywords, projection, bulk data.

Pure functions over the JSON form of a data set — ``{"0020000D": {"vr": "UI",
"Value": ["1.2.3"]}, ...}`` — as stored in ``Instance.metadata_json``. Nothing
here opens a blob or a database session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword

__all__ = [
    "BINARY_VRS",
    "BULK_DATA_TAGS",
    "INLINE_BINARY_LIMIT",
    "DicomJson",
    "common_attributes",
    "element",
    "first_value",
    "keyword_of",
    "make_element",
    "project",
    "strip_bulk_data",
    "tag_of",
    "values",
    "vr_of",
]

#: One data set in the DICOM JSON model: tag (8 upper-case hex digits) -> element.
DicomJson = dict[str, dict[str, Any]]

#: Pixel data elements: always bulk data, never in a metadata response (PS3.18 §8.6.4).
BULK_DATA_TAGS = frozenset({"7FE00010", "7FE00008", "7FE00009"})

#: VRs of binary values: without ``InlineBinary`` they are bulk data left out (PS3.18 §F.2.6).
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})

#: Base64 characters of ``InlineBinary`` above which a value counts as bulk data (~1 KiB).
INLINE_BINARY_LIMIT = 1400


def tag_of(name: str) -> str:
    """``"PatientName"``, ``"00100010"`` or ``"(0010,0010)"`` -> ``"00100010"``.

    Raises :class:`ValueError` naming the attribute if it is neither a keyword of the
    data dictionary (PS3.6) nor eight hexadecimal digits.
    """
    text = name.strip()
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1].replace(",", "")
    if len(text) == 8 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    tag = tag_for_keyword(text) if text.isidentifier() else None
    if tag is None:
        raise ValueError(f"{name!r} is not a DICOM attribute keyword or tag")
    return f"{tag:08X}"


def keyword_of(tag: str) -> str:
    """The keyword of a tag, or the tag itself for private and unknown tags."""
    return keyword_for_tag(int(tag, 16)) or tag


def vr_of(tag: str) -> str | None:
    """The VR the data dictionary gives a tag (``None`` for private or unknown tags)."""
    try:
        return str(dictionary_VR(int(tag, 16)))
    except KeyError:
        return None


def element(data: Mapping[str, Any], tag: str) -> dict[str, Any] | None:
    """The element of ``tag`` in ``data``, or ``None`` when absent."""
    found = data.get(tag)
    return found if isinstance(found, dict) else None


def values(data: Mapping[str, Any], tag: str) -> list[Any]:
    """The values of an element (``[]`` when absent or empty)."""
    found = element(data, tag)
    if found is None:
        return []
    return list(found.get("Value") or [])


def first_value(data: Mapping[str, Any], tag: str) -> Any:
    """The first value of an element, or ``None``."""
    found = values(data, tag)
    return found[0] if found else None


def make_element(tag: str, value: Any, *, vr: str | None = None) -> dict[str, Any]:
    """A JSON element with the dictionary VR of ``tag``; ``None`` or ``[]`` gives no Value."""
    vr = vr or vr_of(tag) or "UN"
    if value is None or value == "" or value == []:
        return {"vr": vr}
    items = value if isinstance(value, list) else [value]
    if vr == "PN":
        items = [v if isinstance(v, dict) else {"Alphabetic": str(v)} for v in items]
    return {"vr": vr, "Value": items}


def project(data: Mapping[str, Any], tags: Iterable[str]) -> DicomJson:
    """Only the given tags of ``data`` (absent ones left out), sorted by tag (PS3.18 F.2.1)."""
    wanted = set(tags)
    return {tag: data[tag] for tag in sorted(wanted) if tag in data}


def strip_bulk_data(data: Mapping[str, Any], *, limit: int = INLINE_BINARY_LIMIT) -> DicomJson:
    """``data`` without bulk data, in nested sequences too: pixel data, ``BulkDataURI``
    values, binary elements the index kept without a value and inline binaries over
    ``limit`` characters are omitted (PS3.18 §10.4.1.2: no bulk data inline)."""
    out: DicomJson = {}
    for tag, elem in data.items():
        if tag in BULK_DATA_TAGS or not isinstance(elem, dict) or "BulkDataURI" in elem:
            continue
        inline = elem.get("InlineBinary")
        if isinstance(inline, str) and len(inline) > limit:
            continue
        if elem.get("vr") in BINARY_VRS and inline is None:
            continue  # a bulk value the index left out: not an empty one
        if elem.get("vr") == "SQ" and elem.get("Value"):
            items = [strip_bulk_data(item, limit=limit) for item in elem["Value"]]
            out[tag] = {**elem, "Value": items}
        else:
            out[tag] = elem
    return out


def common_attributes(records: Iterable[Mapping[str, Any]]) -> DicomJson:
    """The elements equal in every record: the attributes of a series or a study when
    ``records`` are its instances (what ``includefield=all`` returns above instance level)."""
    iterator = iter(records)
    first = next(iterator, None)
    if first is None:
        return {}
    common: DicomJson = dict(first)
    for record in iterator:
        for tag in [t for t, elem in common.items() if record.get(t) != elem]:
            del common[tag]
        if not common:
            break
    return dict(sorted(common.items()))
