"""The header of a file with a plain File Meta Information is read without pydicom's
``dcmread`` (the meta once, the data set straight after it: from its bytes when it is
plain Explicit VR Little Endian, else by pydicom's ``read_dataset``); what comes out
must be what ``dcmread`` gives, for every transfer syntax, for sequences in every form
of length, and for damaged files too."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_data_element
from pydicom.sequence import Sequence

from server.imaging import dicom_header, header_walk
from server.imaging.dicom_header import DEFLATED_TRANSFER_SYNTAX, Header, HeaderError, read_header
from server.imaging.header_walk import walk
from server.imaging.synthetic import SUPPORTED_TRANSFER_SYNTAXES
from tests.server.imaging.intake_support import ct, extras, mr, to_bytes

_UNDEFINED = 0xFFFFFFFF
_ITEM_END = struct.pack("<HHI", 0xFFFE, 0xE00D, 0)
_SEQUENCE_END = struct.pack("<HHI", 0xFFFE, 0xE0DD, 0)


def _code(value: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue, item.CodingSchemeDesignator, item.CodeMeaning = value, "DCM", meaning
    return item


def _with_sequences() -> Dataset:
    """A CT slice with what real headers carry: sequences nested two deep, an empty
    sequence, an empty item, and an icon whose Pixel Data sits inside an item."""
    ds = ct()[0]
    source = Dataset()
    source.ReferencedSOPClassUID = ds.SOPClassUID
    source.ReferencedSOPInstanceUID = ds.SOPInstanceUID + ".9"
    ds.ReferencedImageSequence = Sequence([source, Dataset()])
    ds.ProcedureCodeSequence = Sequence([])
    request = Dataset()
    request.RequestedProcedureID = "RP1"
    request.ScheduledProtocolCodeSequence = Sequence([_code("113691", "CT abdomen")])
    ds.RequestAttributesSequence = Sequence([request])
    icon = Dataset()
    icon.SamplesPerPixel, icon.PhotometricInterpretation = 1, "MONOCHROME2"
    icon.Rows = icon.Columns = 16
    icon.BitsAllocated = icon.BitsStored = 8
    icon.HighBit, icon.PixelRepresentation = 7, 0
    icon.PixelData = bytes(range(256))
    ds.IconImageSequence = Sequence([icon])
    return ds


def _encoded(ds: Dataset, defined: tuple[bool, bool]) -> bytes:
    """``ds`` in Explicit VR Little Endian with sequences (``defined[0]``) and items
    (``defined[1]``) of defined or undefined length — pydicom writes only undefined."""
    out = DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    for elem in ds:
        if elem.VR != "SQ":
            write_data_element(out, elem)
            continue
        items = b"".join(_item(item, defined) for item in elem.value)
        length = len(items) if defined[0] else _UNDEFINED
        out.write(struct.pack("<HH2s2xI", elem.tag.group, elem.tag.elem, b"SQ", length))
        out.write(items if defined[0] else items + _SEQUENCE_END)
    return out.getvalue()


def _item(item: Dataset, defined: tuple[bool, bool]) -> bytes:
    content = _encoded(item, defined)
    length = len(content) if defined[1] else _UNDEFINED
    return struct.pack("<HHI", 0xFFFE, 0xE000, length) + (
        content if defined[1] else content + _ITEM_END
    )


def _sequence_seeds() -> list[bytes]:
    ds = _with_sequences()
    written = to_bytes(ds)
    meta = dicom_header._simple_meta(written)
    assert meta is not None
    return [written] + [
        written[: meta.data_set_start] + _encoded(ds, defined)
        for defined in ((True, True), (True, False), (False, True))
    ]


def _latin_1_name() -> bytes:
    ds = ct()[0]
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.PatientName = "MÜLLER^JOSÉ"
    return to_bytes(ds)


SEQUENCE_SEEDS = _sequence_seeds()
SEEDS = [
    *(to_bytes(ct(transfer_syntax=ts)[0]) for ts in SUPPORTED_TRANSFER_SYNTAXES),
    to_bytes(mr()[0]),
    to_bytes(mr(enhanced=True)[0]),
    *(to_bytes(ds) for ds in extras(ct())),
    *SEQUENCE_SEEDS,
    _latin_1_name(),
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


def _walked(data: bytes) -> bool:
    meta = dicom_header._simple_meta(data)
    assert meta is not None
    return walk(data, meta.data_set_start, whole=True) is not None


def test_plain_explicit_little_endian_headers_are_read_from_their_bytes() -> None:
    """The equivalence tests above hold the walk to pydicom only if it is taken."""
    assert all(_walked(data) for data in SEQUENCE_SEEDS)
    assert _walked(to_bytes(ct()[0]))
    assert _walked(to_bytes(mr()[0]))
    assert not _walked(_latin_1_name())  # decoding depends on the character set


def test_sequences_read_item_by_item_in_every_form_of_length() -> None:
    headers = [read_header(data) for data in SEQUENCE_SEEDS]
    assert all(header == headers[0] for header in headers)
    model = headers[0].metadata
    references = model["00081140"]["Value"]
    assert references[1] == {}
    assert references[0]["00081155"]["Value"][0].endswith(".9")
    assert model["00081032"] == {"vr": "SQ", "Value": []}
    request = model["00400275"]["Value"][0]
    assert request["00400008"]["Value"][0]["00080104"]["Value"] == ["CT abdomen"]
    icon = model["00880200"]["Value"][0]  # read past its Pixel Data, to the slice's own
    assert icon["7FE00010"] == {"vr": "OB", "InlineBinary": icon["7FE00010"]["InlineBinary"]}
    assert "7FE00010" not in model


@pytest.mark.parametrize(
    "head",
    [None, ("WALK_HEAD", 600), ("META_HEAD", 160)],
    ids=["walked", "header-past-the-head", "meta-past-its-head"],
)
def test_a_file_on_disk_reads_as_its_bytes_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, head: tuple[str, int] | None
) -> None:
    if head is not None:
        monkeypatch.setattr(dicom_header, *head)
    for index, data in enumerate([to_bytes(ct()[0]), SEQUENCE_SEEDS[1]]):
        path = tmp_path / f"{index}.dcm"
        path.write_bytes(data)
        assert read_header(path) == _by_dcmread(data)
        path.write_bytes(data[:-100])
        with pytest.raises(HeaderError) as refused:
            read_header(path)
        assert refused.value.reason.value == _by_dcmread(data[:-100]) == "unreadable"


def test_a_character_set_pydicom_cannot_look_up_is_refused_on_both_paths() -> None:
    """Found by the damaged-files test: a NUL inside Specific Character Set."""
    data = to_bytes(ct()[0])
    assert b"ISO_IR 100" in data
    damaged_set = data.replace(b"ISO_IR 100", b"ISO_I\x00 100", 1)
    assert _as_read(damaged_set) == _by_dcmread(damaged_set) == "unreadable"


@pytest.mark.parametrize(
    ("old", "new", "found"),
    [
        (b"\x02\x00\x10\x00UI", b"\x02\x00\x10\x00UL", "missing_uid"),  # meta UID, other VR
        (b"\x08\x00\x05\x00CS", b"\x08\x00\x05\x00SS", "unreadable"),  # character set as SS
    ],
    ids=["transfer-syntax-not-UI", "character-set-not-CS"],
)
def test_an_element_of_the_wrong_vr_is_judged_alike_on_both_paths(
    old: bytes, new: bytes, found: str
) -> None:
    """Found by the damaged-files test."""
    data = to_bytes(ct()[0])
    assert old in data
    damaged_vr = data.replace(old, new, 1)
    assert _as_read(damaged_vr) == _by_dcmread(damaged_vr) == found


@pytest.fixture
def converted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The tags whose values the walk converts (not remembered from an earlier file)."""
    seen: list[int] = []
    real = header_walk.fast_element

    def counting(tag: int, vr: str | None, value: bytes, little: bool) -> object:
        seen.append(tag)
        return real(tag, vr, value, little)

    monkeypatch.setattr(header_walk, "fast_element", counting)
    header_walk._converted.cache_clear()
    return seen


def test_a_series_converts_only_what_changes_from_one_slice_to_the_next(
    converted: list[int],
) -> None:
    first, second = (to_bytes(ds) for ds in ct(slices=2))
    before = read_header(first)
    assert len(converted) == len(before.metadata)
    converted.clear()
    after = read_header(second)
    changed = {
        int(key, 16) for key, value in after.metadata.items() if before.metadata[key] != value
    }
    assert set(converted) == changed
    assert {0x00080018, 0x00200013, 0x00200032} <= changed  # the instance, its number, place
    assert after == _by_dcmread(second)


def test_a_long_value_is_converted_every_time(converted: list[int]) -> None:
    ds = ct()[0]
    ds.FrameTimeVector = [f"{n}.125" for n in range(60)]  # DS, past the remembered length
    data = to_bytes(ds)
    assert len(ds["FrameTimeVector"].value) * 6 > header_walk.CONVERTED_VALUE_MAX
    for _ in range(2):
        assert read_header(data).metadata["00181065"]["Value"][:2] == [0.125, 1.125]
    assert converted.count(0x00181065) == 2
    assert converted.count(0x00080018) == 1  # a short one once
