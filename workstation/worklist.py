"""Worklist rules without a UI: columns, time left to due, sorting and filtering."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from workstation.client import WorklistCase

__all__ = [
    "COLUMNS",
    "Column",
    "SortKey",
    "filter_cases",
    "format_time_left",
    "is_overdue",
    "sort_cases",
]


class SortKey(StrEnum):
    """The columns a worklist can be sorted by."""

    PRIORITY = "priority"
    DUE = "due"
    MODALITY = "modality"
    BODY_PART = "body_part"
    STUDY = "study"
    AGE_SEX = "age_sex"
    QUESTION = "question"
    IMAGES = "images"


@dataclass(frozen=True)
class Column:
    key: SortKey
    label: str
    width: int | None


COLUMNS: tuple[Column, ...] = (
    Column(SortKey.PRIORITY, "Priority", 8),
    Column(SortKey.DUE, "Time left", 10),
    Column(SortKey.MODALITY, "Mod", 4),
    Column(SortKey.BODY_PART, "Body part", 12),
    Column(SortKey.STUDY, "Study", 28),
    Column(SortKey.AGE_SEX, "Age/Sex", 7),
    Column(SortKey.QUESTION, "Clinical question", None),
    Column(SortKey.IMAGES, "Images", 6),
)

_PRIORITY_RANK = {"stat": 0, "urgent": 1, "routine": 2}


def _aware(moment: datetime) -> datetime:
    """Times without a zone are UTC (the server stores UTC; SQLite drops the zone)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def time_left(case: WorklistCase, now: datetime) -> timedelta | None:
    return None if case.due_at is None else _aware(case.due_at) - _aware(now)


def is_overdue(case: WorklistCase, now: datetime) -> bool:
    left = time_left(case, now)
    return left is not None and left < timedelta(0)


def format_time_left(left: timedelta | None) -> str:
    """``2d 04h``, ``3h 20m``, ``45m``; overdue prefixed with a minus sign."""
    if left is None:
        return "—"
    sign = "-" if left < timedelta(0) else ""
    minutes = int(abs(left).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days}d {hours:02d}h"
    if hours:
        return f"{sign}{hours}h {mins:02d}m"
    return f"{sign}{mins}m"


def age_sex(case: WorklistCase) -> str:
    """``54F``; either part may be missing."""
    age = "" if case.patient_age is None else str(case.patient_age)
    return f"{age}{case.patient_sex or ''}"


def _sort_value(key: SortKey) -> Callable[[WorklistCase], Any]:
    getters: dict[SortKey, Callable[[WorklistCase], Any]] = {
        SortKey.PRIORITY: lambda c: (_PRIORITY_RANK.get(str(c.priority), 9), _due(c)),
        SortKey.DUE: _due,
        SortKey.MODALITY: lambda c: c.modality or "",
        SortKey.BODY_PART: lambda c: (c.body_part or "").lower(),
        SortKey.STUDY: lambda c: (c.study_description or "").lower(),
        SortKey.AGE_SEX: lambda c: (
            -1 if c.patient_age is None else c.patient_age,
            c.patient_sex or "",
        ),
        SortKey.QUESTION: lambda c: (c.clinical_question or "").lower(),
        SortKey.IMAGES: lambda c: c.image_count,
    }
    return getters[key]


def _due(case: WorklistCase) -> float:
    return _aware(case.due_at).timestamp() if case.due_at else float("inf")


def sort_cases(
    cases: Iterable[WorklistCase], key: SortKey, *, reverse: bool = False
) -> list[WorklistCase]:
    """Cases ordered by ``key`` (ties keep the server's order)."""
    return sorted(cases, key=_sort_value(key), reverse=reverse)


def filter_cases(cases: Sequence[WorklistCase], text: str) -> list[WorklistCase]:
    """Cases where every word of ``text`` occurs in some column (case-insensitive)."""
    words = text.lower().split()
    if not words:
        return list(cases)

    def haystack(case: WorklistCase) -> str:
        fields = (
            case.id,
            str(case.priority),
            case.modality,
            case.body_part,
            case.study_description,
            age_sex(case),
            case.clinical_question,
        )
        return " ".join(f for f in fields if f).lower()

    return [case for case in cases if all(word in haystack(case) for word in words)]
