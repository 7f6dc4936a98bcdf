"""Pure intake rules: what becomes of one file, and how to say so to a patient.

No I/O here beyond what the caller passes in. The database-dependent verdicts
(already stored, conflicting object) are decided in :mod:`server.imaging.ingest`
with :func:`duplicate_verdict`.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import Any

from server.cases.rules import study_is_eligible
from server.imaging.dicom_header import Header
from server.imaging.models import RefusalReason, Verdict

__all__ = [
    "COMPANION_SUFFIXES",
    "IMAGE_SOP_CLASSES",
    "MESSAGES",
    "NON_IMAGE_SOP_CLASSES",
    "CasePatient",
    "Decision",
    "decide",
    "duplicate_verdict",
    "is_companion_file",
    "message_for",
    "same_patient",
]

#: CT and MR image storage SOP classes (PS3.4 Table B.5-1) that are read and counted.
IMAGE_SOP_CLASSES: dict[str, str] = {
    "1.2.840.10008.5.1.4.1.1.2": "CT",  # CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.1": "CT",  # Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.2.2": "CT",  # Legacy Converted Enhanced CT Image Storage
    "1.2.840.10008.5.1.4.1.1.4": "MR",  # MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.1": "MR",  # Enhanced MR Image Storage
    "1.2.840.10008.5.1.4.1.1.4.3": "MR",  # Enhanced MR Color Image Storage
    "1.2.840.10008.5.1.4.1.1.4.4": "MR",  # Legacy Converted Enhanced MR Image Storage
}
#: Kept with the study but not counted as images: secondary captures (dose screens, PS3.4
#: B.5) and dose / structured reports.
NON_IMAGE_SOP_CLASSES: frozenset[str] = frozenset(
    {
        "1.2.840.10008.5.1.4.1.1.7",  # Secondary Capture Image Storage
        "1.2.840.10008.5.1.4.1.1.7.1",  # Multi-frame Single Bit SC
        "1.2.840.10008.5.1.4.1.1.7.2",  # Multi-frame Grayscale Byte SC
        "1.2.840.10008.5.1.4.1.1.7.3",  # Multi-frame Grayscale Word SC
        "1.2.840.10008.5.1.4.1.1.7.4",  # Multi-frame True Color SC
        "1.2.840.10008.5.1.4.1.1.88.67",  # X-Ray Radiation Dose SR
        "1.2.840.10008.5.1.4.1.1.88.22",  # Enhanced SR
        "1.2.840.10008.5.1.4.1.1.88.11",  # Basic Text SR
        "1.2.840.10008.5.1.4.1.1.88.33",  # Comprehensive SR
    }
)
#: Files a hospital CD carries beside the images: skipped, never refused.
COMPANION_SUFFIXES = frozenset(
    {
        ".exe", ".dll", ".inf", ".ini", ".txt", ".htm", ".html", ".css", ".js", ".xml",
        ".pdf", ".ico", ".bmp", ".png", ".jpg", ".jpeg", ".gif", ".bat", ".cmd", ".sh",
        ".app", ".jar", ".cfg", ".dat", ".log", ".lnk", ".url", ".md", ".rtf", ".json",
        ".cab", ".msi", ".manifest", ".plist", ".so", ".dylib", ".chm", ".hlp", ".db",
    }
)  # fmt: skip
_COMPANION_NAMES = frozenset({"dicomdir", "autorun.inf", "readme", "index", "lockfile"})

MESSAGES: dict[RefusalReason | Verdict, str] = {
    Verdict.STORED: "Stored.",
    Verdict.DUPLICATE: "Already stored: this image was received before.",
    RefusalReason.NOT_DICOM: "This is not a DICOM image file.",
    RefusalReason.UNREADABLE: "The file is damaged or incomplete and cannot be read.",
    RefusalReason.MODALITY: "Only CT and MR studies are read here; this image is another kind.",
    RefusalReason.TOO_OLD: "The study is older than we can accept.",
    RefusalReason.STUDY_DATE: "The study has no valid date, so its age cannot be checked.",
    RefusalReason.DIFFERENT_PATIENT: (
        "This image belongs to a different patient than the case; it was set aside for our "
        "staff to check and was not added."
    ),
    RefusalReason.CONFLICT: (
        "An image with the same identifier but different content is already in the case."
    ),
    RefusalReason.SOP_CLASS: "This kind of DICOM object is not accepted.",
    RefusalReason.MISSING_UID: "The file lacks the identifiers every DICOM image must have.",
    RefusalReason.TOO_LARGE: "The file is too large.",
    RefusalReason.UNSAFE_PATH: "The file's name in the archive is unsafe (for example '../').",
    RefusalReason.DICOMDIR: "The disc's index file (DICOMDIR) is not needed and was skipped.",
    RefusalReason.COMPANION: "Not an image (a viewer program or other file from the disc).",
    RefusalReason.STORAGE: "The server could not store this file; please try again.",
    RefusalReason.CASE_CLOSED: "The case no longer accepts images.",
    RefusalReason.STUDY_MISMATCH: "The image is not part of the study it was sent to.",
    RefusalReason.ENCRYPTED: "The file is encrypted in the archive and cannot be read.",
}


def message_for(verdict: Verdict, reason: RefusalReason | None) -> str:
    return MESSAGES[reason] if reason is not None else MESSAGES.get(verdict, str(verdict))


@dataclass(frozen=True)
class CasePatient:
    """Who the case is about, as the patient entered it."""

    family_name: str | None
    given_names: str | None
    birth_date: date | None

    @classmethod
    def of(cls, case: Any) -> CasePatient:
        return cls(case.patient_family_name, case.patient_given_names, case.patient_birth_date)


@dataclass(frozen=True)
class Decision:
    """The verdict a header earns before the database is consulted."""

    verdict: Verdict
    reason: RefusalReason | None = None
    is_image: bool = False
    #: A refused object still worth keeping for an admin (a different patient).
    hold_for_review: bool = False
    message: str | None = None


def is_companion_file(name: str) -> bool:
    """DICOMDIR, autorun files, viewer programs, read-me and web pages on a CD."""
    path = PurePosixPath(name.replace("\\", "/"))
    base = path.name.lower()
    return (
        base in _COMPANION_NAMES
        or path.suffix.lower() in COMPANION_SUFFIXES
        or base.startswith(".")
        or any(part.lower() in {"viewer", "__macosx"} for part in path.parts[:-1])
    )


def _normal(text: str | None) -> str:
    """Upper case, accents removed, only letters (``Côté-Smith`` → ``COTESMITH``)."""
    if not text:
        return ""
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if c.isalpha() and not unicodedata.combining(c)).upper()


def same_patient(header: Header, patient: CasePatient) -> bool:
    """Does the image's PatientName / PatientBirthDate match the case's patient?

    Family names are compared letter for letter after folding case and accents; the
    first given name must match too (or be an initial of it). A birth date present
    on both sides must be equal. When the case holds no name yet, nothing is
    compared (a draft is completed later); when the image has no name, it cannot be
    told apart, so it is taken as the same patient if the birth date agrees.
    """
    birth_dates = (patient.birth_date, header.patient_birth_date)
    if all(birth_dates) and birth_dates[0] != birth_dates[1]:
        return False
    if not patient.family_name:
        return True
    components = (header.patient_name or "").split("=")[0].split("^")
    family = _normal(components[0])
    if not family:
        return True
    if family != _normal(patient.family_name):
        return False
    given_image = _normal(components[1].split(" ")[0]) if len(components) > 1 else ""
    given_case = _normal((patient.given_names or "").split(" ")[0])
    if not given_image or not given_case:
        return True
    return given_image.startswith(given_case) or given_case.startswith(given_image)


def decide(
    header: Header,
    *,
    patient: CasePatient,
    submitted_on: date,
    settings: Any,
    expected_study_uid: str | None = None,
) -> Decision:
    """The verdict on one parsed header (PS3.4 B.2.3 statuses are chosen from it by STOW-RS).

    Order: the study it claims to belong to, SOP class, modality and age (through the
    cases' eligibility rule), then the patient. Secondary captures and dose reports ride
    along with an accepted study without being counted.
    """
    if expected_study_uid and header.study_instance_uid != expected_study_uid:
        return Decision(Verdict.REFUSED, RefusalReason.STUDY_MISMATCH)
    sop_class = header.sop_class_uid
    is_image = sop_class in IMAGE_SOP_CLASSES
    if not is_image and sop_class not in NON_IMAGE_SOP_CLASSES:
        accepted = {m.upper() for m in settings.accepted_modalities}
        if header.modality and header.modality not in accepted:
            return Decision(Verdict.REFUSED, RefusalReason.MODALITY)
        return Decision(Verdict.REFUSED, RefusalReason.SOP_CLASS)
    modality = header.modality
    if not is_image:
        # Non-image objects: only the study's age is checked (their Modality is OT / SR).
        modality = next(iter(settings.accepted_modalities), "CT")
    problem = study_is_eligible(modality, header.study_date, submitted_on, settings)
    if problem is not None:
        accepted = {m.upper() for m in settings.accepted_modalities}
        if not modality or modality.upper() not in accepted:
            reason = RefusalReason.MODALITY
        elif header.study_date is None or header.study_date > submitted_on:
            reason = RefusalReason.STUDY_DATE
        else:
            reason = RefusalReason.TOO_OLD
        return Decision(Verdict.REFUSED, reason, message=problem)
    if not same_patient(header, patient):
        return Decision(
            Verdict.REFUSED, RefusalReason.DIFFERENT_PATIENT, is_image, hold_for_review=True
        )
    return Decision(Verdict.STORED, is_image=is_image)


def duplicate_verdict(*, existing_sha256: str | None, sha256: str) -> Decision | None:
    """Same SOPInstanceUID already in the case: identical bytes are a harmless repeat
    (idempotent), different bytes a conflict. ``None`` when the UID is new."""
    if existing_sha256 is None:
        return None
    if existing_sha256 == sha256:
        return Decision(Verdict.DUPLICATE)
    return Decision(Verdict.REFUSED, RefusalReason.CONFLICT)
