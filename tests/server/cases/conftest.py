"""Synthetic case details and shortcuts that bring a case to a given state."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import SYSTEM
from server.cases import radiologists, referrals, service
from server.cases.models import Case, ReferralSource, Subspecialty
from server.db import utcnow
from tests.server.factories import add_user

#: A synthetic Ontario patient (the health card number passes the check digit).
ONTARIO: dict[str, str] = {
    "patient_family_name": "Testperson",
    "patient_given_names": "Alex Q",
    "patient_birth_date": "1970-01-31",
    "patient_sex": "F",
    "patient_address_line1": "1 Example Street",
    "patient_city": "Toronto",
    "patient_province": "ON",
    "patient_postal_code": "m5h2n2",
    "patient_phone": "416-555-0123",
    "patient_email": "alex@example.test",
    "patient_health_card_number": "9876-543-217",
    "patient_health_card_version": "ab",
    "physician_name": "Dr. Sam Example",
    "physician_cpso_number": "12345",
    "physician_address": "2 Clinic Road, Toronto, ON M4W 1A1",
    "physician_phone": "(416) 555-0100",
    "physician_fax": "416.555.0199",
    "clinical_question": "Persistent headache; any mass?",
    "exam_requested": "MR brain",
}
#: A synthetic British Columbia patient: not covered, pays the private fee.
BRITISH_COLUMBIA: dict[str, str] = {
    **{k: v for k, v in ONTARIO.items() if not k.startswith("patient_health_card")},
    "patient_city": "Vancouver",
    "patient_province": "BC",
    "patient_postal_code": "V6B 1A1",
    "patient_phone": "604 555 0123",
}


def ontario(**changes: str) -> dict[str, str]:
    return {**ONTARIO, **changes}


def new_case(db: Session, *, patient: User | int, details: dict[str, str] | None = None) -> Case:
    patient_id = patient if isinstance(patient, int) else patient.id
    case = service.create_case(
        db, patient_user_id=patient_id, details=details or ONTARIO, actor=SYSTEM
    )
    db.commit()
    return case


def submitted_case(
    db: Session, *, patient: User | int, details: dict[str, str] | None = None
) -> Case:
    case = new_case(db, patient=patient, details=details)
    service.submit_case(db, case=case, actor=SYSTEM)
    db.commit()
    return case


def accept_images(
    db: Session,
    case: Case,
    *,
    modality: str = "MR",
    body_part: str = "BRAIN",
    description: str = "MR BRAIN WO",
    count: int = 120,
    series: int = 4,
) -> Case:
    service.record_images_accepted(
        db,
        case=case,
        image_count=count,
        modality=modality,
        body_part=body_part,
        study_description=description,
        study_date=date.today() - timedelta(days=10),
        actor=SYSTEM,
        series_count=series,
        study_instance_uid="1.2.826.0.1.3680043.10.999.1",
    )
    db.commit()
    return case


def add_referral(db: Session, case: Case, *, source: ReferralSource = ReferralSource.FAX) -> None:
    referrals.attach_referral(db, case=case, sha256=None, size=None, source=source, actor=SYSTEM)
    db.commit()


def ready_case(db: Session, *, patient: User | int, **images: Any) -> Case:
    """A covered case with images and referral in: ready (or assigned, if anyone fits)."""
    case = submitted_case(db, patient=patient)
    accept_images(db, case, **images)
    add_referral(db, case)
    return case


def make_radiologist(
    db: Session,
    *,
    user: User | None = None,
    subspecialties: tuple[str, ...] = ("neuro",),
    province: str = "ON",
    capacity: int = 10,
) -> User:
    user = user or add_user(db, role=Role.RADIOLOGIST)
    radiologists.set_profile(
        db,
        user=user,
        actor=SYSTEM,
        subspecialties=[Subspecialty(s) for s in subspecialties],
        province=province,
        capacity=capacity,
    )
    db.commit()
    return user


@pytest.fixture
def patient_user(db: Session) -> User:
    user = add_user(db, role=Role.PATIENT)
    db.commit()
    return user


CaseMaker = Callable[..., Case]


def today() -> date:
    return utcnow().date()
