"""Time-based one-time passwords (RFC 6238): 6 digits, 30-second steps, SHA-1."""

from __future__ import annotations

import hmac
import re
from datetime import datetime

import pyotp

STEP_SECONDS = 30
#: Steps either side of now that are still accepted (clock drift between phone and server).
DRIFT_STEPS = 1
ISSUER = "Readroom"
_CODE = re.compile(r"[0-9]{6}")


def new_secret() -> str:
    """A random base32 secret of 160 bits (RFC 4226 §4 recommends at least 128)."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def matching_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The time step ``code`` belongs to, within ±DRIFT_STEPS of ``now`` and later than
    ``last_step`` (a code is good once); None when it does not match."""
    code = code.replace(" ", "")
    if not _CODE.fullmatch(code):
        return None
    current = time_step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None
