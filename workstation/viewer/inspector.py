"""The tag inspector's rows: every element of a header as text, pixel data skipped."""

from __future__ import annotations

from dataclasses import dataclass

from pydicom.dataset import Dataset

__all__ = ["BULK_TAGS", "TagRow", "tag_rows"]

#: Bulk data never shown: Pixel Data, Float/Double Float Pixel Data, overlays' data.
BULK_TAGS = frozenset({0x7FE00010, 0x7FE00008, 0x7FE00009})


@dataclass(frozen=True)
class TagRow:
    """One line of the inspector: ``(0010,0010) PatientName PN SYNTHETIC^ALEX``."""

    tag: str
    keyword: str
    vr: str
    value: str
    depth: int = 0


def _text(value: object, limit: int) -> str:
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    if isinstance(value, list | tuple) or type(value).__name__ == "MultiValue":
        text = "\\".join(str(v) for v in value)  # type: ignore[union-attr]
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def tag_rows(ds: Dataset, *, limit: int = 80, depth: int = 0) -> list[TagRow]:
    """List (tag, keyword, VR, value as text) for ``ds``, recursing into sequences.

    File meta elements come first when present. Values longer than ``limit``
    characters are cut with an ellipsis; bulk data shows as a byte count.
    """
    rows: list[TagRow] = []
    if depth == 0 and getattr(ds, "file_meta", None):
        rows += tag_rows(ds.file_meta, limit=limit, depth=0)
    for elem in ds:
        overlay_data = (elem.tag.group & 0xFF00) == 0x6000 and elem.tag.elem == 0x3000
        if elem.tag in BULK_TAGS or overlay_data:
            continue
        tag = f"({elem.tag.group:04X},{elem.tag.elem:04X})"
        keyword = elem.keyword or ("Private" if elem.tag.is_private else "Unknown")
        if elem.VR == "SQ":
            rows.append(TagRow(tag, keyword, "SQ", f"{len(elem.value)} item(s)", depth))
            for item in elem.value:
                rows += tag_rows(item, limit=limit, depth=depth + 1)
            continue
        rows.append(TagRow(tag, keyword, str(elem.VR), _text(elem.value, limit), depth))
    return rows
