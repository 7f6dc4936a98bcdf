"""Property-based fuzz of the intake parse + verdict path: any bytes earn a verdict, no crash."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import tempfile
from collections.abc import AsyncIterator
from datetime import date
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.config import Settings
from server.imaging.judging import judge_candidate
from server.imaging.models import Verdict
from server.imaging.stow import receive_parts
from server.imaging.unpack import Candidate
from server.imaging.verdicts import CasePatient
from server.problems import Problem
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
atexit.register(shutil.rmtree, _DIR, True)


def _verdict(data: bytes) -> Verdict:
    """The verdict on ``data``, the same whether it is read from a file or from memory."""
    path = _DIR / "candidate.dcm"
    path.write_bytes(data)
    verdicts = []
    for candidate in (Candidate("fuzz", path), Candidate("fuzz", data=data)):
        judged = judge_candidate(
            candidate, patient=PATIENT, day=TODAY, settings=SETTINGS, expected=None
        )
        assert isinstance(judged.outcome.verdict, Verdict)
        assert judged.outcome.text
        verdicts.append((judged.outcome.verdict, judged.outcome.reason, judged.sha256))
    assert verdicts[0] == verdicts[1]
    return judged.outcome.verdict


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEED_FILES)))
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "zero-run"]))
        # most mutations hit the file meta and header, where the parser works hardest
        upper = len(data) - 1 if draw(st.booleans()) else min(len(data) - 1, 1600)
        at = draw(st.integers(0, upper))
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


async def _chunks(data: bytes, size: int) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.binary(max_size=64), max_size=4),
    st.binary(max_size=64),
    st.integers(1, 40),
    st.booleans(),
)
def test_multipart_parser_answers_with_parts_or_a_problem(
    parts: list[bytes], junk: bytes, chunk: int, close: bool
) -> None:
    """Any STOW-RS body yields parts or a 4xx problem (PS3.18 §10.5: 400 for malformed)."""
    body = b"".join(b"--b\r\nContent-Type: application/dicom\r\n\r\n" + p + b"\r\n" for p in parts)
    body += junk + (b"--b--\r\n" if close else b"")
    received: list[Candidate] = []

    async def take(candidate: Candidate) -> None:
        received.append(candidate)

    with tempfile.TemporaryDirectory(dir=_DIR) as work:
        try:
            count = asyncio.run(
                receive_parts(
                    _chunks(body, chunk),
                    boundary=b"b",
                    workdir=Path(work),
                    max_bytes=10_000,
                    on_part=take,
                )
            )
        except Problem as problem:
            assert 400 <= problem.status < 500  # noqa: PT017  (either outcome is fine)
        else:
            assert count == len(received) > 0
        for candidate in received:
            candidate.discard()
        assert not any(Path(work).iterdir())  # nothing left behind either way
