"""Accept negotiation, multipart encoding and frame extraction, pure (PS3.18 §8.7, §10.4)."""

from __future__ import annotations

import io

import jpeg_ls
import numpy as np
import pydicom
import pytest
from pydicom.uid import ExplicitVRBigEndian, ImplicitVRLittleEndian, JPEGLSLossless, RLELossless

from server.imaging.frames import extract_frames, parse_frame_list
from server.imaging.multipart import (
    EXPLICIT_VR_LITTLE_ENDIAN,
    MediaRange,
    NotAcceptable,
    Part,
    multipart_length,
    multipart_stream,
    negotiate_frames,
    negotiate_instance,
    parse_accept,
)
from server.imaging.synthetic import make_ct_dose_report, to_bytes
from server.problems import BadRequest, NotFound
from tests.server.imaging.dicomweb_support import ct_study, mr_study

ELE = EXPLICIT_VR_LITTLE_ENDIAN
JLS = str(JPEGLSLossless)
DICOM_ANY = 'multipart/related; type="application/dicom"; transfer-syntax=*'


def test_parse_accept_reads_multipart_type_parameters_and_q() -> None:
    header = (
        'multipart/related; type="application/dicom"; transfer-syntax=1.2.840.10008.1.2.4.80;'
        ' q=0.5, multipart/related; type="application/octet-stream", image/*;q=0.1, '
        "text/html;q=0"
    )
    assert parse_accept(header) == [
        MediaRange("application/octet-stream"),
        MediaRange("application/dicom", JLS, 0.5),
        MediaRange("image/*", None, 0.1),
    ]
    assert parse_accept(None) == [MediaRange("*/*")]
    assert parse_accept("multipart/related") == [MediaRange("*/*")]


@pytest.mark.parametrize(
    ("accept", "stored", "declared"),
    [
        (DICOM_ANY, {JLS}, JLS),
        (DICOM_ANY, {ELE, JLS}, "*"),
        ('multipart/related; type="application/dicom"', {ELE}, ELE),
        (f'multipart/related; type="application/dicom"; transfer-syntax={JLS}', {JLS}, JLS),
        ("*/*", {JLS}, JLS),
        (None, {ImplicitVRLittleEndian}, ImplicitVRLittleEndian),
        (f"text/html, {DICOM_ANY}", {ELE}, ELE),
    ],
)
def test_instances_go_as_stored_when_acceptable(
    accept: str | None, stored: set[str], declared: str
) -> None:
    choice = negotiate_instance(parse_accept(accept), stored)
    assert (choice.media_type, choice.transfer_syntax) == ("application/dicom", declared)


@pytest.mark.parametrize(
    ("accept", "stored"),
    [
        ('multipart/related; type="application/dicom"', {JLS}),
        (f'multipart/related; type="application/dicom"; transfer-syntax={JLS}', {ELE}),
        ('multipart/related; type="application/dicom"', {ELE, JLS}),
        ('multipart/related; type="application/octet-stream"', {ELE}),
        ("application/json", {ELE}),
    ],
)
def test_instances_not_acceptable_without_transcoding(accept: str, stored: set[str]) -> None:
    with pytest.raises(NotAcceptable) as raised:
        negotiate_instance(parse_accept(accept), stored)
    assert raised.value.status == 406


@pytest.mark.parametrize(
    ("accept", "stored", "media_type", "declared"),
    [
        ("*/*", ELE, "application/octet-stream", ELE),
        (
            'multipart/related; type="application/octet-stream"',
            ELE,
            "application/octet-stream",
            ELE,
        ),
        (
            'multipart/related; type="application/octet-stream"',
            ExplicitVRBigEndian,
            "application/octet-stream",
            ELE,
        ),
        ("*/*", JLS, "image/jls", JLS),
        ('multipart/related; type="image/jls"', JLS, "image/jls", JLS),
        (f'multipart/related; type="image/jls"; transfer-syntax={JLS}', JLS, "image/jls", JLS),
        (
            'multipart/related; type="application/octet-stream"; transfer-syntax=*',
            JLS,
            "application/octet-stream",
            JLS,
        ),
        ('multipart/related; type="image/*"', RLELossless, "image/dicom-rle", RLELossless),
    ],
)
def test_frames_as_stored(accept: str, stored: str, media_type: str, declared: str) -> None:
    choice = negotiate_frames(parse_accept(accept), stored)
    assert (choice.media_type, choice.transfer_syntax) == (media_type, declared)


