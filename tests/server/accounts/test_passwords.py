"""The production password hasher: argon2id with the RFC 9106 low-memory profile."""

from __future__ import annotations

from argon2 import Type
from argon2.profiles import RFC_9106_LOW_MEMORY

from server.accounts import passwords


def test_production_hasher_is_argon2id_rfc9106_low_memory() -> None:
    hasher = passwords._hasher()
    assert hasher.type is Type.ID
    assert (hasher.time_cost, hasher.memory_cost, hasher.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )


def test_hash_and_verify() -> None:
    digest = passwords.hash_password("correct horse battery staple 42")
    assert digest.startswith("$argon2id$")
    assert passwords.verify_password(digest, "correct horse battery staple 42")
    assert not passwords.verify_password(digest, "correct horse battery staple 43")
    assert not passwords.verify_password("not a hash", "anything")
    assert not passwords.verify_dummy("correct horse battery staple 42")
