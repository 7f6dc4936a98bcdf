"""The cases wire contract: enums and pydantic models only (the workstation imports this).

Detail fields arrive as plain text so that :mod:`server.cases.rules` can check every one
and report all problems at once, in words a patient understands.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class CaseStatus(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    READY = "ready"
    ASSIGNED = "assigned"
    READING = "reading"
    SIGNED = "signed"
    DELIVERED = "delivered"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class CasePriority(StrEnum):
    ROUTINE = "routine"
    URGENT = "urgent"


class Coverage(StrEnum):
    """Who pays: OHIP (Ontario resident with a valid health card) or the patient."""

    OHIP = "ohip"
    PRIVATE = "private"


class ReferralSource(StrEnum):
    UPLOAD = "upload"
    FAX = "fax"


class PaymentMethod(StrEnum):
    CARD = "card"
    CHEQUE = "cheque"
    ETRANSFER = "etransfer"
    CASH = "cash"
    OTHER = "other"


class Subspecialty(StrEnum):
    NEURO = "neuro"
    HEAD_AND_NECK = "head-and-neck"
    MSK = "msk"
    CHEST = "chest"
    BODY = "body"
    BREAST = "breast"
    CARDIAC = "cardiac"
    PEDIATRIC = "pediatric"
    GENERAL = "general"


class CaseDetails(BaseModel):
    """What a patient fills in. Every field optional while the case is a draft."""

    model_config = ConfigDict(extra="forbid")

    patient_family_name: str | None = None
    patient_given_names: str | None = None
    patient_birth_date: str | None = Field(default=None, description="YYYY-MM-DD")
    patient_sex: str | None = Field(default=None, description="F, M, O or U (DICOM)")
    patient_address_line1: str | None = None
    patient_address_line2: str | None = None
    patient_city: str | None = None
    patient_province: str | None = Field(default=None, description="two-letter code, e.g. ON")
    patient_postal_code: str | None = Field(default=None, description="A1A 1A1")
    patient_phone: str | None = None
    patient_email: str | None = None
    patient_health_card_number: str | None = Field(
        default=None, description="Ontario residents: 10 digits"
    )
    patient_health_card_version: str | None = Field(
        default=None, description="the one or two letters after the number"
    )
    physician_name: str | None = None
    physician_cpso_number: str | None = Field(default=None, description="5 or 6 digits")
    physician_address: str | None = None
    physician_phone: str | None = None
    physician_fax: str | None = None
    clinical_question: str | None = None
    exam_requested: str | None = Field(default=None, description="the exam to be read")


class CaseCreate(CaseDetails):
    """POST /cases: a new draft (any subset of the details)."""


class CaseUpdate(CaseDetails):
    """PATCH /cases/{id}: the fields to change; blank text clears a field."""


class PatientDetailsRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    patient_family_name: str | None
    patient_given_names: str | None
    patient_birth_date: date | None
    patient_sex: str | None
    patient_address_line1: str | None
    patient_address_line2: str | None
    patient_city: str | None
    patient_province: str | None
    patient_postal_code: str | None
    patient_phone: str | None
    patient_email: str | None
    patient_health_card_number: str | None
    patient_health_card_version: str | None
    physician_name: str | None
    physician_cpso_number: str | None
    physician_address: str | None
    physician_phone: str | None
    physician_fax: str | None
    clinical_question: str | None
    exam_requested: str | None


class CaseSummary(BaseModel):
    """One line of a list of cases."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    status: CaseStatus
    priority: CasePriority
    created_at: datetime
    submitted_at: datetime | None
    ready_at: datetime | None
    due_at: datetime | None


class TransitionRead(BaseModel):
    at: datetime
    from_status: CaseStatus | None
    to_status: CaseStatus
    note: str | None = None


class CaseRead(CaseSummary):
    """A case as its patient (or an admin) sees it."""

    details: PatientDetailsRead
    coverage: Coverage | None
    currency: str
    amount_owed: Decimal = Field(description="fee plus tax; 0 when covered")
    amount_paid: Decimal
    referral_received_at: datetime | None
    images_accepted_count: int
    images_accepted_at: datetime | None
    rejection_reason: str | None
    missing: list[str] = Field(description="what the case still waits for, in plain words")
    history: list[TransitionRead]


class Requirements(BaseModel):
    """GET /cases/requirements: what is read and what it costs, shown before anything else."""

    accepted_modalities: list[str]
    study_max_age_days: int
    referral_required: bool
    referral_max_bytes: int
    turnaround_days: int
    private_fee: Decimal
    tax_rate: Decimal
    currency: str
    covered: str


class InvoiceLine(BaseModel):
    description: str
    amount: Decimal


class InvoiceRead(BaseModel):
    case_id: str
    coverage: Coverage | None
    currency: str
    lines: list[InvoiceLine]
    subtotal: Decimal
    tax: Decimal
    tax_rate: Decimal
    total: Decimal
    paid: Decimal
    balance: Decimal
    settled: bool


class ReferralRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    case_id: str
    source: ReferralSource
    sha256: str | None
    size: int | None
    received_at: datetime


class WorklistItem(BaseModel):
    """One assigned case on a radiologist's worklist (no patient name)."""

    id: str = Field(description="the case id")
    status: CaseStatus
    priority: CasePriority
    assigned_at: datetime | None
    due_at: datetime | None
    remaining_seconds: int | None = Field(description="negative once overdue")
    modality: str | None
    body_part: str | None
    study_description: str | None
    patient_age: int | None
    patient_sex: str | None
    clinical_question: str | None
    study_instance_uid: str | None
    series_count: int
    image_count: int
    locked_by_me: bool
    lock_expires_at: datetime | None


class ReadingLockRead(BaseModel):
    case_id: str
    status: CaseStatus
    holder_id: int
    expires_at: datetime


class ReadingCase(WorklistItem):
    """GET /cases/{id}/reading: everything the workstation needs to read and report."""

    patient_family_name: str | None
    patient_given_names: str | None
    patient_birth_date: date | None
    exam_requested: str | None
    physician_name: str | None
    physician_cpso_number: str | None
    physician_fax: str | None
    study_date: date | None
    referral_received_at: datetime | None
