"""The accounts wire contract (pydantic only: the workstation imports it)."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

#: Long enough for any passphrase; longer input is refused before any hashing.
PASSWORD_MAX_LENGTH = 128


def is_storable(text: str) -> bool:
    """False for what no column or hash should receive: control characters (NUL breaks
    PostgreSQL) and lone surrogates (not encodable as UTF-8)."""
    return not any(unicodedata.category(c) in ("Cc", "Cs") for c in text)


def _storable(text: str) -> str:
    if not is_storable(text):
        raise ValueError("must not contain control characters")
    return text


#: A string of printable text (any script); the base of every text field here.
Text = Annotated[str, AfterValidator(_storable)]


class Role(StrEnum):
    PATIENT = "patient"
    RADIOLOGIST = "radiologist"
    ADMIN = "admin"

    @property
    def requires_totp(self) -> bool:
        """Radiologists and admins must use a second factor; patients may."""
        return self is not Role.PATIENT


class RegisterRequest(BaseModel):
    """A patient creating their own account."""

    username: Text = Field(max_length=64, examples=["jsmith"])
    email: Text = Field(max_length=254, examples=["jsmith@example.com"])
    full_name: Text = Field(max_length=200, examples=["Jordan Smith"])
    password: Text = Field(max_length=PASSWORD_MAX_LENGTH)


class LoginRequest(BaseModel):
    username: Text = Field(max_length=254)
    password: Text = Field(max_length=PASSWORD_MAX_LENGTH)
    totp_code: Text | None = Field(
        default=None, max_length=16, description="6-digit code; required when TOTP is on"
    )


class UserBrief(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    full_name: str
    role: Role


class UserRead(UserBrief):
    email: str
    is_active: bool
    totp_enabled: bool
    created_at: datetime


class LoginResponse(BaseModel):
    token: str = Field(description="opaque bearer token: send as 'Authorization: Bearer …'")
    expires_at: datetime = Field(description="end of the session's absolute lifetime")
    idle_timeout_minutes: int = Field(description="the session ends after this long unused")
    user: UserBrief


class TotpEnrolment(BaseModel):
    provisioning_uri: str = Field(description="otpauth:// URI for an authenticator app")
    secret: str = Field(description="the same secret, base32, for typing in by hand")


class TotpConfirmRequest(BaseModel):
    code: Text = Field(max_length=16, description="a current 6-digit code from the app")


class PasswordChangeRequest(BaseModel):
    old_password: Text = Field(max_length=PASSWORD_MAX_LENGTH)
    new_password: Text = Field(max_length=PASSWORD_MAX_LENGTH)
