"""Signing in without the form: a remembered or configured token, or the demo credentials.

Headless (no Textual): the app runs :func:`resume` on a worker thread at start-up
and shows the sign-in modal only when it returns no user.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from workstation.client import NotSignedIn, ReadroomClient, User
from workstation.config import Settings
from workstation.credentials import TokenStore

__all__ = [
    "Resumed",
    "can_resume",
    "forget_token",
    "has_demo_credentials",
    "resume",
    "starting_token",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resumed:
    """Who is signed in after start-up (None: show the form, with ``message``)."""

    user: User | None
    message: str = ""


def has_demo_credentials(settings: Settings) -> bool:
    """``READROOM_USERNAME``, ``READROOM_PASSWORD`` and ``READROOM_TOTP_SECRET`` all set."""
    return bool(settings.username and settings.password and settings.totp_secret)


def starting_token(settings: Settings, tokens: TokenStore) -> str | None:
    """``READROOM_TOKEN``, else the token remembered for this server (a broken keyring: None)."""
    if settings.token:
        return settings.token
    try:
        return tokens.load(settings.server_url)
    except Exception as error:  # a broken keyring must not stop the app
        log.warning("could not read the stored token: %s", type(error).__name__)
        return None


def can_resume(settings: Settings, tokens: TokenStore) -> bool:
    """Whether :func:`resume` may sign in without the form."""
    return bool(starting_token(settings, tokens)) or has_demo_credentials(settings)


def forget_token(tokens: TokenStore, server_url: str) -> None:
    try:
        tokens.clear(server_url)
    except Exception as error:
        log.warning("could not clear the stored token: %s", type(error).__name__)


def resume(client: ReadroomClient, settings: Settings, tokens: TokenStore) -> Resumed:
    """Check the starting token (``GET /auth/me``), else sign in with the demo credentials.

    Blocks (call from a worker). An expired remembered token is forgotten.
    Network and server errors propagate as :class:`~workstation.client.ClientError`.
    """
    client.token = starting_token(settings, tokens)
    if client.token:
        try:
            return Resumed(client.me())
        except NotSignedIn:
            forget_token(tokens, client.base_url)
            client.token = None
    if not has_demo_credentials(settings):
        return Resumed(None, "Your saved sign-in has expired; sign in again.")
    import pyotp

    code = pyotp.TOTP(settings.totp_secret or "").now()
    return Resumed(client.login(settings.username or "", settings.password or "", code).user)
