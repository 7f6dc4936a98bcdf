"""Radiologists' routes: the worklist, the reading lock and the full reading view."""

from __future__ import annotations

from fastapi import APIRouter

from server.accounts.deps import RadiologistUser
from server.audit.service import record_case_event, record_event
from server.cases import reading
from server.cases.access import load_case_for
from server.cases.schemas import ReadingCase, ReadingLockRead, WorklistItem
from server.deps import SessionDep, SettingsDep
from server.problems import problem_responses

router = APIRouter(tags=["worklist"], responses=problem_responses(401, 403, 404, 409))


@router.get("/worklist", summary="The caller's assigned cases")
def get_worklist(principal: RadiologistUser, session: SessionDep) -> list[WorklistItem]:
    items = reading.worklist(session, radiologist_id=principal.user_id)
    record_event(
        session, actor=principal.actor, action="worklist.read", detail=f"{len(items)} cases"
    )
    session.commit()
    return items


@router.post("/cases/{case_id}/open", summary="Start reading: take the lock")
def open_case(
    case_id: str, principal: RadiologistUser, session: SessionDep, settings: SettingsDep
) -> ReadingLockRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    lock = reading.open_case(
        session,
        case=case,
        radiologist_id=principal.user_id,
        actor=principal.actor,
        lock_minutes=settings.reading_lock_minutes,
    )
    session.commit()
    return lock


@router.post("/cases/{case_id}/heartbeat", summary="Renew the reading lock")
def heartbeat(
    case_id: str, principal: RadiologistUser, session: SessionDep, settings: SettingsDep
) -> ReadingLockRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    lock = reading.heartbeat(
        session,
        case=case,
        radiologist_id=principal.user_id,
        lock_minutes=settings.reading_lock_minutes,
    )
    session.commit()
    return lock


@router.get("/cases/{case_id}/reading", summary="Everything to read the case")
def get_reading(case_id: str, principal: RadiologistUser, session: SessionDep) -> ReadingCase:
    case = load_case_for(session, principal=principal, case_id=case_id)
    view = reading.reading_view(case, radiologist_id=principal.user_id)
    record_case_event(
        session,
        actor=principal.actor,
        action="case.read_full",
        case_id=case.id,
    )
    session.commit()
    return view
