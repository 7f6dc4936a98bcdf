"""The DICOM JSON model (PS3.18 §F.2) of a data set read by pydicom, without bulk data.

:func:`json_model` makes one pass over the raw elements of a header that
:mod:`server.imaging.dicom_header` has read: values whose decoding does not depend on
the character set are converted here, faster than pydicom converts them, and the rest
by pydicom, element by element — with the same result (see the equivalence tests).
"""

from __future__ import annotations

import base64
import math
import re
import struct
from contextlib import suppress
from typing import Any

from pydicom.dataelem import DataElement, RawDataElement
from pydicom.dataset import Dataset

__all__ = ["BULK_THRESHOLD", "PN_GROUPS", "fast_element", "json_model", "safe_text"]

#: Binary values above this are bulk data: left out of the JSON model (PS3.18 §F.2.6).
BULK_THRESHOLD = 1024
_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def json_model(ds: Dataset) -> dict[str, Any]:
    """The DICOM JSON model of the data set (PS3.18 §F.2) without bulk data.

    Binary values over :data:`BULK_THRESHOLD` bytes (base64) and deferred (large) values
    are given as an attribute with its VR and no value (PS3.18 §F.2.5), never read or
    converted; WADO-RS can serve them from the stored file. Strings are cleaned for the
    database (no NUL, valid UTF-8), non-finite numbers become null, and an element
    pydicom cannot decode is left out. One pass over the raw elements: the values whose
    decoding does not depend on the character set (UI, CS, DA, TM, …, IS, DS and binary
    numbers) are converted here; everything else by pydicom, element by element.
    """
    return _model(ds, nested=False)


def _model(ds: Dataset, *, nested: bool) -> dict[str, Any]:
    model: dict[str, Any] = {}
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)  # a deferred value is never read
        if raw is None:
            continue
        key = f"{tag:08X}"
        if isinstance(raw, RawDataElement):
            if raw.value is None and (raw.length or 0) > BULK_THRESHOLD:  # deferred
                vr = _deferred_vr(raw)
                # a sequence this large is given without its items, as pydicom gives
                # one whose value is None
                model[key] = {"vr": vr, "Value": []} if vr == "SQ" else {"vr": vr}
                continue
            fast = fast_element(raw.tag, raw.VR, raw.value, raw.is_little_endian)
            if fast is not None:
                model[key] = fast
                continue
        elem = _converted(ds, tag)
        if elem is None:  # undecodable: leave it out, keep the rest
            continue
        if nested:  # as pydicom: an item's element that fails fails its whole sequence
            model[key] = _element_json(elem)
        else:
            with suppress(Exception):
                model[key] = _element_json(elem)
    return model


def _deferred_vr(raw: RawDataElement) -> str:
    """The VR given for a value left unread: binary ones as they are, others as UN — which
    pydicom turns into the dictionary's VR for a public attribute."""
    vr = raw.VR if raw.VR in _BINARY_VRS else "UN"
    try:
        return str(DataElement(raw.tag, vr, None).VR)
    except Exception:
        return vr


def _converted(ds: Dataset, tag: int) -> DataElement | None:
    try:
        return ds[tag]
    except Exception:
        return None


def _element_json(elem: DataElement) -> dict[str, Any]:
    if elem.VR == "SQ":
        return {"vr": "SQ", "Value": [_model(item, nested=True) for item in elem.value or []]}
    out = elem.to_json_dict(bulk_data_element_handler=_no_uri, bulk_data_threshold=BULK_THRESHOLD)
    if out.get("BulkDataURI") == "":
        return {"vr": out.get("vr", "UN")}
    return _clean(out)


def _no_uri(_elem: DataElement) -> str:
    return ""


