"""The server's malloc tuning: large buffers come from the heap, not one mmap each."""

from __future__ import annotations

import platform

import pytest

from server.memory import tune_malloc


@pytest.mark.skipif(
    platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's; elsewhere nothing is tuned"
)
def test_the_thresholds_are_applied_on_glibc() -> None:
    assert tune_malloc() is True
