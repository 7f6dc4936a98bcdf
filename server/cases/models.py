"""Case tables: the case itself, its transitions, referral, payments and radiologist profiles."""

from __future__ import annotations

import re
import secrets
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, bindparam, select
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from server.cases.schemas import (
    CasePriority,
    CaseStatus,
    Coverage,
    PaymentMethod,
    ReferralSource,
    Subspecialty,
)
from server.db import Base, utcnow

#: Crockford's base32 alphabet (no I, L, O, U): easy to read aloud and type.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CASE_ID_PREFIX = "RR-"
CASE_ID_LENGTH = 8


_CASE_ID = re.compile(rf"^{CASE_ID_PREFIX}[{CROCKFORD}]{{{CASE_ID_LENGTH}}}$")


def is_case_id(text: str) -> bool:
    """Whether ``text`` has the shape of a case id (cheap check before any query)."""
    return bool(_CASE_ID.match(text))


def new_case_id() -> str:
    """A public, non-guessable case id such as ``RR-7K3QX9MZ`` (40 random bits)."""
    return CASE_ID_PREFIX + "".join(secrets.choice(CROCKFORD) for _ in range(CASE_ID_LENGTH))


def _enum(cls: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Case(Base):
    """One second-opinion request: who, who referred, what is asked, and where it stands.

    Patient and physician fields are nullable while the case is a draft; submitting
    requires them all (see :mod:`server.cases.rules`).
    """

    __tablename__ = "patient_case"

    id: Mapped[str] = mapped_column(String(16), primary_key=True, default=new_case_id)
    patient_user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), index=True
    )
    status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus), default=CaseStatus.DRAFT)
    priority: Mapped[CasePriority] = mapped_column(
        _enum(CasePriority), default=CasePriority.ROUTINE
    )

    # the patient
    patient_family_name: Mapped[str | None] = mapped_column(String(100), default=None)
    patient_given_names: Mapped[str | None] = mapped_column(String(100), default=None)
    patient_birth_date: Mapped[date | None] = mapped_column(default=None)
    patient_sex: Mapped[str | None] = mapped_column(String(1), default=None)  # DICOM F/M/O/U
    patient_address_line1: Mapped[str | None] = mapped_column(String(200), default=None)
    patient_address_line2: Mapped[str | None] = mapped_column(String(200), default=None)
    patient_city: Mapped[str | None] = mapped_column(String(100), default=None)
    patient_province: Mapped[str | None] = mapped_column(String(2), default=None)
    patient_postal_code: Mapped[str | None] = mapped_column(String(7), default=None)
    patient_phone: Mapped[str | None] = mapped_column(String(12), default=None)  # E.164
    patient_email: Mapped[str | None] = mapped_column(String(254), default=None)
    patient_health_card_number: Mapped[str | None] = mapped_column(String(10), default=None)
    patient_health_card_version: Mapped[str | None] = mapped_column(String(2), default=None)

    # the referring physician
    physician_name: Mapped[str | None] = mapped_column(String(200), default=None)
    physician_cpso_number: Mapped[str | None] = mapped_column(String(6), default=None)
    physician_address: Mapped[str | None] = mapped_column(String(300), default=None)
    physician_phone: Mapped[str | None] = mapped_column(String(12), default=None)  # E.164
    physician_fax: Mapped[str | None] = mapped_column(String(12), default=None)  # E.164

    # the question
    clinical_question: Mapped[str | None] = mapped_column(Text, default=None)
    exam_requested: Mapped[str | None] = mapped_column(String(300), default=None)

    # coverage and fee (fixed when the case is submitted)
    coverage: Mapped[Coverage | None] = mapped_column(_enum(Coverage), default=None)
    fee_amount: Mapped[int] = mapped_column(default=0)  # cents, before tax
    tax_amount: Mapped[int] = mapped_column(default=0)  # cents

    # the accepted study (set by imaging through service.record_images_accepted)
    images_accepted_count: Mapped[int] = mapped_column(default=0)
    images_accepted_at: Mapped[datetime | None] = mapped_column(default=None)
    series_count: Mapped[int] = mapped_column(default=0)
    modality: Mapped[str | None] = mapped_column(String(16), default=None)
    body_part: Mapped[str | None] = mapped_column(String(64), default=None)
    study_description: Mapped[str | None] = mapped_column(String(200), default=None)
    study_date: Mapped[date | None] = mapped_column(default=None)
    study_instance_uid: Mapped[str | None] = mapped_column(String(64), default=None)

    # assignment and reading
    assigned_radiologist_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="RESTRICT"), default=None, index=True
    )
    lock_holder_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id", ondelete="SET NULL"), default=None
    )
    lock_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    rejection_reason: Mapped[str | None] = mapped_column(String(500), default=None)

    # the clock
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)
    ready_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    reading_started_at: Mapped[datetime | None] = mapped_column(default=None)
    signed_at: Mapped[datetime | None] = mapped_column(default=None)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    closed_at: Mapped[datetime | None] = mapped_column(default=None)  # rejected or cancelled

    events: Mapped[list[CaseEvent]] = relationship(
        back_populates="case", order_by="CaseEvent.id", passive_deletes=True
    )
    referrals: Mapped[list[Referral]] = relationship(
        back_populates="case", order_by="Referral.id", passive_deletes=True
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="case", order_by="Payment.id", passive_deletes=True
    )

    __table_args__ = (Index("ix_patient_case_status_due_at", "status", "due_at"),)

    @property
    def total_owed(self) -> int:
        """Fee plus tax, in cents (0 when covered)."""
        return self.fee_amount + self.tax_amount

    @property
    def amount_paid(self) -> int:
        return sum(p.amount for p in self.payments)

    @property
    def payment_settled(self) -> bool:
        return self.amount_paid >= self.total_owed

    @property
    def has_referral(self) -> bool:
        """Whether a referral is on file: the loaded referrals, else one statement that
        asks without loading them (readiness asks this after every batch of images)."""
        session = object_session(self)
        if session is None or "referrals" in self.__dict__:
            return bool(self.referrals)
        return session.scalar(_ANY_REFERRAL, {"case_id": self.id}) is not None


