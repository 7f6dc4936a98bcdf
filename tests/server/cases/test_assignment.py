"""Assignment: the subspecialty table, the choice policy, and locked assignment on both engines."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import SYSTEM, Actor
from server.cases import management, radiologists, referrals, service
from server.cases.assignment import (
    Candidate,
    assign_ready_cases,
    choose_radiologist,
    subspecialty_for,
    subspecialty_preferences,
    week_start,
)
from server.cases.models import Case, CaseEvent, CaseStatus, ReferralSource, Subspecialty
from server.db import make_sessionmaker
from tests.server.cases.conftest import (
    accept_images,
    make_radiologist,
    ready_case,
    submitted_case,
)
from tests.server.factories import add_user

N = Subspecialty


@pytest.mark.parametrize(
    ("modality", "body_part", "description", "expected"),
    [
        ("MR", "BRAIN", "MR BRAIN WO/W", N.NEURO),
        ("CT", "HEAD", "CT HEAD WITHOUT CONTRAST", N.NEURO),
        ("MR", "LSPINE", "MR LUMBAR SPINE", N.NEURO),
        ("CT", "NECK", "CT NECK WITH CONTRAST", N.HEAD_AND_NECK),
        ("CT", "HEADNECK", "CT SINUS", N.HEAD_AND_NECK),
        ("MR", None, "MR ORBITS", N.GENERAL),  # "ORBITS" is not the word "ORBIT"
        ("MR", "KNEE", "MR KNEE LEFT", N.MSK),
        ("MR", "SHOULDER", None, N.MSK),
        ("CT", "CHEST", "CT CHEST HIGH RESOLUTION", N.CHEST),
        ("CT", "CHEST", "CT CORONARY ANGIOGRAM", N.CARDIAC),
        ("MR", "HEART", "CARDIAC MR", N.CARDIAC),
        ("CT", "ABDOMEN", "CT ABDOMEN PELVIS", N.BODY),
        ("CT", "CHEST", "CT CHEST ABDOMEN PELVIS", N.BODY),
        ("MR", "PROSTATE", "MR PROSTATE MULTIPARAMETRIC", N.BODY),
        ("MR", "BREAST", "MR BREAST BILATERAL", N.BREAST),
        ("MG", None, None, N.BREAST),
        ("CT", None, None, N.GENERAL),
        ("CT", "WHOLEBODY", "CT TRAUMA", N.GENERAL),
        (None, "brain", "mr brain", N.NEURO),  # case-insensitive
    ],
)
def test_subspecialty_table(
    modality: str | None, body_part: str | None, description: str | None, expected: Subspecialty
) -> None:
    assert subspecialty_for(modality, body_part, description) is expected


@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (None, (N.NEURO, N.GENERAL)),
        (45, (N.NEURO, N.GENERAL)),
        (17, (N.PEDIATRIC, N.NEURO, N.GENERAL)),
        (0, (N.PEDIATRIC, N.NEURO, N.GENERAL)),
        (18, (N.NEURO, N.GENERAL)),
    ],
)
def test_preferences(age: int | None, expected: tuple[Subspecialty, ...]) -> None:
    assert subspecialty_preferences("MR", "BRAIN", None, patient_age=age) == expected


def test_preferences_of_a_general_study_are_just_general() -> None:
    assert subspecialty_preferences("CT", None, None) == (N.GENERAL,)


def cand(uid: int, subs: str, *, cap: int = 10, week: int = 0, open_: int = 0, prov: str = "ON"):
    return Candidate(uid, frozenset(subs.split(",")), prov, cap, week, open_)


NEURO = (N.NEURO, N.GENERAL)


@pytest.mark.parametrize(
    ("candidates", "prefs", "chosen"),
    [
        ([], NEURO, None),
        ([cand(1, "neuro")], NEURO, 1),
        ([cand(1, "msk"), cand(2, "neuro")], NEURO, 2),
        # most spare capacity wins
        ([cand(1, "neuro", cap=10, week=5), cand(2, "neuro", cap=10, week=2)], NEURO, 2),
        ([cand(1, "neuro", cap=20, week=5), cand(2, "neuro", cap=10, week=2)], NEURO, 1),
        # tie on spare: fewest open cases, then lowest id
        ([cand(3, "neuro", open_=2), cand(2, "neuro", open_=1)], NEURO, 2),
        ([cand(3, "neuro"), cand(2, "neuro")], NEURO, 2),
        # full or unlicensed in Ontario: not eligible
        ([cand(1, "neuro", cap=3, week=3)], NEURO, None),
        ([cand(1, "neuro", prov="BC")], NEURO, None),
        ([cand(1, "neuro", cap=0)], NEURO, None),
        # no subspecialist: fall back to general
        ([cand(1, "msk"), cand(2, "general")], NEURO, 2),
        ([cand(1, "neuro", cap=1, week=1), cand(2, "general")], NEURO, 2),
        ([cand(1, "msk")], NEURO, None),
        # a subspecialist is preferred to a general radiologist with more room
        ([cand(1, "general", cap=50), cand(2, "neuro,general", cap=5)], NEURO, 2),
        # pediatric first for a child
        ([cand(1, "neuro"), cand(2, "pediatric")], (N.PEDIATRIC, *NEURO), 2),
    ],
)
def test_choose_radiologist(
    candidates: list[Candidate], prefs: tuple[Subspecialty, ...], chosen: int | None
) -> None:
    found = choose_radiologist(candidates, prefs)
    assert (found.user_id if found else None) == chosen


def test_week_starts_monday_in_toronto() -> None:
    # Sunday 2026-11-29 23:30 Toronto = Monday 04:30 UTC: still the week of Monday 11-23.
    start = week_start(datetime(2026, 11, 30, 4, 30, tzinfo=UTC))
    assert start.date().isoformat() == "2026-11-23"
    assert start.astimezone(UTC).hour == 5  # midnight EST


# --------------------------------------------------------------------------- with a database


def test_ready_case_is_assigned_to_a_subspecialist(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    make_radiologist(db, subspecialties=("msk",), capacity=30)
    neuro = make_radiologist(db, subspecialties=("neuro",), capacity=5)
    case = ready_case(db, patient=patient)
    assert case.status is CaseStatus.ASSIGNED
    assert case.assigned_radiologist_id == neuro.id
    assert case.due_at - case.ready_at == timedelta(days=7)
    statuses = [e.to_status for e in case.events]
    assert statuses == [
        CaseStatus.DRAFT,
        CaseStatus.SUBMITTED,
        CaseStatus.READY,
        CaseStatus.ASSIGNED,
    ]


def test_without_anyone_eligible_the_case_stays_ready(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    make_radiologist(db, subspecialties=("msk",))
    make_radiologist(db, subspecialties=("neuro",), province="BC")
    case = ready_case(db, patient=patient)
    assert case.status is CaseStatus.READY
    assert case.assigned_radiologist_id is None
    assert service.missing(case)[0].startswith("Radiologist")
    assert [c.id for c in management.cases_by_status(db, statuses=[CaseStatus.READY])] == [case.id]


def test_general_radiologist_is_the_fallback(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    general = make_radiologist(db, subspecialties=("general",))
    case = ready_case(db, patient=patient, body_part="KNEE", description="MR KNEE")
    assert case.assigned_radiologist_id == general.id


def test_weekly_capacity_is_respected_and_the_sweep_assigns_later(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    first = make_radiologist(db, subspecialties=("neuro",), capacity=1)
    one = ready_case(db, patient=patient)
    two = ready_case(db, patient=patient)
    assert one.assigned_radiologist_id == first.id
    assert two.status is CaseStatus.READY
    second = make_radiologist(db, subspecialties=("neuro",), capacity=1)
    assert assign_ready_cases(db, actor=SYSTEM) == [two.id]
    db.commit()
    assert two.assigned_radiologist_id == second.id


def test_inactive_radiologists_are_not_chosen(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    gone = make_radiologist(db, subspecialties=("neuro",))
    gone.is_active = False
    db.commit()
    assert ready_case(db, patient=patient).status is CaseStatus.READY


# --------------------------------------------------------------------------- concurrency


@pytest.mark.parametrize("threads", [2, 4])
def test_concurrent_assignment_never_assigns_twice(
    db: Session, engine: Engine, threads: int
) -> None:
    """Several transactions sweep the same ready cases at once: every case is assigned exactly
    once and no radiologist goes past their weekly capacity.

    On PostgreSQL the sweeps really overlap (SKIP LOCKED on cases, FOR UPDATE on profiles);
    SQLite serialises them with BEGIN IMMEDIATE.
    """
    patient = add_user(db, role=Role.PATIENT)
    cases = [ready_case(db, patient=patient) for _ in range(6)]  # nobody to read them yet
    assert {c.status for c in cases} == {CaseStatus.READY}
    radiologists = [make_radiologist(db, subspecialties=("neuro",), capacity=2) for _ in range(2)]
    factory = make_sessionmaker(engine)
    barrier = threading.Barrier(threads)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def sweep(n: int) -> None:
        session = factory()
        try:
            actor = Actor(username=f"sweeper{n}", role="system")
            barrier.wait(timeout=10)
            results.append(assign_ready_cases(session, actor=actor))
            session.commit()
        except BaseException as error:  # reported below
            errors.append(error)
            session.rollback()
        finally:
            session.close()

    workers = [threading.Thread(target=sweep, args=(n,)) for n in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    assigned = [case_id for batch in results for case_id in batch]
    assert len(assigned) == len(set(assigned)) == 4  # two radiologists x capacity 2
    db.expire_all()
    counts = dict(
        db.execute(
            select(CaseEvent.case_id, func.count())
            .where(CaseEvent.to_status == CaseStatus.ASSIGNED)
            .group_by(CaseEvent.case_id)
        ).all()
    )
    assert sorted(counts) == sorted(assigned)
    assert set(counts.values()) == {1}
    per_radiologist = dict(
        db.execute(
            select(Case.assigned_radiologist_id, func.count())
            .where(Case.status == CaseStatus.ASSIGNED)
            .group_by(Case.assigned_radiologist_id)
        ).all()
    )
    assert per_radiologist == {r.id: 2 for r in radiologists}
    assert db.scalar(select(func.count()).where(Case.status == CaseStatus.READY)) == 2


def test_postgres_skips_a_case_locked_by_another_transaction(db: Session, engine: Engine) -> None:
    """While one transaction holds a ready case's row, another sweep passes over it."""
    if engine.dialect.name != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite serialises whole transactions")
    patient = add_user(db, role=Role.PATIENT)
    held, free = ready_case(db, patient=patient), ready_case(db, patient=patient)
    make_radiologist(db, subspecialties=("neuro",), capacity=10)
    factory = make_sessionmaker(engine)
    holder, sweeper = factory(), factory()
    try:
        holder.scalars(select(Case).where(Case.id == held.id).with_for_update()).one()
        assert assign_ready_cases(sweeper, actor=SYSTEM) == [free.id]
        sweeper.commit()
        holder.rollback()
        assert assign_ready_cases(sweeper, actor=SYSTEM) == [held.id]
        sweeper.commit()
    finally:
        holder.close()
        sweeper.close()


