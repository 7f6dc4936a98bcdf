"""Live partial results as a diff: characters to delete, text to insert.

The contract of nerd-dictation: a transcript shown while the speaker talks is
updated by deleting the tail that changed and typing the new tail, so a text
field can follow a partial result with two primitive edits.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TextDiff", "apply_diff", "text_diff"]


@dataclass(frozen=True, slots=True)
class TextDiff:
    """Delete ``delete`` characters before the cursor, then insert ``insert``."""

    delete: int
    insert: str

    @property
    def empty(self) -> bool:
        """True when applying the diff changes nothing."""
        return self.delete == 0 and not self.insert


def text_diff(old: str, new: str) -> TextDiff:
    """The smallest tail edit turning ``old`` into ``new`` (common prefix kept)."""
    common = 0
    for a, b in zip(old, new, strict=False):
        if a != b:
            break
        common += 1
    return TextDiff(len(old) - common, new[common:])


def apply_diff(text: str, diff: TextDiff) -> str:
    """Apply ``diff`` to the end of ``text``."""
    if diff.delete > len(text):
        raise ValueError(f"cannot delete {diff.delete} characters from {len(text)}")
    kept = text[: len(text) - diff.delete] if diff.delete else text
    return kept + diff.insert
