"""Who reads a ready case: the subspecialty table, the choice policy, and locked assignment.

The policy is pure (:func:`subspecialty_preferences`, :func:`choose_radiologist`); the
database part takes row locks so that two API processes never assign one case twice
(``SELECT ... FOR UPDATE SKIP LOCKED`` on the case, ``FOR UPDATE`` on the radiologist
profiles so weekly capacity is counted once; SQLite serialises writers with
``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import Actor, record_event
from server.cases.models import Case, CaseStatus, RadiologistProfile, Subspecialty
from server.cases.rules import age_in_years
from server.cases.transitions import transition
from server.db import utcnow

#: Where the service runs: its week starts on Monday, local time.
SERVICE_ZONE = ZoneInfo("America/Toronto")
PEDIATRIC_AGE = 18
CASE_PROVINCE = "ON"


@dataclass(frozen=True)
class SubspecialtyRule:
    """Any keyword found in the body part or study description (and, if given, one of the
    modalities) sends the case to ``subspecialty``. The first matching rule wins."""

    subspecialty: Subspecialty
    keywords: tuple[str, ...]
    modalities: frozenset[str] | None = None


SUBSPECIALTY_RULES: tuple[SubspecialtyRule, ...] = (
    SubspecialtyRule(Subspecialty.BREAST, ("BREAST", "MAMMO")),
    SubspecialtyRule(Subspecialty.BREAST, (), frozenset({"MG"})),
    SubspecialtyRule(Subspecialty.CARDIAC, ("HEART", "CARDIAC", "CORONARY", "CALCIUM SCORE")),
    SubspecialtyRule(
        Subspecialty.HEAD_AND_NECK,
        (
            "NECK",
            "SINUS",
            "ORBIT",
            "TEMPORAL BONE",
            "FACE",
            "FACIAL",
            "THYROID",
            "LARYNX",
            "PAROTID",
            "MANDIBLE",
            "JAW",
        ),
    ),
    SubspecialtyRule(
        Subspecialty.NEURO,
        ("BRAIN", "HEAD", "SKULL", "PITUITARY", "IAC", "SPINE", "CSPINE", "TSPINE", "LSPINE"),
    ),
    SubspecialtyRule(
        Subspecialty.MSK,
        (
            "KNEE",
            "SHOULDER",
            "HIP",
            "ANKLE",
            "WRIST",
            "ELBOW",
            "HAND",
            "FOOT",
            "EXTREMITY",
            "JOINT",
            "ARM",
            "LEG",
            "FEMUR",
            "HUMERUS",
            "PELVIS BONE",
        ),
    ),
    SubspecialtyRule(
        Subspecialty.BODY,
        (
            "ABDOMEN",
            "ABD",
            "PELVIS",
            "LIVER",
            "KIDNEY",
            "RENAL",
            "PANCREAS",
            "PROSTATE",
            "BOWEL",
            "ENTEROGRAPHY",
            "UROGRAM",
            "MRCP",
        ),
    ),
    SubspecialtyRule(Subspecialty.CHEST, ("CHEST", "LUNG", "THORAX", "PULMONARY")),
)


def _words(*texts: str | None) -> str:
    """Upper-case text padded with spaces, punctuation turned to spaces, for word search."""
    joined = " ".join(t for t in texts if t)
    cleaned = "".join(c if c.isalnum() else " " for c in joined.upper())
    return f" {' '.join(cleaned.split())} "


def subspecialty_for(
    modality: str | None, body_part: str | None, study_description: str | None
) -> Subspecialty:
    """The subspecialty a study belongs to (``general`` if no rule matches)."""
    text = _words(body_part, study_description)
    mod = (modality or "").upper()
    for rule in SUBSPECIALTY_RULES:
        if rule.modalities is not None and mod not in rule.modalities:
            continue
        if not rule.keywords or any(f" {k} " in text for k in rule.keywords):
            return rule.subspecialty
    return Subspecialty.GENERAL


def subspecialty_preferences(
    modality: str | None,
    body_part: str | None,
    study_description: str | None,
    *,
    patient_age: int | None = None,
) -> tuple[Subspecialty, ...]:
    """Subspecialties to try, best first; always ends with ``general``."""
    prefs: list[Subspecialty] = []
    if patient_age is not None and patient_age < PEDIATRIC_AGE:
        prefs.append(Subspecialty.PEDIATRIC)
    organ = subspecialty_for(modality, body_part, study_description)
    if organ not in prefs:
        prefs.append(organ)
    if Subspecialty.GENERAL not in prefs:
        prefs.append(Subspecialty.GENERAL)
    return tuple(prefs)


@dataclass(frozen=True)
class Candidate:
    """A radiologist as the policy sees them."""

    user_id: int
    subspecialties: frozenset[str]
    province: str
    weekly_capacity: int
    assigned_this_week: int
    open_cases: int

    @property
    def spare(self) -> int:
        return self.weekly_capacity - self.assigned_this_week


def choose_radiologist(
    candidates: Iterable[Candidate],
    preferences: Sequence[Subspecialty],
    *,
    province: str = CASE_PROVINCE,
) -> Candidate | None:
    """The licensed candidate with spare capacity in the first preferred subspecialty that
    has any; among them the most spare capacity, then fewest open cases, then lowest id."""
    able = [c for c in candidates if c.province == province and c.spare > 0]
    for wanted in preferences:
        fitting = [c for c in able if wanted.value in c.subspecialties]
        if fitting:
            return min(fitting, key=lambda c: (-c.spare, c.open_cases, c.user_id))
    return None


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of ``now``'s week in the service's zone, as an aware datetime."""
    local = now.astimezone(SERVICE_ZONE)
    monday = local.date() - timedelta(days=local.weekday())
    return datetime.combine(monday, time(0), tzinfo=SERVICE_ZONE)