def test_mixed_concurrent_writers_do_not_deadlock(db: Session, engine: Engine) -> None:
    """Sweeps, referrals that make cases ready (and assign them), and a profile change, all at
    once: every transaction commits (consistent lock order: case row, audit head, profiles),
    no case is assigned twice, and capacity holds."""
    patient = add_user(db, role=Role.PATIENT)
    waiting = [ready_case(db, patient=patient) for _ in range(3)]  # ready, nobody to read
    pending = [submitted_case(db, patient=patient) for _ in range(3)]
    for case in pending:
        accept_images(db, case)  # only the referral is missing
    rads = [make_radiologist(db, subspecialties=("neuro",), capacity=2) for _ in range(2)]
    factory = make_sessionmaker(engine)
    barrier = threading.Barrier(2 + len(pending) + 1)
    errors: list[BaseException] = []

    def in_transaction(work) -> None:
        session = factory()
        try:
            barrier.wait(timeout=10)
            work(session)
            session.commit()
        except BaseException as error:  # reported below
            errors.append(error)
            session.rollback()
        finally:
            session.close()

    def sweep(session: Session) -> None:
        assign_ready_cases(session, actor=SYSTEM)

    def referral_for(case_id: str):
        def work(session: Session) -> None:
            case = session.scalars(select(Case).where(Case.id == case_id).with_for_update()).one()
            referrals.attach_referral(
                session,
                case=case,
                sha256=None,
                size=None,
                source=ReferralSource.FAX,
                actor=SYSTEM,
            )

        return work

    def grow(session: Session) -> None:
        radiologists.set_profile(
            session, user=session.get(User, rads[0].id), actor=SYSTEM, capacity=3
        )

    jobs = [sweep, sweep, grow, *(referral_for(c.id) for c in pending)]
    workers = [threading.Thread(target=in_transaction, args=(job,)) for job in jobs]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert not errors, errors
    db.expire_all()
    counts = db.execute(
        select(CaseEvent.case_id, func.count())
        .where(CaseEvent.to_status == CaseStatus.ASSIGNED)
        .group_by(CaseEvent.case_id)
    ).all()
    assert {n for _case, n in counts} == {1}
    per_radiologist = dict(
        db.execute(
            select(Case.assigned_radiologist_id, func.count())
            .where(Case.status == CaseStatus.ASSIGNED)
            .group_by(Case.assigned_radiologist_id)
        ).all()
    )
    assert per_radiologist[rads[1].id] == 2
    assert per_radiologist.get(rads[0].id, 0) <= 3
    statuses = {db.get(Case, c.id).status for c in [*waiting, *pending]}
    assert statuses <= {CaseStatus.READY, CaseStatus.ASSIGNED}
    assert sum(per_radiologist.values()) >= 4


