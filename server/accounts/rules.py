"""Account rules, pure: what a username, email and password must be, and login throttling."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from zxcvbn import zxcvbn

from server.accounts.schemas import PASSWORD_MAX_LENGTH, is_storable
from server.config import Settings

#: zxcvbn's score (0–4) a password must reach: 3 is "safely unguessable" offline-ish.
PASSWORD_MIN_SCORE = 3
#: Personal words shorter than this are too common to refuse inside a password.
PERSONAL_WORD_MIN_LENGTH = 3

USERNAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{2,63}$"
USERNAME_RULE = (
    "must be 3–64 characters: lowercase letters, digits, dots, dashes or underscores, "
    "starting with a letter or digit"
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s.]+(\.[^@\s.]+)+$")


def normalise_username(text: str) -> str:
    """Usernames are compared case-insensitively: stored and looked up in lower case."""
    return text.strip().lower()


def username_problem(username: str) -> str | None:
    return None if re.fullmatch(USERNAME_PATTERN, username) else USERNAME_RULE


def normalise_email(text: str) -> str:
    return text.strip().lower()


def email_problem(email: str) -> str | None:
    if len(email) > 254 or not is_storable(email) or not _EMAIL.fullmatch(email):
        return "is not an email address (name@example.com)"
    return None


def full_name_problem(full_name: str) -> str | None:
    if not full_name.strip():
        return "must not be empty"
    if len(full_name) > 200:
        return "must be at most 200 characters long"
    if not is_storable(full_name):
        return "must not contain control characters"
    return None


def personal_words(*, username: str, email: str, full_name: str) -> list[str]:
    """The words of a person's identity a password must not contain (case-folded)."""
    words = [username, email.partition("@")[0], *re.split(r"[\W_]+", full_name)]
    found: list[str] = []
    for word in (w.casefold() for w in words):
        if len(word) >= PERSONAL_WORD_MIN_LENGTH and word not in found:
            found.append(word)
    return found


def password_problem(
    password: str, *, min_length: int, username: str, email: str, full_name: str
) -> str | None:
    """Why ``password`` is refused, in words its owner understands; None when it is fine."""
    if len(password) < min_length:
        return f"must be at least {min_length} characters long"
    if len(password) > PASSWORD_MAX_LENGTH:
        return f"must be at most {PASSWORD_MAX_LENGTH} characters long"
    personal = personal_words(username=username, email=email, full_name=full_name)
    folded = password.casefold()
    if any(word in folded for word in personal):
        return "must not contain your name, username or email address"
    verdict = zxcvbn(password, user_inputs=personal, max_length=PASSWORD_MAX_LENGTH)
    if verdict["score"] < PASSWORD_MIN_SCORE:
        hints = [verdict["feedback"]["warning"], *verdict["feedback"]["suggestions"]]
        advice = " ".join(h for h in hints if h)
        return "is too easy to guess" + (f". {advice}" if advice else "")
    return None


@dataclass(frozen=True)
class LockoutPolicy:
    """``failures`` failed logins within ``window`` lock the account for ``duration``."""

    failures: int
    window: timedelta
    duration: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> LockoutPolicy:
        return cls(
            failures=settings.lockout_failures,
            window=timedelta(minutes=settings.lockout_window_minutes),
            duration=timedelta(minutes=settings.lockout_minutes),
        )


@dataclass(frozen=True)
class FailureState:
    """An account's recent failed logins."""

    count: int = 0
    first_at: datetime | None = None
    locked_until: datetime | None = None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until


def after_failure(state: FailureState, *, now: datetime, policy: LockoutPolicy) -> FailureState:
    """The state after one more failed login at ``now``.

    Failures are counted in a window opened by the first of them; reaching the limit
    locks the account and starts counting afresh. Failures while locked are not counted,
    so nobody can keep someone else's account locked by hammering it.
    """
    if state.is_locked(now):
        return state
    if state.first_at is None or now - state.first_at >= policy.window:
        count, first_at = 1, now
    else:
        count, first_at = state.count + 1, state.first_at
    if count >= policy.failures:
        return FailureState(count=0, first_at=None, locked_until=now + policy.duration)
    return FailureState(count=count, first_at=first_at, locked_until=state.locked_until)
