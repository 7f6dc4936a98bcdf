"""Partial diffs: delete a tail, insert a tail."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from workstation.dictation.diff import TextDiff, apply_diff, text_diff


@pytest.mark.parametrize(
    ("old", "new", "diff"),
    [
        ("", "three", TextDiff(0, "three")),
        ("three", "three point", TextDiff(0, " point")),
        ("3 cm", "3.2 cm", TextDiff(3, ".2 cm")),
        ("next", "", TextDiff(4, "")),
        ("same", "same", TextDiff(0, "")),
    ],
)
def test_text_diff(old: str, new: str, diff: TextDiff) -> None:
    assert text_diff(old, new) == diff


@given(st.text(), st.text())
def test_applying_the_diff_gives_the_new_text(old: str, new: str) -> None:
    assert apply_diff(old, text_diff(old, new)) == new


def test_cannot_delete_more_than_there_is() -> None:
    with pytest.raises(ValueError, match="cannot delete"):
        apply_diff("ab", TextDiff(3, ""))
