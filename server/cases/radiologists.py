"""Radiologist profiles: subspecialties, province of licence, weekly capacity."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts.models import Role, User
from server.audit.service import Actor, record_event
from server.cases.assignment import Candidate, load_candidates
from server.cases.models import RadiologistProfile, Subspecialty
from server.cases.rules import PROVINCES
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid


def set_profile(
    session: Session,
    *,
    user: User,
    actor: Actor,
    subspecialties: Sequence[Subspecialty] | None = None,
    province: str | None = None,
    capacity: int | None = None,
    accepting: bool | None = None,
) -> RadiologistProfile:
    """Create or change a radiologist's profile; unset arguments keep their value."""
    if user.role is not Role.RADIOLOGIST:
        raise Conflict(f"{user.username} is not a radiologist.", field="user")
    province = province.upper() if province is not None else None
    codes = sorted({s.value for s in subspecialties}) if subspecialties is not None else None
    errors: list[FieldError] = []
    if province is not None and province not in PROVINCES:
        errors.append(FieldError("province", "not a Canadian province or territory code"))
    if capacity is not None and not 0 <= capacity <= 1000:
        errors.append(FieldError("capacity", "a number of cases per week, 0 to 1000"))
    if errors:
        raise Invalid.from_errors(errors)
    changes = {
        "subspecialties": None if codes is None else ",".join(codes),
        "province": province,
        "capacity": capacity,
        "accepting": accepting,
    }
    # The audit event first: it takes the chain-head lock before the profile row, the same
    # order as assignment (case row -> audit head -> profiles), so the two never deadlock.
    record_event(
        session,
        actor=actor,
        action="radiologist.profile",
        object_type="user",
        object_id=user.id,
        detail=" ".join(f"{k}={v}" for k, v in changes.items() if v is not None) or "no change",
    )
    profile = session.get(RadiologistProfile, user.id, with_for_update=True)
    if profile is None:
        profile = RadiologistProfile(
            user_id=user.id,
            subspecialties=[],
            licence_province="ON",
            weekly_capacity=0,
            accepting=True,
        )
        session.add(profile)
    if codes is not None:
        profile.subspecialties = codes
    if province is not None:
        profile.licence_province = province
    if capacity is not None:
        profile.weekly_capacity = capacity
    if accepting is not None:
        profile.accepting = accepting
    profile.updated_at = utcnow()
    session.flush()
    return profile


@dataclass(frozen=True)
class ProfileRow:
    username: str
    profile: RadiologistProfile
    load: Candidate | None


def list_profiles(session: Session) -> list[ProfileRow]:
    """Every radiologist profile with this week's load."""
    loads = {c.user_id: c for c in load_candidates(session, now=utcnow(), lock=False)}
    rows = session.execute(
        select(User.username, RadiologistProfile)
        .join(RadiologistProfile, RadiologistProfile.user_id == User.id)
        .order_by(User.username)
    ).all()
    return [ProfileRow(name, profile, loads.get(profile.user_id)) for name, profile in rows]
