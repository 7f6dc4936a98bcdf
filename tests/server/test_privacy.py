"""Library log records and warnings that may quote patient data stay silent in the server."""

from __future__ import annotations

import logging
import warnings

import pytest
from pydicom.dataset import Dataset

from server.privacy import silence_value_quoting_libraries


def test_pydicom_messages_reach_neither_logs_nor_warnings(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        silence_value_quoting_libraries()
        Dataset().PatientSex = "DOE^JANE-TOO-LONG-FOR-CS"  # pydicom: "Invalid value … 'DOE^JANE…'"
    assert "DOE^JANE" not in caplog.text
    assert not [w for w in caught if "DOE^JANE" in str(w.message)]
