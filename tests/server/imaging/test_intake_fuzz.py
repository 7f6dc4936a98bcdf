"""Property-based fuzz of the intake parse + verdict path: any bytes earn a verdict, no crash."""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.config import Settings
from server.imaging.ingest import judge_candidate
from server.imaging.models import Verdict
from server.imaging.unpack import Candidate
from server.imaging.verdicts import CasePatient
from tests.server.imaging.intake_support import TODAY, ct, to_bytes

SEED_FILES = [
    to_bytes(ct()[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2")[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2.1.99")[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2.2")[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2.5")[0]),
]
PATIENT = CasePatient("Synthetic", "Alex", date(1970, 1, 1))
SETTINGS = Settings()
_DIR = Path(tempfile.mkdtemp(prefix="rr-fuzz-"))


def _verdict(data: bytes) -> Verdict:
    path = _DIR / "candidate.dcm"
    path.write_bytes(data)
    judged = judge_candidate(
        Candidate("fuzz", path), patient=PATIENT, day=TODAY, settings=SETTINGS, expected=None
    )
    assert isinstance(judged.outcome.verdict, Verdict)
    assert judged.outcome.text
    return judged.outcome.verdict


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_FILES)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero-run"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
            if len(data) < 2:
                break
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:
            data[at : at + 4] = b"\xff\xff\xff\xff"
    return bytes(data)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_dicom_gets_a_verdict(data: bytes) -> None:
    _verdict(data)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=600))
def test_random_bytes_get_a_verdict(data: bytes) -> None:
    assert _verdict(data) in (Verdict.REFUSED, Verdict.SKIPPED)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_after_preamble_get_a_verdict(data: bytes) -> None:
    assert _verdict(b"\0" * 128 + b"DICM" + data) in (Verdict.REFUSED, Verdict.SKIPPED)
