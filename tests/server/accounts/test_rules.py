"""The pure account rules: password policy, lockout arithmetic, TOTP matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from server.accounts import totp
from server.accounts.rules import (
    FailureState,
    LockoutPolicy,
    after_failure,
    email_problem,
    password_problem,
    personal_words,
    username_problem,
)

STRONG = "correct horse battery staple 42"
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
POLICY = LockoutPolicy(failures=5, window=timedelta(minutes=15), duration=timedelta(minutes=15))


def _problem(password: str) -> str | None:
    return password_problem(
        password,
        min_length=12,
        username="jsmith",
        email="jordan.s@example.com",
        full_name="Jordan Q Smithers",
    )


def test_strong_password_is_accepted() -> None:
    assert _problem(STRONG) is None


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short1!", "at least 12 characters"),
        ("x" * 129, "at most 128"),
        ("password1234", "too easy to guess"),
        ("aaaaaaaaaaaaaaaa", "too easy to guess"),
        ("jsmith horse battery 42", "must not contain your name"),
        ("Jordan staple battery 42", "must not contain your name"),
        ("smithers staple battery 42", "must not contain your name"),
        ("JORDAN.S staple battery 42", "must not contain your name"),
    ],
)
def test_password_refusals_say_why(password: str, words: str) -> None:
    problem = _problem(password)
    assert problem is not None
    assert words in problem


def test_name_parts_shorter_than_three_do_not_count() -> None:
    assert personal_words(username="qa1", email="qa@example.com", full_name="Q Li Smith") == [
        "qa1",
        "smith",
    ]


@pytest.mark.parametrize("name", ["ab", "-abc", "Abc", "a b c", "x" * 65, "abc\x00"])
def test_bad_usernames(name: str) -> None:
    assert username_problem(name) is not None


@pytest.mark.parametrize("email", ["nobody", "a@b", "a b@example.com", "a@example.com\x00"])
def test_bad_emails(email: str) -> None:
    assert email_problem(email) is not None


def test_five_failures_within_the_window_lock_the_account() -> None:
    state = FailureState()
    for minute in range(4):
        state = after_failure(state, now=NOW + timedelta(minutes=minute), policy=POLICY)
        assert not state.is_locked(NOW + timedelta(minutes=minute))
    state = after_failure(state, now=NOW + timedelta(minutes=4), policy=POLICY)
    assert state.locked_until == NOW + timedelta(minutes=19)
    assert state.is_locked(NOW + timedelta(minutes=18, seconds=59))
    assert not state.is_locked(NOW + timedelta(minutes=19))


def test_failures_outside_the_window_start_a_new_count() -> None:
    state = FailureState()
    for minute in (0, 1, 2, 3):
        state = after_failure(state, now=NOW + timedelta(minutes=minute), policy=POLICY)
    state = after_failure(state, now=NOW + timedelta(minutes=15), policy=POLICY)
    assert state == FailureState(count=1, first_at=NOW + timedelta(minutes=15))


def test_failures_while_locked_do_not_extend_the_lock() -> None:
    locked = FailureState(locked_until=NOW + timedelta(minutes=10))
    assert after_failure(locked, now=NOW, policy=POLICY) == locked


def test_totp_accepts_one_step_of_drift_and_no_more() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret)
    step = totp.time_step(NOW)
    for offset in (-1, 0, 1):
        assert (
            totp.matching_step(
                secret, code.at(NOW + timedelta(seconds=30 * offset)), now=NOW, last_step=None
            )
            == step + offset
        )
    assert (
        totp.matching_step(secret, code.at(NOW - timedelta(seconds=90)), now=NOW, last_step=None)
        is None
    )


def test_totp_code_is_good_once() -> None:
    secret = totp.new_secret()
    code = pyotp.TOTP(secret).at(NOW)
    step = totp.matching_step(secret, code, now=NOW, last_step=None)
    assert step is not None
    assert totp.matching_step(secret, code, now=NOW, last_step=step) is None


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_malformed_codes_never_match(code: str) -> None:
    assert totp.matching_step(totp.new_secret(), code, now=NOW, last_step=None) is None


def test_provisioning_uri_names_the_service_and_user() -> None:
    secret = totp.new_secret()
    uri = totp.provisioning_uri(secret, username="drlee")
    assert uri.startswith(f"otpauth://totp/Readroom:drlee?secret={secret}")
    assert "issuer=Readroom" in uri
