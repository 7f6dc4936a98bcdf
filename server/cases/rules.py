"""Pure case rules, no I/O: field validation, the state machine, readiness, fees, eligibility.

Every validator takes the raw text a patient typed and returns the normalised value or
raises :class:`ValueError` with a message the patient understands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from server.cases.models import CaseStatus, Coverage
from server.problems import FieldError

# --------------------------------------------------------------------------- provinces

PROVINCES: dict[str, str] = {
    "AB": "Alberta",
    "BC": "British Columbia",
    "MB": "Manitoba",
    "NB": "New Brunswick",
    "NL": "Newfoundland and Labrador",
    "NS": "Nova Scotia",
    "NT": "Northwest Territories",
    "NU": "Nunavut",
    "ON": "Ontario",
    "PE": "Prince Edward Island",
    "QC": "Quebec",
    "SK": "Saskatchewan",
    "YT": "Yukon",
}

#: First letter of the postal code (the postal district) -> the provinces it serves.
POSTAL_DISTRICTS: dict[str, frozenset[str]] = {
    "A": frozenset({"NL"}),
    "B": frozenset({"NS"}),
    "C": frozenset({"PE"}),
    "E": frozenset({"NB"}),
    "G": frozenset({"QC"}),
    "H": frozenset({"QC"}),
    "J": frozenset({"QC"}),
    "K": frozenset({"ON"}),
    "L": frozenset({"ON"}),
    "M": frozenset({"ON"}),
    "N": frozenset({"ON"}),
    "P": frozenset({"ON"}),
    "R": frozenset({"MB"}),
    "S": frozenset({"SK"}),
    "T": frozenset({"AB"}),
    "V": frozenset({"BC"}),
    "X": frozenset({"NT", "NU"}),
    "Y": frozenset({"YT"}),
}


def province(text: str) -> str:
    code = text.strip().upper()
    if code not in PROVINCES:
        raise ValueError(
            "Choose a Canadian province or territory by its two-letter code, such as ON."
        )
    return code


# --------------------------------------------------------------------------- postal code

# Canada Post: letters D F I O Q U never appear; W and Z never start a code.
_POSTAL = re.compile(r"^([ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z])(\d[ABCEGHJ-NPRSTV-Z]\d)$")


def postal_code(text: str) -> str:
    """``m5h2n2`` -> ``M5H 2N2``."""
    compact = re.sub(r"[\s-]", "", text).upper()
    match = _POSTAL.match(compact)
    if match is None:
        raise ValueError("Enter a Canadian postal code such as A1A 1A1.")
    return f"{match[1]} {match[2]}"


def postal_code_matches_province(code: str, province_code: str) -> bool:
    return province_code in POSTAL_DISTRICTS.get(code[:1], frozenset())


# --------------------------------------------------------------------------- telephone

_NANP_DIGITS = re.compile(r"^\+?1?([2-9]\d{2})([2-9]\d{2})(\d{4})$")
_PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


def nanp_number(text: str, *, what: str = "phone number") -> str:
    """A North American number in any common format -> E.164 ``+1XXXXXXXXXX``.

    Area code and exchange start with 2-9 and are not N11 service codes (411, 911...).
    """
    compact = _PHONE_PUNCTUATION.sub("", text.strip())
    match = _NANP_DIGITS.match(compact)
    if match is None or (compact.startswith("+") and not compact.startswith("+1")):
        raise ValueError(f"Enter a North American {what} with area code, such as 416-555-0123.")
    area, exchange, line = match.groups()
    if area[1:] == "11" or exchange[1:] == "11":
        raise ValueError(f"This {what} uses a service code (like 411 or 911); check it.")
    return f"+1{area}{exchange}{line}"


# --------------------------------------------------------------------------- health card


def luhn_check_digit(payload: str) -> int:
    """The Luhn mod-10 check digit for a string of digits."""
    total = 0
    for position, char in enumerate(reversed(payload)):
        digit = int(char)
        if position % 2 == 0:  # rightmost payload digit is doubled
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10


def health_card_number(text: str) -> str:
    """An Ontario health card number: 10 digits, the last a Luhn check digit over the first 9."""
    digits = re.sub(r"[\s-]", "", text)
    if not re.fullmatch(r"\d{10}", digits):
        raise ValueError("An Ontario health card number has 10 digits.")
    if luhn_check_digit(digits[:9]) != int(digits[9]):
        raise ValueError("This health card number is not valid; check the 10 digits on the card.")
    return digits


def health_card_version(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{1,2}", code):
        raise ValueError("The version code is the one or two letters after the card number.")
    return code


# --------------------------------------------------------------------------- people


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_CPSO = re.compile(r"^\d{5,6}$")
SEXES = {"F": "female", "M": "male", "O": "other", "U": "unknown"}  # DICOM PatientSex
MAX_AGE_YEARS = 130


def name(text: str, *, limit: int = 100) -> str:
    value = " ".join(text.split())
    if not value:
        raise ValueError("This cannot be empty.")
    if len(value) > limit:
        raise ValueError(f"Use at most {limit} characters.")
    return value


def free_text(text: str, *, limit: int) -> str:
    value = text.strip()
    if not value:
        raise ValueError("This cannot be empty.")
    if len(value) > limit:
        raise ValueError(f"Use at most {limit} characters.")
    return value


def birth_date(text: str, *, today: date) -> date:
    try:
        value = date.fromisoformat(text.strip())
    except ValueError:
        raise ValueError("Enter the date of birth as YYYY-MM-DD, such as 1970-01-31.") from None
    if value > today:
        raise ValueError("The date of birth cannot be in the future.")
    if value.year < today.year - MAX_AGE_YEARS:
        raise ValueError("Check the year of birth.")
    return value


def sex(text: str) -> str:
    code = text.strip().upper()
    if code not in SEXES:
        raise ValueError("Choose F (female), M (male), O (other) or U (unknown).")
    return code


def email(text: str) -> str:
    value = text.strip()
    if len(value) > 254 or not _EMAIL.match(value):
        raise ValueError("Enter an email address such as name@example.com.")
    return value


def cpso_number(text: str) -> str:
    value = text.strip()
    if not _CPSO.match(value):
        raise ValueError("A CPSO registration number has 5 or 6 digits.")
    return value


# --------------------------------------------------------------------------- all details

#: Field -> (validator, required when submitting). Health card fields are required
#: for Ontario residents only, which :func:`validate_details` handles.
_VALIDATORS: dict[str, Any] = {
    "patient_family_name": lambda v, t: name(v),
    "patient_given_names": lambda v, t: name(v),
    "patient_birth_date": lambda v, t: birth_date(v, today=t),
    "patient_sex": lambda v, t: sex(v),
    "patient_address_line1": lambda v, t: name(v, limit=200),
    "patient_address_line2": lambda v, t: name(v, limit=200),
    "patient_city": lambda v, t: name(v),
    "patient_province": lambda v, t: province(v),
    "patient_postal_code": lambda v, t: postal_code(v),
    "patient_phone": lambda v, t: nanp_number(v),
    "patient_email": lambda v, t: email(v),
    "patient_health_card_number": lambda v, t: health_card_number(v),
    "patient_health_card_version": lambda v, t: health_card_version(v),
    "physician_name": lambda v, t: name(v, limit=200),
    "physician_cpso_number": lambda v, t: cpso_number(v),
    "physician_address": lambda v, t: free_text(v, limit=300),
    "physician_phone": lambda v, t: nanp_number(v),
    "physician_fax": lambda v, t: nanp_number(v, what="fax number"),
    "clinical_question": lambda v, t: free_text(v, limit=4000),
    "exam_requested": lambda v, t: free_text(v, limit=300),
}
OPTIONAL_FIELDS = frozenset({"patient_address_line2"})
HEALTH_CARD_FIELDS = ("patient_health_card_number", "patient_health_card_version")
REQUIRED_MESSAGE = "This is required."


def validate_details(
    raw: Mapping[str, str | None], *, today: date
) -> tuple[dict[str, Any], list[FieldError]]:
    """Validate every given field; returns the normalised values and *all* the errors.

    Blank text means "clear this field" (``None``). Completeness is checked separately by
    :func:`missing_details` at submission.
    """
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for field, text in raw.items():
        if field not in _VALIDATORS:
            errors.append(FieldError(field, "Unknown field."))
            continue
        if text is None or not str(text).strip():
            values[field] = None
            continue
        try:
            values[field] = _VALIDATORS[field](str(text), today)
        except ValueError as error:
            errors.append(FieldError(field, str(error)))
    return values, errors


def cross_check_details(details: Mapping[str, Any]) -> list[FieldError]:
    """Checks between fields of the whole, merged set of details."""
    errors: list[FieldError] = []
    prov, code = details.get("patient_province"), details.get("patient_postal_code")
    if prov and code and not postal_code_matches_province(code, prov):
        errors.append(
            FieldError(
                "patient_postal_code",
                f"This postal code is not in {PROVINCES.get(prov, prov)}; check both.",
            )
        )
    if prov and prov != "ON":
        for field in HEALTH_CARD_FIELDS:
            if details.get(field):
                errors.append(
                    FieldError(
                        field,
                        "Only an Ontario health card is used here; "
                        "leave it empty if you live outside Ontario.",
                    )
                )
    return errors


def missing_details(details: Mapping[str, Any]) -> list[FieldError]:
    """Required fields still empty (for submission)."""
    errors = [
        FieldError(field, REQUIRED_MESSAGE)
        for field in _VALIDATORS
        if field not in OPTIONAL_FIELDS
        and field not in HEALTH_CARD_FIELDS
        and details.get(field) in (None, "")
    ]
    if details.get("patient_province") == "ON":
        errors += [
            FieldError(field, "Ontario residents give their health card.")
            for field in HEALTH_CARD_FIELDS
            if not details.get(field)
        ]
    return errors


# --------------------------------------------------------------------------- coverage, fees

CENT = Decimal("0.01")


def coverage_for(details: Mapping[str, Any]) -> Coverage:
    """OHIP covers Ontario residents with a valid health card; everyone else pays."""
    if details.get("patient_province") == "ON" and details.get("patient_health_card_number"):
        try:
            health_card_number(details["patient_health_card_number"])
        except ValueError:
            return Coverage.PRIVATE
        return Coverage.OHIP
    return Coverage.PRIVATE


@dataclass(frozen=True)
class Fee:
    amount: Decimal
    tax: Decimal

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def fee_for(coverage: Coverage, *, private_fee: Decimal, tax_rate: Decimal) -> Fee:
    """The fee and tax owed, rounded half-up to the cent."""
    if coverage is Coverage.OHIP:
        return Fee(Decimal("0.00"), Decimal("0.00"))
    amount = private_fee.quantize(CENT, rounding=ROUND_HALF_UP)
    return Fee(amount, (amount * tax_rate).quantize(CENT, rounding=ROUND_HALF_UP))


def to_cents(amount: Decimal) -> int:
    return int((amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100).to_integral_value())


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def money(amount: Decimal, currency: str = "CAD") -> str:
    return f"${amount:,.2f} {currency}"


# --------------------------------------------------------------------------- state machine

S = CaseStatus
#: Allowed transitions: from -> the statuses it may move to. Anything else is refused.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    S.DRAFT: frozenset({S.SUBMITTED, S.CANCELLED}),
    S.SUBMITTED: frozenset({S.READY, S.REJECTED, S.CANCELLED}),
    S.READY: frozenset({S.ASSIGNED, S.REJECTED, S.CANCELLED}),
    S.ASSIGNED: frozenset({S.READING, S.READY, S.REJECTED, S.CANCELLED}),
    S.READING: frozenset({S.SIGNED, S.ASSIGNED, S.REJECTED, S.CANCELLED}),
    S.SIGNED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
}
#: Statuses in which a radiologist may be (re)assigned without a status change.
REASSIGNABLE = frozenset({S.ASSIGNED, S.READING})
#: Statuses in which the case is still open (counts against nothing else).
OPEN_STATUSES = frozenset({S.DRAFT, S.SUBMITTED, S.READY, S.ASSIGNED, S.READING, S.SIGNED})
#: Statuses in which the patient may still withdraw the case themselves.
PATIENT_CANCELLABLE = frozenset({S.DRAFT, S.SUBMITTED, S.READY})
#: Statuses still waiting on the radiologist (the turnaround clock runs).
CLOCK_RUNNING = frozenset({S.READY, S.ASSIGNED, S.READING})


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    return target in TRANSITIONS[current]


def transition_refusal(current: CaseStatus, target: CaseStatus) -> str | None:
    """Why the move is refused, or ``None`` if allowed."""
    if can_transition(current, target):
        return None
    if not TRANSITIONS[current]:
        return f"The case is {current} and can no longer change."
    return f"A {current} case cannot become {target}."


# --------------------------------------------------------------------------- readiness


class ReadinessFacts(Protocol):
    images_accepted_count: int
    total_owed: int
    amount_paid: int
    has_referral: bool


def missing_for_ready(case: ReadinessFacts, *, money_text: str | None = None) -> list[str]:
    """What still stands between the case and a radiologist, in plain words."""
    missing: list[str] = []
    if case.images_accepted_count <= 0:
        missing.append("Images: no study has been received and accepted yet.")
    if not case.has_referral:
        missing.append("Referral: the referral letter from your doctor has not arrived.")
    if case.amount_paid < case.total_owed:
        owed = money_text or money(from_cents(case.total_owed - case.amount_paid))
        missing.append(f"Payment: {owed} is still owed.")
    return missing


def due_at(ready_at: datetime, *, turnaround_days: int) -> datetime:
    return ready_at + timedelta(days=turnaround_days)


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
