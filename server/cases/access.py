"""Who may see which case: the one place every case lookup goes through."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import BindParameter, Select, bindparam, select
from sqlalchemy.orm import Session

from server.accounts.models import Role
from server.cases.models import Case, is_case_id
from server.problems import NotFound


class CasePrincipal(Protocol):
    """What access needs of a caller (``server.accounts.deps.Principal`` fits)."""

    @property
    def user_id(self) -> int: ...

    @property
    def role(self) -> Role: ...


def not_found(case_id: str) -> NotFound:
    return NotFound(f"No case {case_id} among yours.", field="case_id")


def _visible_to(
    query: Select[tuple[Case]], role: Role, user_id: int | BindParameter[int]
) -> Select[tuple[Case]] | None:
    """``query`` narrowed to the cases a ``role`` user may see; None when they may see none.

    A patient sees their own cases, a radiologist the cases assigned to them, an admin all.
    """
    if role is Role.PATIENT:
        return query.where(Case.patient_user_id == user_id)
    if role is Role.RADIOLOGIST:
        return query.where(Case.assigned_radiologist_id == user_id)
    if role is Role.ADMIN:
        return query
    return None


def _one_case_for(role: Role, for_update: bool) -> Select[tuple[Case]] | None:
    by_id = select(Case).where(Case.id == bindparam("case_id"))
    query = _visible_to(by_id, role, bindparam("user_id"))
    return query.with_for_update() if query is not None and for_update else query


#: One case as each role may see it, locked or not: built once (every case route asks).
_ONE_CASE_FOR = {
    (role, for_update): _one_case_for(role, for_update)
    for role in Role
    for for_update in (False, True)
}


def load_case_for(
    session: Session, *, principal: CasePrincipal, case_id: str, for_update: bool = False
) -> Case:
    """The case if ``principal`` may see it, else :class:`NotFound` (existence never revealed).

    ``for_update`` locks the row (``SELECT ... FOR UPDATE`` on PostgreSQL).
    """
    if not is_case_id(case_id):
        raise NotFound("No such case among yours.", field="case_id")
    query = _ONE_CASE_FOR.get((principal.role, for_update))
    if query is None:
        raise not_found(case_id)
    case = session.scalars(query, {"case_id": case_id, "user_id": principal.user_id}).first()
    if case is None:
        raise not_found(case_id)
    return case


def cases_visible_to(session: Session, *, principal: CasePrincipal) -> list[Case]:
    """Every case ``principal`` may see, newest first (the same rule as :func:`load_case_for`)."""
    query = _visible_to(
        select(Case).order_by(Case.created_at.desc(), Case.id), principal.role, principal.user_id
    )
    return [] if query is None else list(session.scalars(query))