class CaseEvent(Base):
    """One status transition, timestamped: the case's own history (audit holds the rest)."""

    __tablename__ = "case_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    from_status: Mapped[CaseStatus | None] = mapped_column(_enum(CaseStatus), default=None)
    to_status: Mapped[CaseStatus] = mapped_column(_enum(CaseStatus))
    actor_id: Mapped[int | None] = mapped_column(default=None)
    actor_name: Mapped[str | None] = mapped_column(String(64), default=None)
    note: Mapped[str | None] = mapped_column(String(500), default=None)

    case: Mapped[Case] = relationship(back_populates="events")


class Referral(Base):
    """The physician's referral letter (PDF), stored encrypted in the blob store."""

    __tablename__ = "referral"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("patient_case.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[ReferralSource] = mapped_column(_enum(ReferralSource))
    sha256: Mapped[str | None] = mapped_column(String(64), default=None)  # None: fax on paper
    size: Mapped[int | None] = mapped_column(default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_by: Mapped[str | None] = mapped_column(String(64), default=None)

    case: Mapped[Case] = relationship(back_populates="referrals")


_ANY_REFERRAL = (
    select(Referral.__table__.c.id)
    .where(Referral.__table__.c.case_id == bindparam("case_id"))
    .limit(1)
)


class Payment(Base):
    """Money received for a private case; each payment gets a receipt number."""

    __tablename__ = "payment"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[str] = mapped_column(
        ForeignKey("patient_case.id", ondelete="RESTRICT"), index=True
    )
    amount: Mapped[int]  # cents, tax included
    method: Mapped[PaymentMethod] = mapped_column(_enum(PaymentMethod))
    reference: Mapped[str | None] = mapped_column(String(100), default=None)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    receipt_number: Mapped[str] = mapped_column(String(32), unique=True)
    recorded_by: Mapped[str | None] = mapped_column(String(64), default=None)

    case: Mapped[Case] = relationship(back_populates="payments")


class RadiologistProfile(Base):
    """What a radiologist reads, where they are licensed, and how much per week."""

    __tablename__ = "radiologist_profile"

    user_id: Mapped[int] = mapped_column(
        ForeignKey("user_account.id", ondelete="CASCADE"), primary_key=True
    )
    subspecialties: Mapped[list[str]] = mapped_column(JSON, default=list)
    licence_province: Mapped[str] = mapped_column(String(2), default="ON")
    weekly_capacity: Mapped[int] = mapped_column(default=0)
    accepting: Mapped[bool] = mapped_column(default=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


#: Columns a patient fills in (the names of the API fields, too).
DETAIL_FIELDS = (
    "patient_family_name",
    "patient_given_names",
    "patient_birth_date",
    "patient_sex",
    "patient_address_line1",
    "patient_address_line2",
    "patient_city",
    "patient_province",
    "patient_postal_code",
    "patient_phone",
    "patient_email",
    "patient_health_card_number",
    "patient_health_card_version",
    "physician_name",
    "physician_cpso_number",
    "physician_address",
    "physician_phone",
    "physician_fax",
    "clinical_question",
    "exam_requested",
)

__all__ = [
    "DETAIL_FIELDS",
    "Case",
    "CaseEvent",
    "CasePriority",
    "CaseStatus",
    "Coverage",
    "Payment",
    "PaymentMethod",
    "RadiologistProfile",
    "Referral",
    "ReferralSource",
    "Subspecialty",
    "new_case_id",
]
