"""Who may see which case: the one place every case lookup goes through."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import Select, select
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


def _visible_to(query: Select[tuple[Case]], principal: CasePrincipal) -> Select[tuple[Case]] | None:
    """``query`` narrowed to the cases ``principal`` may see; None when they may see none.

    A patient sees their own cases, a radiologist the cases assigned to them, an admin all.
    """
    if principal.role is Role.PATIENT:
        return query.where(Case.patient_user_id == principal.user_id)
    if principal.role is Role.RADIOLOGIST:
        return query.where(Case.assigned_radiologist_id == principal.user_id)
    if principal.role is Role.ADMIN:
        return query
    return None


def load_case_for(
    session: Session, *, principal: CasePrincipal, case_id: str, for_update: bool = False
) -> Case:
    """The case if ``principal`` may see it, else :class:`NotFound` (existence never revealed).

    ``for_update`` locks the row (``SELECT ... FOR UPDATE`` on PostgreSQL).
    """
    if not is_case_id(case_id):
        raise NotFound("No such case among yours.", field="case_id")
    query = _visible_to(select(Case).where(Case.id == case_id), principal)
    if query is None:
        raise not_found(case_id)
    if for_update:
        query = query.with_for_update()
    case = session.scalars(query).first()
    if case is None:
        raise not_found(case_id)
    return case


def cases_visible_to(session: Session, *, principal: CasePrincipal) -> list[Case]:
    """Every case ``principal`` may see, newest first (the same rule as :func:`load_case_for`)."""
    query = _visible_to(select(Case).order_by(Case.created_at.desc(), Case.id), principal)
    return [] if query is None else list(session.scalars(query))
