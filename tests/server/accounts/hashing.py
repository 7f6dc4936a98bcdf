"""argon2id at test cost: the same algorithm and code path, a fraction of the time.

Production keeps the RFC 9106 low-memory profile (checked in ``test_passwords``);
tests that make and check many passwords swap in these parameters.
"""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from server.accounts import passwords

CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
_DUMMY = CHEAP_HASHER.hash("not anybody's password")


def use_cheap_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash and verify with :data:`CHEAP_HASHER` (also in the live server's thread)."""
    monkeypatch.setattr(passwords, "_hasher", lambda: CHEAP_HASHER)
    monkeypatch.setattr(passwords, "_dummy_hash", lambda: _DUMMY)
