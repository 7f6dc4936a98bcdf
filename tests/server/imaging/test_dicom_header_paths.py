"""The header of a file with a plain File Meta Information is read without pydicom's
``dcmread`` (the meta once, the data set straight after it); what comes out must be
what ``dcmread`` gives, for every transfer syntax and for damaged files too."""

from __future__ import annotations

import warnings

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.imaging import dicom_header
from server.imaging.dicom_header import DEFLATED_TRANSFER_SYNTAX, Header, HeaderError, read_header
from server.imaging.synthetic import SUPPORTED_TRANSFER_SYNTAXES
from tests.server.imaging.intake_support import ct, extras, mr, to_bytes

SEEDS = [
    *(to_bytes(ct(transfer_syntax=ts)[0]) for ts in SUPPORTED_TRANSFER_SYNTAXES),
    to_bytes(mr()[0]),
    to_bytes(mr(enhanced=True)[0]),
    *(to_bytes(ds) for ds in extras(ct())),
]


def _by_dcmread(data: bytes) -> Header | str:
    with warnings.catch_warnings():  # as read_header does
        warnings.simplefilter("ignore")
        try:
            return dicom_header._parse(data)
        except HeaderError as error:
            return error.reason.value


def _as_read(data: bytes) -> Header | str:
    try:
        return read_header(data)
    except HeaderError as error:
        return error.reason.value


@pytest.mark.parametrize("data", SEEDS)
def test_every_transfer_syntax_reads_as_dcmread_reads_it(data: bytes) -> None:
    deflated = DEFLATED_TRANSFER_SYNTAX.encode() in data[:1024]
    assert (dicom_header._simple_meta(data) is None) == deflated  # deflated: pydicom's way
    header = read_header(data)
    assert header == _by_dcmread(data)


@st.composite
def damaged(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(132, min(len(data) - 1, 2500)))
        data[at] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        data = data[: draw(st.integers(132, len(data)))]
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(damaged())
def test_damaged_files_read_as_dcmread_reads_them(data: bytes) -> None:
    if dicom_header._simple_meta(data) is not None:
        assert _as_read(data) == _by_dcmread(data)
