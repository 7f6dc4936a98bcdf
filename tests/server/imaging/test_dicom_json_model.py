"""``json_model`` (one pass over raw elements) gives what pydicom's converter gave.

The reference below is the former implementation: pydicom converts every element, then
``Dataset.to_json_dict``, then bulk data and unsafe values are stripped. The single-pass
converter must give the same DICOM JSON model (PS3.18 §F.2) for any header — plain,
odd or mutated.
"""

from __future__ import annotations

import io
import math
import warnings
from typing import Any

import pydicom
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from server.imaging.dicom_header import DEFER_SIZE
from server.imaging.json_model import BULK_THRESHOLD, json_model
from tests.server.imaging.intake_support import ct, extras, mr, to_bytes

_BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW", "UN"})


def reference_model(ds: Dataset) -> dict[str, Any]:
    _drop_large_values(ds)
    model = ds.to_json_dict(
        bulk_data_threshold=BULK_THRESHOLD,
        bulk_data_element_handler=lambda _elem: "",
        suppress_invalid_tags=True,
    )
    return _clean(_strip_empty_bulk(model))


def _drop_large_values(ds: Dataset) -> None:
    for tag in list(ds.keys()):
        raw = ds.get_item(tag, keep_deferred=True)  # a deferred value is never read
        length = getattr(raw, "length", 0) or 0
        if raw is not None and getattr(raw, "value", 0) is None and length > BULK_THRESHOLD:
            vr = raw.VR if raw.VR in _BINARY_VRS else "UN"
            del ds[tag]
            ds.add_new(tag, vr, None)
            continue
        try:
            elem = ds[tag]
        except Exception:
            del ds[tag]
            continue
        if elem.VR == "SQ":
            for item in elem.value or []:
                _drop_large_values(item)


def _strip_empty_bulk(node: Any) -> Any:
    if isinstance(node, dict):
        if node.get("BulkDataURI") == "":
            return {"vr": node.get("vr", "UN")}
        return {key: _strip_empty_bulk(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_strip_empty_bulk(value) for value in node]
    return node


def _clean(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(node, float):
        return node if math.isfinite(node) else None
    if isinstance(node, dict):
        return {_clean(str(k)): _clean(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_clean(v) for v in node]
    return node


def _odd(ds: Dataset) -> Dataset:
    """Values that take the unusual paths: multi-values, empties, padding, numbers."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL"]
    ds.PixelSpacing = ["0.5", " 0.25 "]
    ds.ImagePositionPatient = ["1e2", "-.5", "+3."]
    ds.SliceThickness = ""
    ds.WindowCenter = ["40", ""]
    ds.InstanceNumber = " 7"
    ds.SeriesNumber = "0003"
    ds.add_new(0x00181150, "IS", "12\\-4")  # ExposureTime, two values
    ds.add_new(0x00091010, "LO", "PRIVATE")
    ds.add_new(0x00091011, "OB", b"\x01\x02\x03")
    ds.add_new(0x00091012, "OB", bytes(2000))
    ds.add_new(0x00091013, "FL", [1.5, float("nan")])
    ds.add_new(0x00091014, "SS", [-1, 2])
    ds.add_new(0x00091015, "UL", [])
    ds.add_new(0x00091016, "FD", 2.25)
    ds.add_new(0x00091017, "OW", bytes(64 * 1024 + 2))
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.InstitutionName = "Hôpital Général"
    ds.StudyTime = "101010.5 "
    ds.RequestAttributesSequence = Sequence([Dataset(), Dataset()])
    ds.RequestAttributesSequence[0].ScheduledProcedureStepID = "SPS1"
    ds.RequestAttributesSequence[1].add_new(0x00420011, "OB", bytes(3000))
    ds.ReferencedSOPInstanceUID = "1.2.3\x00"
    ds.PatientName = "MÜLLER^JÜRGEN==MUELLER"  # not ASCII: pydicom decodes it
    ds.ReferringPhysicianName = "WELBY^MARCUS^^DR=\\SMITH^J=="
    ds.add_new(0x00081050, "PN", "A^B=C=D=E")  # PerformingPhysicianName: four groups
    ds.add_new(0x00081060, "PN", "  ")  # NameOfPhysiciansReadingStudy: blank
    ds.add_new(0x00081070, "PN", "OP^ONE=\\=X")  # OperatorsName: an empty name
    ds.add_new(0x00101001, "PN", "ALIAS^\x00")  # OtherPatientNames: a NUL inside
    return ds


SEEDS = [
    to_bytes(ct()[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2")[0]),
    to_bytes(ct(transfer_syntax="1.2.840.10008.1.2.2")[0]),
    to_bytes(mr()[0]),
    to_bytes(mr(enhanced=True)[0]),
    *(to_bytes(ds) for ds in extras(ct())),
    to_bytes(_odd(ct()[0])),
    to_bytes(_odd(ct(transfer_syntax="1.2.840.10008.1.2")[0])),
    to_bytes(_odd(ct(transfer_syntax="1.2.840.10008.1.2.2")[0])),
]


def _both(data: bytes) -> tuple[Any, Any]:
    def read() -> Dataset:
        return pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True, defer_size=DEFER_SIZE)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            expected = reference_model(read())
        except Exception as error:
            expected = type(error)
        try:
            got = json_model(read())
        except Exception as error:
            got = type(error)
    return got, expected


def test_same_model_as_pydicom_for_every_seed() -> None:
    for data in SEEDS:
        got, expected = _both(data)
        assert got == expected


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(132, min(len(data) - 1, 3000)))
        data[at] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_same_model_as_pydicom_for_mutated_headers(data: bytes) -> None:
    got, expected = _both(data)
    if isinstance(expected, dict):  # else the file did not parse: read_header refuses it
        assert got == expected