#: VRs whose values are ASCII-like whatever the Specific Character Set (PS3.5 §6.1.2).
_PLAIN_TEXT_VRS = frozenset({"AS", "CS", "DA", "DT", "TM", "UI"})
_MULTI_TEXT_VRS = frozenset({"LO", "SH", "UC"})
_NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
#: Inline binaries above this many bytes exceed BULK_THRESHOLD once in base64.
_INLINE_MAX = (BULK_THRESHOLD // 4) * 3
_IS = re.compile(r"[+-]?[0-9]+")
_DS = re.compile(r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?")
#: Values pydicom adjusts on reading (LUT descriptors): always through pydicom.
_ADJUSTED_TAGS = frozenset({0x00283002, 0x00281101, 0x00281102, 0x00281103, 0x00603002})


def fast_element(tag: int, vr: str | None, value: Any, little: bool) -> dict[str, Any] | None:
    """The JSON of a raw element (its tag, VR, undecoded value and byte order) exactly as
    pydicom + :func:`_clean` would give it, for the simple cases; ``None`` when pydicom
    must convert it."""
    if not isinstance(value, bytes) or tag in _ADJUSTED_TAGS:
        return None
    if vr in _PLAIN_TEXT_VRS or vr == "IS" or vr == "DS":
        items = value.decode("iso8859").rstrip(" \x00").split("\\")
        if vr == "UI":  # pydicom's UID strips every kind of whitespace
            items = [item.strip() for item in items]
        if len(items) == 1 and not items[0]:
            return {"vr": vr}
        if vr == "IS":
            return _numbers(vr, items, _IS, int)
        if vr == "DS":
            return _numbers(vr, items, _DS, float)
        return {"vr": vr, "Value": [safe_text(item) for item in items]}
    if vr in _MULTI_TEXT_VRS:
        # ASCII without ESC reads the same in every Specific Character Set (PS3.5 §6.1)
        if not value.isascii() or b"\x1b" in value:
            return None
        items = [item.rstrip("\0 ") for item in value.decode("ascii").split("\\")]
        if len(items) == 1 and not items[0]:
            return {"vr": vr}
        return {"vr": vr, "Value": [safe_text(item) for item in items]}
    if vr == "PN":
        return _person_names(value)
    if vr in _BINARY_VRS and vr != "UN":
        if not value:
            return {"vr": vr}
        if len(value) > _INLINE_MAX:
            return {"vr": vr}
        return {"vr": vr, "InlineBinary": base64.b64encode(value).decode("ascii")}
    code = _NUMBER_FORMATS.get(vr) if vr else None
    if code is not None:
        size = struct.calcsize(code)
        if len(value) % size:
            return None
        if not value:
            return {"vr": vr}
        order = "<" if little else ">"
        numbers = struct.unpack(f"{order}{len(value) // size}{code}", value)
        if code in "fd":
            return {"vr": vr, "Value": [v if math.isfinite(v) else None for v in numbers]}
        return {"vr": vr, "Value": list(numbers)}
    return None


PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


def _person_names(value: bytes) -> dict[str, Any] | None:
    """A PN value as pydicom gives it in JSON: each name's component groups (split at
    ``=``, empty trailing groups dropped), for plain ASCII; ``None`` otherwise."""
    if not value.isascii() or b"\x1b" in value:
        return None
    text = value.rstrip(b"\x00 ").decode("ascii")
    if not text:
        return {"vr": "PN"}
    names = []
    for name in text.split("\\"):
        groups = name.split("=")
        while groups and not groups[-1]:
            groups.pop()
        if not groups or len(groups) > len(PN_GROUPS):
            return None  # pydicom decides (and may refuse)
        names.append(dict(zip(PN_GROUPS, map(safe_text, groups), strict=False)))
    return {"vr": "PN", "Value": names}


def _numbers(
    vr: str, items: list[str], pattern: re.Pattern[str], kind: type[int] | type[float]
) -> dict[str, Any] | None:
    values: list[Any] = []
    for item in items:
        item = item.strip()
        if not pattern.fullmatch(item):
            return None  # empty or unusual: pydicom decides
        number = kind(item)
        if kind is float and not math.isfinite(number):
            return None
        values.append(number)
    return {"vr": vr, "Value": values}


def _clean(node: Any) -> Any:
    if isinstance(node, str):
        return safe_text(node)
    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, dict):
        return {safe_text(str(k)): _clean(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def safe_text(text: str) -> str:
    return text.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
