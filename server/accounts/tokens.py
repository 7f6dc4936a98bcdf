"""Opaque bearer tokens: 256 random bits, stored only as a SHA-256 hash."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session, joinedload

from server.accounts.models import ApiToken, User
from server.config import Settings
from server.db import utcnow

TOKEN_BYTES = 32
#: ``last_seen_at`` is written at most this often, so reads do not all become writes.
SEEN_RESOLUTION = timedelta(seconds=30)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session, *, user: User, settings: Settings, now: datetime | None = None
) -> str:
    """Create a login session for ``user`` and return the bearer token (shown once)."""
    return issue_token_row(session, user=user, settings=settings, now=now)[0]


def issue_token_row(
    session: Session, *, user: User, settings: Settings, now: datetime | None = None
) -> tuple[str, ApiToken]:
    """Like :func:`issue_token`, also returning the new row (for its expiry)."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = now or utcnow()
    row = ApiToken(
        user_id=user.id,
        token_hash=hash_token(token),
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.token_lifetime_hours),
    )
    session.add(row)
    return token, row


#: A token's row and its user, in one query (built once: every request asks it).
_BY_HASH = (
    select(ApiToken)
    .options(joinedload(ApiToken.user))
    .where(ApiToken.token_hash == bindparam("token_hash"))
)


def find_live_token(
    session: Session, *, token: str, settings: Settings, now: datetime | None = None
) -> ApiToken | None:
    """The token's row if it is neither revoked, past its lifetime, nor idle too long,
    and its user is active; touches ``last_seen_at``."""
    now = now or utcnow()
    row = session.scalars(_BY_HASH, {"token_hash": hash_token(token)}).first()
    if row is None or row.revoked_at is not None or now >= row.expires_at:
        return None
    if now - row.last_seen_at >= timedelta(minutes=settings.token_idle_minutes):
        return None
    if not row.user.is_active:
        return None
    if now - row.last_seen_at >= SEEN_RESOLUTION:
        row.last_seen_at = now
    return row


def revoke_all_tokens(
    session: Session,
    *,
    user_id: int,
    except_token_id: int | None = None,
    now: datetime | None = None,
) -> int:
    """End every live session of a user (but ``except_token_id``); returns how many."""
    now = now or utcnow()
    query = select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
    if except_token_id is not None:
        query = query.where(ApiToken.id != except_token_id)
    rows = list(session.scalars(query))
    for row in rows:
        row.revoked_at = now
    return len(rows)