@pytest.mark.parametrize(
    ("accept", "stored"),
    [
        ('multipart/related; type="application/octet-stream"', JLS),
        ('multipart/related; type="image/jpeg"', JLS),
        ('multipart/related; type="image/jls"', ELE),
        (f'multipart/related; type="application/octet-stream"; transfer-syntax={JLS}', ELE),
    ],
)
def test_frames_not_acceptable(accept: str, stored: str) -> None:
    with pytest.raises(NotAcceptable):
        negotiate_frames(parse_accept(accept), stored)


def test_multipart_stream_frames_each_part() -> None:
    parts = [
        Part("application/dicom", [b"ab", b"", b"c"], location="http://x/1"),
        Part("application/dicom", [b"\r\n--x"]),
    ]
    body = b"".join(multipart_stream(parts, "BOUND"))
    assert body == (
        b"--BOUND\r\nContent-Type: application/dicom\r\nContent-Location: http://x/1\r\n\r\n"
        b"abc\r\n"
        b"--BOUND\r\nContent-Type: application/dicom\r\n\r\n\r\n--x\r\n"
        b"--BOUND--\r\n"
    )


def test_multipart_length_is_exact_when_sizes_are_known() -> None:
    parts = [
        Part(
            "application/dicom; transfer-syntax=1.2.840.10008.1.2.1",
            [b"x" * 70, b"y"],
            location="http://x/studies/1",
            size=71,
        ),
        Part("application/dicom", [b""], size=0),
    ]
    assert multipart_length(parts, "B0") == len(b"".join(multipart_stream(parts, "B0")))
    assert multipart_length([Part("application/dicom", [b"z"])], "B0") is None


def test_parse_frame_list() -> None:
    assert parse_frame_list("1,3, 2") == [1, 3, 2]
    for bad in ("0", "a", "1,,2", "-1", ""):
        with pytest.raises(BadRequest):
            parse_frame_list(bad)


def test_native_frames_of_a_single_frame_instance() -> None:
    ds = ct_study()[1]
    frames = extract_frames(to_bytes(ds), [1])
    assert frames == [ds.PixelData]
    assert len(frames[0]) == 64 * 64 * 2


def test_big_endian_frames_are_sent_little_endian() -> None:
    little = ct_study()[1]
    big = ct_study(transfer_syntax=ExplicitVRBigEndian)[1]
    assert extract_frames(to_bytes(big), [1]) == [little.PixelData]


def test_native_multi_frame_frames_in_requested_order() -> None:
    ds = mr_study(enhanced=True)[0]
    assert int(ds.NumberOfFrames) == 3
    arr = pydicom.dcmread(io.BytesIO(to_bytes(ds))).pixel_array
    frames = extract_frames(to_bytes(ds), [3, 1])
    assert frames == [arr[2].astype("<u2").tobytes(), arr[0].astype("<u2").tobytes()]


def test_encapsulated_frames_are_the_fragments() -> None:
    ds = mr_study(enhanced=True, transfer_syntax=JPEGLSLossless)[0]
    data = to_bytes(ds)
    frames = extract_frames(data, [2])
    assert frames[0][:2] == b"\xff\xd8"  # a JPEG-LS codestream, not pixels
    expected = pydicom.dcmread(io.BytesIO(data)).pixel_array[1]
    np.testing.assert_array_equal(jpeg_ls.decode(np.frombuffer(frames[0], np.uint8)), expected)


def test_frame_beyond_the_instance_is_not_found() -> None:
    with pytest.raises(NotFound):
        extract_frames(to_bytes(ct_study()[1]), [2])


def test_sr_without_pixels_has_no_frames() -> None:
    report = make_ct_dose_report(ct_study())
    with pytest.raises(NotFound):
        extract_frames(to_bytes(report), [1])