def test_mid_upload_report_does_not_make_the_case_ready(db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    make_radiologist(db, subspecialties=("neuro",))
    case = submitted_case(db, patient=patient)
    referrals.attach_referral(
        db, case=case, sha256=None, size=None, source=ReferralSource.FAX, actor=SYSTEM
    )
    db.commit()
    service.record_images_accepted(
        db,
        case=case,
        image_count=50,
        modality="MR",
        body_part="BRAIN",
        study_description="MR BRAIN",
        study_date=None,
        actor=SYSTEM,
        reevaluate=False,
    )
    db.commit()
    assert case.status is CaseStatus.SUBMITTED
    service.record_images_accepted(
        db,
        case=case,
        image_count=120,
        modality="MR",
        body_part="BRAIN",
        study_description="MR BRAIN",
        study_date=None,
        actor=SYSTEM,
    )
    db.commit()
    assert case.status is CaseStatus.ASSIGNED
    assert case.images_accepted_count == 120


def _report_ct(
    db: Session,
    case: Case,
    count: int,
    description: str,
    *,
    series_count: int | None = None,
    study_instance_uid: str | None = None,
) -> None:
    """Imaging's report of ``count`` CT images, not yet judged for readiness."""
    service.record_images_accepted(
        db,
        case=case,
        image_count=count,
        modality="CT",
        body_part="CHEST",
        study_description=description,
        study_date=None,
        actor=SYSTEM,
        reevaluate=False,
        series_count=series_count,
        study_instance_uid=study_instance_uid,
    )


def test_images_reported_are_written_and_the_case_object_agrees(
    db: Session, engine: Engine
) -> None:
    """The image summary reaches the case's row (read by another session) and the caller's
    object, which is left with nothing pending; a later report replaces it."""
    case = submitted_case(db, patient=add_user(db, role=Role.PATIENT))
    before = case.updated_at
    _report_ct(db, case, 40, "CT CHEST", series_count=2, study_instance_uid="1.2.3.4")
    assert not db.dirty
    assert case.images_accepted_count == 40
    assert case.updated_at > before
    db.commit()
    _report_ct(db, case, 55, "CT CHEST WITH CONTRAST")
    db.commit()
    with make_sessionmaker(engine)() as other:
        stored = other.get(Case, case.id)
        assert stored is not None
        assert (stored.images_accepted_count, stored.series_count) == (55, 2)
        assert stored.study_description == "CT CHEST WITH CONTRAST"
        assert stored.study_instance_uid == "1.2.3.4"  # kept when not told again
        assert stored.images_accepted_at is not None


def test_readiness_sees_a_referral_filed_by_another_session(db: Session, engine: Engine) -> None:
    """The referral check asks the database when the case's referrals are not loaded, so
    a referral filed meanwhile by another request counts."""
    make_radiologist(db, subspecialties=("neuro",))
    case = submitted_case(db, patient=add_user(db, role=Role.PATIENT))
    with make_sessionmaker(engine)() as reader:
        fresh = reader.get(Case, case.id)
        assert fresh is not None
        assert not fresh.has_referral
        assert "referrals" not in fresh.__dict__  # asked, not loaded
        reader.commit()
        referrals.attach_referral(
            db, case=case, sha256=None, size=None, source=ReferralSource.FAX, actor=SYSTEM
        )
        db.commit()
        assert fresh.has_referral
        accept_images(reader, fresh)
        assert fresh.status is CaseStatus.ASSIGNED
