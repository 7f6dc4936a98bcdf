"""The case state machine as data, and what a case still needs to become ready."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from server.cases.rules.money import from_cents, money
from server.cases.schemas import CaseStatus

# --------------------------------------------------------------------------- state machine

_S = CaseStatus
#: Allowed transitions: from -> the statuses it may move to. Anything else is refused.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    _S.DRAFT: frozenset({_S.SUBMITTED, _S.CANCELLED}),
    _S.SUBMITTED: frozenset({_S.READY, _S.REJECTED, _S.CANCELLED}),
    _S.READY: frozenset({_S.ASSIGNED, _S.REJECTED, _S.CANCELLED}),
    _S.ASSIGNED: frozenset({_S.READING, _S.READY, _S.REJECTED, _S.CANCELLED}),
    _S.READING: frozenset({_S.SIGNED, _S.ASSIGNED, _S.REJECTED, _S.CANCELLED}),
    _S.SIGNED: frozenset({_S.DELIVERED}),
    _S.DELIVERED: frozenset(),
    _S.REJECTED: frozenset(),
    _S.CANCELLED: frozenset(),
}
#: Statuses in which a radiologist may be (re)assigned without a status change.
REASSIGNABLE = frozenset({_S.ASSIGNED, _S.READING})
#: Statuses of a case that is not finished (its priority can still change).
OPEN_STATUSES = frozenset({_S.DRAFT, _S.SUBMITTED, _S.READY, _S.ASSIGNED, _S.READING, _S.SIGNED})
#: Statuses in which the patient may still withdraw the case themselves.
PATIENT_CANCELLABLE = frozenset({_S.DRAFT, _S.SUBMITTED, _S.READY})
#: Statuses still waiting on the radiologist (the turnaround clock runs).
CLOCK_RUNNING = frozenset({_S.READY, _S.ASSIGNED, _S.READING})


def can_transition(current: CaseStatus, target: CaseStatus) -> bool:
    return target in TRANSITIONS[current]


def transition_refusal(current: CaseStatus, target: CaseStatus) -> str | None:
    """Why the move is refused, or ``None`` if allowed."""
    if can_transition(current, target):
        return None
    if not TRANSITIONS[current]:
        return f"The case is {current} and can no longer change."
    return f"A {current} case cannot become {target}."


# --------------------------------------------------------------------------- readiness


class ReadinessFacts(Protocol):
    images_accepted_count: int
    total_owed: int
    amount_paid: int
    has_referral: bool


def is_ready(case: ReadinessFacts) -> bool:
    """Nothing is missing (:func:`missing_for_ready` is empty), asking in the order in
    which the answers cost least: a case's referrals and payments are loaded only if the
    facts before them do not already say no."""
    return (
        case.images_accepted_count > 0 and case.has_referral and case.amount_paid >= case.total_owed
    )


def missing_for_ready(case: ReadinessFacts, *, money_text: str | None = None) -> list[str]:
    """What still stands between the case and a radiologist, in plain words."""
    missing: list[str] = []
    if case.images_accepted_count <= 0:
        missing.append("Images: no study has been received and accepted yet.")
    if not case.has_referral:
        missing.append("Referral: the referral letter from your doctor has not arrived.")
    if case.amount_paid < case.total_owed:
        owed = money_text or money(from_cents(case.total_owed - case.amount_paid))
        missing.append(f"Payment: {owed} is still owed.")
    return missing


def due_at(ready_at: datetime, *, turnaround_days: int) -> datetime:
    return ready_at + timedelta(days=turnaround_days)
