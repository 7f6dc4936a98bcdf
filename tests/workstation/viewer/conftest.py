"""Small synthetic series shared by the viewer tests."""

from __future__ import annotations

from datetime import date

import pydicom
import pytest

from server.imaging.synthetic import make_ct_study, make_mr_study

DAY = date(2026, 11, 2)


@pytest.fixture(scope="session")
def ct_series() -> list[pydicom.Dataset]:
    """12 axial 64x64 CT slices, 25 mm apart, uint16 with intercept -1024."""
    return make_ct_study(slices=12, rows=64, cols=64, series=["axial-soft-tissue"], study_date=DAY)


@pytest.fixture(scope="session")
def mr_t2() -> list[pydicom.Dataset]:
    """6 axial 64x64 T2 slices."""
    return make_mr_study(slices=6, rows=64, cols=64, series=["t2"], study_date=DAY)
