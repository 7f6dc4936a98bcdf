"""Which studies are read (settings as data) and what a patient is told up front."""

from __future__ import annotations

from datetime import date
from typing import Any

# --------------------------------------------------------------------------- eligibility


def study_is_eligible(
    modality: str | None, study_date: date | None, submitted_on: date, settings: Any
) -> str | None:
    """``None`` if a study may be read, else the reason in words a patient understands.

    ``settings`` needs ``accepted_modalities`` and ``study_max_age_days``.
    """
    accepted = [m.upper() for m in settings.accepted_modalities]
    if not modality or modality.upper() not in accepted:
        kinds = " or ".join(accepted)
        return f"Only {kinds} studies are read here; this one is {modality or 'of unknown type'}."
    if study_date is None:
        return "The study has no date, so its age cannot be checked."
    if study_date > submitted_on:
        return "The study is dated in the future; check the disc."
    age = (submitted_on - study_date).days
    if age > settings.study_max_age_days:
        return (
            f"The study is {age} days old; only studies from the last "
            f"{settings.study_max_age_days} days are read."
        )
    return None


def eligibility_rules(settings: Any) -> dict[str, Any]:
    """The rules a patient sees before opening a case."""
    return {
        "accepted_modalities": [m.upper() for m in settings.accepted_modalities],
        "study_max_age_days": settings.study_max_age_days,
        "referral_required": True,
        "referral_max_bytes": settings.referral_max_bytes,
        "turnaround_days": settings.turnaround_days,
        "private_fee": str(settings.private_fee),
        "tax_rate": str(settings.tax_rate),
        "currency": settings.currency,
        "covered": "Ontario residents with a valid health card are covered by OHIP.",
    }


def age_in_years(born: date | None, on: date) -> int | None:
    if born is None:
        return None
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))
