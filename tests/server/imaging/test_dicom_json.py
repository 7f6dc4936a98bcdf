"""The DICOM JSON helpers (PS3.18 F.2): tags, projection, bulk data, shared attributes."""

from __future__ import annotations

import io

import pydicom
import pytest
from hypothesis import given
from hypothesis import strategies as st

from server.imaging.dicom_json import (
    common_attributes,
    first_value,
    keyword_of,
    make_element,
    project,
    strip_bulk_data,
    tag_of,
    values,
    vr_of,
)
from server.imaging.json_model import json_model
from server.imaging.synthetic import to_bytes
from tests.server.imaging.dicomweb_support import ct_study


def test_tag_of_accepts_keywords_tags_and_parenthesised_tags() -> None:
    assert tag_of("PatientName") == "00100010"
    assert tag_of("0020000d") == "0020000D"
    assert tag_of("(0010,0020)") == "00100020"


@pytest.mark.parametrize("bad", ["NotAKeyword", "0010001", "patientname", ""])
def test_tag_of_refuses_what_is_not_an_attribute(bad: str) -> None:
    with pytest.raises(ValueError, match="not a DICOM attribute"):
        tag_of(bad)


@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_any_eight_hex_digits_round_trip(tag: int) -> None:
    text = f"{tag:08X}"
    assert tag_of(text.lower()) == text


def test_keyword_and_vr_of_known_and_private_tags() -> None:
    assert keyword_of("0020000D") == "StudyInstanceUID"
    assert vr_of("00100010") == "PN"
    assert keyword_of("00291010") == "00291010"
    assert vr_of("00291010") is None


def test_make_element_uses_dictionary_vr_and_wraps_person_names() -> None:
    assert make_element("00100010", "DOE^J") == {"vr": "PN", "Value": [{"Alphabetic": "DOE^J"}]}
    assert make_element("00201206", 3) == {"vr": "IS", "Value": [3]}
    assert make_element("00080061", ["CT", "SR"]) == {"vr": "CS", "Value": ["CT", "SR"]}
    assert make_element("00080050", None) == {"vr": "SH"}


def test_values_and_first_value() -> None:
    data = {"00080061": {"vr": "CS", "Value": ["CT", "MR"]}, "00080050": {"vr": "SH"}}
    assert values(data, "00080061") == ["CT", "MR"]
    assert values(data, "00080050") == []
    assert first_value(data, "00080061") == "CT"
    assert first_value(data, "00100010") is None


def test_project_keeps_only_present_tags_sorted() -> None:
    data = {"00100020": {"vr": "LO"}, "00080020": {"vr": "DA"}, "00100010": {"vr": "PN"}}
    assert list(project(data, ["00100020", "00080020", "7FE00010"])) == ["00080020", "00100020"]


def test_strip_bulk_data_drops_pixels_uris_large_inline_and_valueless_binaries() -> None:
    data = {
        "7FE00010": {"vr": "OW", "InlineBinary": "AAAA"},
        "00281201": {"vr": "OW", "BulkDataURI": "http://x/bulk"},
        "00420011": {"vr": "OB", "InlineBinary": "A" * 5000},
        "00091010": {"vr": "OB", "InlineBinary": "AAAA"},
        "00189999": {"vr": "UN"},
        "00400275": {
            "vr": "SQ",
            "Value": [
                {
                    "00420011": {"vr": "OB", "InlineBinary": "A" * 5000},
                    "00400009": {"vr": "SH", "Value": ["SPS1"]},
                }
            ],
        },
        "00100010": {"vr": "PN", "Value": [{"Alphabetic": "SYNTHETIC^ALEX"}]},
    }
    out = strip_bulk_data(data)
    assert set(out) == {"00091010", "00400275", "00100010"}
    assert out["00400275"]["Value"] == [{"00400009": {"vr": "SH", "Value": ["SPS1"]}}]


def test_stored_header_of_a_synthetic_ct_has_no_pixel_data_after_stripping() -> None:
    data = to_bytes(ct_study()[1])
    model = json_model(pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True))
    stripped = strip_bulk_data(model)
    assert "7FE00010" not in stripped
    assert first_value(stripped, "00100010") == {"Alphabetic": "SYNTHETIC^ALEX"}


def test_common_attributes_keeps_what_every_record_shares() -> None:
    a = {"0020000D": {"vr": "UI", "Value": ["1.2"]}, "00200013": {"vr": "IS", "Value": [1]}}
    b = {"0020000D": {"vr": "UI", "Value": ["1.2"]}, "00200013": {"vr": "IS", "Value": [2]}}
    c = {"00200013": {"vr": "IS", "Value": [3]}, "0020000D": {"vr": "UI", "Value": ["1.2"]}}
    assert common_attributes([a, b, c]) == {"0020000D": {"vr": "UI", "Value": ["1.2"]}}
    assert common_attributes([]) == {}
    assert common_attributes([a]) == a
