"""QIDO-RS query parsing and attribute matching (PS3.18 §10.6, PS3.4 §C.2.2.2).

Pure: :func:`parse_search` turns query parameters into a :class:`SearchQuery`;
:meth:`SearchQuery.accepts` matches one DICOM JSON record; :func:`result` shapes
one answer with the default return attributes of PS3.18 Table 10.6.3-3..5.
Fuzzy matching is not offered: a request for it gets literal matching and a
``Warning`` header (PS3.18 §10.6.1.2.1).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property
from typing import Any

from server.imaging.dicom_json import (
    DicomJson,
    make_element,
    project,
    strip_bulk_data,
    tag_of,
    vr_of,
)
from server.problems import BadRequest

__all__ = [
    "DEFAULT_LIMIT",
    "FUZZY_WARNING",
    "MAX_LIMIT",
    "MORE_RESULTS_WARNING",
    "AttributeMatch",
    "Level",
    "SearchQuery",
    "default_tags",
    "parse_search",
    "result",
]

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
FUZZY_WARNING = '299 readroom "The fuzzymatching parameter is not supported. Only literal matching has been performed."'  # noqa: E501
MORE_RESULTS_WARNING = '299 readroom "There are additional results that can be requested."'


class Level(StrEnum):
    """The query/retrieve level of a search resource (PS3.18 §10.6.1)."""

    STUDY = "study"
    SERIES = "series"
    INSTANCE = "instance"


def _tags(*keywords: str) -> frozenset[str]:
    return frozenset(tag_of(k) for k in keywords)


_COMMON = ("SpecificCharacterSet", "TimezoneOffsetFromUTC", "RetrieveURL", "InstanceAvailability")

#: PS3.18 Table 10.6.3-3 (plus StudyDescription, which every viewer lists).
STUDY_TAGS = _tags(
    *_COMMON,
    "StudyDate",
    "StudyTime",
    "AccessionNumber",
    "ModalitiesInStudy",
    "ReferringPhysicianName",
    "PatientName",
    "PatientID",
    "PatientBirthDate",
    "PatientSex",
    "StudyInstanceUID",
    "StudyID",
    "StudyDescription",
    "NumberOfStudyRelatedSeries",
    "NumberOfStudyRelatedInstances",
)
#: PS3.18 Table 10.6.3-4.
SERIES_TAGS = _tags(
    *_COMMON,
    "Modality",
    "SeriesDescription",
    "SeriesInstanceUID",
    "SeriesNumber",
    "NumberOfSeriesRelatedInstances",
    "PerformedProcedureStepStartDate",
    "PerformedProcedureStepStartTime",
    "RequestAttributesSequence",
)
#: PS3.18 Table 10.6.3-5.
INSTANCE_TAGS = _tags(
    *_COMMON,
    "SOPClassUID",
    "SOPInstanceUID",
    "InstanceNumber",
    "Rows",
    "Columns",
    "BitsAllocated",
    "NumberOfFrames",
)
_STUDY_UID, _SERIES_UID = tag_of("StudyInstanceUID"), tag_of("SeriesInstanceUID")


def default_tags(level: Level, *, study_given: bool, series_given: bool) -> frozenset[str]:
    """The attributes every result carries (PS3.18 §10.6.3.3.1): those of its level and,
    where the resource path did not fix them, of the levels above; the UIDs of the levels
    above are always returned so a client can address what it found."""
    if level is Level.STUDY:
        return STUDY_TAGS
    tags = set(SERIES_TAGS) | {_STUDY_UID}
    if level is Level.INSTANCE:
        tags = set(INSTANCE_TAGS) | {_STUDY_UID, _SERIES_UID}
        if not series_given:
            tags |= SERIES_TAGS
    if not study_given:
        tags |= STUDY_TAGS
    return frozenset(tags)


# ---------------------------------------------------------------------------
# Matching (PS3.4 §C.2.2.2)

_RANGE_VRS = frozenset({"DA", "TM", "DT"})
_LIST_VRS = frozenset({"UI", "CS"})
_NUMBER_VRS = frozenset({"IS", "DS", "US", "SS", "UL", "SL", "UV", "SV", "FL", "FD"})
_NO_WILDCARD_VRS = _RANGE_VRS | _NUMBER_VRS | {"UI", "SQ"}


def _text_values(elem: Mapping[str, Any] | None) -> list[str]:
    if not elem:
        return []
    out: list[str] = []
    for value in elem.get("Value") or []:
        if isinstance(value, dict):  # PN: every component group
            out.extend(str(v) for k, v in value.items() if k in _PN_GROUPS and v)
        elif value is not None:
            out.append(str(value))
    return out


_PN_GROUPS = ("Alphabetic", "Ideographic", "Phonetic")


def _wildcard(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _in_range(value: str, low: str, high: str) -> bool:
    """Range matching of DA/TM/DT strings of any precision (PS3.4 §C.2.2.2.5)."""
    value = value.replace(":", "").strip()
    if low and value.ljust(len(low), "0") < low:
        return False
    return not (high and value[: len(high)] > high)


@dataclass(frozen=True)
class AttributeMatch:
    """One matching key: ``path`` of tags (nested sequences) and the requested value."""

    path: tuple[str, ...]
    value: str
    vr: str | None = None

    @property
    def tag(self) -> str:
        return self.path[0]

    @cached_property
    def _kind(self) -> tuple[str, Any]:
        vr, value = self.vr, self.value
        if value == "" or value == "*":
            return ("universal", None)
        if vr in _RANGE_VRS and "-" in value:
            low, _, high = value.partition("-")
            return ("range", (low.replace(":", ""), high.replace(":", "")))
        if vr in _LIST_VRS and ("\\" in value or "," in value):
            return ("list", frozenset(v.strip() for v in re.split(r"[\\,]", value) if v.strip()))
        if vr in _NUMBER_VRS:
            try:
                return ("number", float(value))
            except ValueError:
                return ("never", None)
        if vr not in _NO_WILDCARD_VRS and ("*" in value or "?" in value):
            return ("wildcard", _wildcard(value, ignore_case=vr == "PN"))
        if vr == "PN":
            return ("single-ci", value.casefold())
        if vr in _RANGE_VRS:
            return ("single", value.replace(":", ""))
        return ("single", value)

    def accepts(self, data: Mapping[str, Any]) -> bool:
        """Whether ``data`` matches this key; with a sequence path, any item may match."""
        kind, arg = self._kind
        if kind == "universal":
            return True
        elem = data.get(self.path[0])
        if len(self.path) > 1:
            items = (elem or {}).get("Value") or []
            rest = AttributeMatch(self.path[1:], self.value, self.vr)
            return any(isinstance(item, dict) and rest.accepts(item) for item in items)
        texts = _text_values(elem)
        if kind == "range":
            return any(_in_range(t, *arg) for t in texts)
        if kind == "list":
            return any(t in arg for t in texts)
        if kind == "number":
            return any(_number(t) == arg for t in texts)
        if kind == "wildcard":
            return any(arg.fullmatch(t) for t in texts)
        if kind == "single-ci":
            return any(t.casefold() == arg for t in texts)
        if kind == "single":
            return any(
                t.replace(":", "") == arg if self.vr in _RANGE_VRS else t == arg for t in texts
            )
        return False

    def uids(self) -> list[str] | None:
        """The UIDs asked for when this key can be answered by an index lookup."""
        kind, arg = self._kind
        if len(self.path) != 1 or self.vr != "UI":
            return None
        if kind == "list":
            return sorted(arg)
        if kind == "single":
            return [arg]
        return None


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


# ---------------------------------------------------------------------------
# The query


@dataclass(frozen=True)
class SearchQuery:
    """A parsed QIDO-RS request (PS3.18 §10.6.1.2)."""

    matches: tuple[AttributeMatch, ...] = ()
    include_all: bool = False
    include_tags: frozenset[str] = field(default_factory=frozenset)
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    fuzzy_requested: bool = False

    def accepts(self, data: Mapping[str, Any]) -> bool:
        return all(m.accepts(data) for m in self.matches)

    def uids(self, keyword: str) -> list[str] | None:
        """UIDs required of ``keyword`` by the keys (``None``: no constraint); an
        intersection when several keys name the attribute."""
        tag = tag_of(keyword)
        found: set[str] | None = None
        for m in self.matches:
            if m.path == (tag,) and (uids := m.uids()) is not None:
                found = set(uids) if found is None else found & set(uids)
        return None if found is None else sorted(found)

    def return_tags(self, default: Iterable[str]) -> frozenset[str]:
        """Default attributes, ``includefield`` ones and every matching key (§10.6.3.3)."""
        return frozenset(default) | self.include_tags | {m.tag for m in self.matches}


_CONTROL = frozenset({"limit", "offset", "includefield", "fuzzymatching"})


def _path_of(key: str) -> tuple[str, ...]:
    try:
        return tuple(tag_of(part) for part in key.split("."))
    except ValueError:
        raise BadRequest(f"{key!r} is not a DICOM attribute keyword or tag.", field=key) from None


def _integer(name: str, raw: str, *, minimum: int) -> int:
    try:
        number = int(raw)
    except ValueError:
        number = minimum - 1
    if number < minimum:
        raise BadRequest(f"{name} must be a whole number of at least {minimum}.", field=name)
    return number


def parse_search(params: Iterable[tuple[str, str]], *, max_limit: int = MAX_LIMIT) -> SearchQuery:
    """Parse QIDO-RS query parameters (PS3.18 §8.3.4): attribute keys by keyword, tag
    or dotted sequence path; ``includefield`` (repeated or comma-separated, or ``all``);
    ``limit`` (capped at ``max_limit``), ``offset``, ``fuzzymatching``.

    Raises :class:`BadRequest` naming the parameter at fault.
    """
    matches: list[AttributeMatch] = []
    include: set[str] = set()
    include_all = fuzzy = False
    limit, offset = min(DEFAULT_LIMIT, max_limit), 0
    for key, value in params:
        if key == "includefield":
            for item in (v.strip() for v in value.split(",")):
                if item == "all":
                    include_all = True
                elif item:
                    include.add(_path_of(item)[0])
        elif key == "limit":
            limit = min(_integer("limit", value, minimum=0), max_limit)
        elif key == "offset":
            offset = _integer("offset", value, minimum=0)
        elif key == "fuzzymatching":
            if value.lower() not in ("true", "false"):
                raise BadRequest("fuzzymatching must be true or false.", field=key)
            fuzzy = value.lower() == "true"
        elif key not in _CONTROL:
            path = _path_of(key)
            matches.append(AttributeMatch(path, value.strip(), vr_of(path[-1])))
    return SearchQuery(tuple(matches), include_all, frozenset(include), limit, offset, fuzzy)


def result(record: Mapping[str, Any], query: SearchQuery, default: Iterable[str]) -> DicomJson:
    """One search answer: ``record`` cut to the return attributes (or whole, less bulk
    data, with ``includefield=all``); attributes asked for but absent come back empty
    (§10.6.3.3)."""
    if query.include_all:
        return dict(sorted(strip_bulk_data(record).items()))
    tags = query.return_tags(default)
    out = project(record, tags)
    for tag in tags - out.keys():
        if tag in query.include_tags or any(m.tag == tag for m in query.matches):
            out[tag] = make_element(tag, None)
    return dict(sorted(out.items()))
