"""Patient and physician fields: each validator takes the text as typed and returns the
normalised value or raises :class:`ValueError` with a message the patient understands."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from datetime import date
from typing import Any

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


UNPRINTABLE_MESSAGE = "Remove the invisible control characters (often left by copy and paste)."
_ALLOWED_CONTROLS = frozenset("\n\r\t")


def is_storable_text(text: str) -> bool:
    """No control, surrogate or unassigned characters (a NUL cannot even be stored)."""
    return not any(
        unicodedata.category(c).startswith("C") and c not in _ALLOWED_CONTROLS for c in text
    )


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
        if not is_storable_text(str(text)):
            errors.append(FieldError(field, UNPRINTABLE_MESSAGE))
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
