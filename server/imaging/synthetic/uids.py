"""Deterministic UIDs: name-based UUIDs under the 2.25 root (PS3.5 B.2)."""

from __future__ import annotations

import uuid

from pydicom.uid import UID

_UID_NAMESPACE = uuid.UUID("6f1c2a52-8a57-4f0e-9d6b-7a3c0e5d2b11")


def _uid(*parts: object) -> UID:
    """A deterministic UID derived from ``parts``: a name-based UUID under 2.25 (PS3.5 B.2).

    (``pydicom.uid.generate_uid(prefix=None, ...)`` ignores its entropy sources
    and returns a random UUID, so it cannot give repeatable UIDs.)
    """
    name = "\x1f".join(str(p) for p in parts)
    return UID(f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}")