def load_candidates(session: Session, *, now: datetime, lock: bool) -> list[Candidate]:
    """Active radiologists with a profile and their load; ``lock`` takes their profile rows."""
    profiles_q = (
        select(RadiologistProfile)
        .join(User, User.id == RadiologistProfile.user_id)
        .where(
            User.role == Role.RADIOLOGIST,
            User.is_active.is_(True),
            RadiologistProfile.accepting.is_(True),
        )
        .order_by(RadiologistProfile.user_id)
    )
    if lock:
        profiles_q = profiles_q.with_for_update(of=RadiologistProfile)
    profiles = list(session.scalars(profiles_q))
    if not profiles:
        return []
    ids = [p.user_id for p in profiles]
    since = week_start(now)
    this_week = dict(
        session.execute(
            select(Case.assigned_radiologist_id, func.count())
            .where(Case.assigned_radiologist_id.in_(ids), Case.assigned_at >= since)
            .group_by(Case.assigned_radiologist_id)
        ).all()
    )
    open_now = dict(
        session.execute(
            select(Case.assigned_radiologist_id, func.count())
            .where(
                Case.assigned_radiologist_id.in_(ids),
                Case.status.in_((CaseStatus.ASSIGNED, CaseStatus.READING)),
            )
            .group_by(Case.assigned_radiologist_id)
        ).all()
    )
    return [
        Candidate(
            user_id=p.user_id,
            subspecialties=frozenset(p.subspecialties or ()),
            province=p.licence_province,
            weekly_capacity=p.weekly_capacity,
            assigned_this_week=this_week.get(p.user_id, 0),
            open_cases=open_now.get(p.user_id, 0),
        )
        for p in profiles
    ]


def preferences_for(case: Case, *, today: date) -> tuple[Subspecialty, ...]:
    return subspecialty_preferences(
        case.modality,
        case.body_part,
        case.study_description,
        patient_age=age_in_years(case.patient_birth_date, case.study_date or today),
    )


def auto_assign(session: Session, *, case: Case, actor: Actor, now: datetime | None = None) -> bool:
    """Assign a ready case (its row already locked by the caller) if anyone fits.

    Returns whether it was assigned; the caller commits.
    """
    if case.status is not CaseStatus.READY:
        return False
    now = now or utcnow()
    chosen = choose_radiologist(
        load_candidates(session, now=now, lock=True), preferences_for(case, today=now.date())
    )
    if chosen is None:
        return False
    case.assigned_radiologist_id = chosen.user_id
    case.assigned_at = now
    transition(session, case=case, to=CaseStatus.ASSIGNED, actor=actor, note="automatic")
    return True


def assign_ready_cases(session: Session, *, actor: Actor, limit: int = 100) -> list[str]:
    """Assign waiting ready cases, oldest first, one locked row at a time.

    Rows another transaction holds are skipped (``SKIP LOCKED``), so concurrent callers
    share the work and never assign a case twice, and never wait on a case row while
    holding other locks. Lock order everywhere: case row, audit chain head, radiologist
    profiles. Returns the ids assigned; the caller commits.
    """
    assigned: list[str] = []
    skipped: list[str] = []
    swept = False
    for _ in range(limit):
        query = (
            select(Case)
            .where(Case.status == CaseStatus.READY)
            .order_by(Case.ready_at, Case.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if skipped:
            query = query.where(Case.id.not_in(skipped))
        case = session.scalars(query).first()
        if case is None:
            break
        if not swept:  # audited once per sweep that finds work; takes the chain head
            record_event(session, actor=actor, action="case.assign_sweep", object_type="case")
            swept = True
        if auto_assign(session, case=case, actor=actor):
            assigned.append(case.id)
        else:
            skipped.append(case.id)
    return assigned
