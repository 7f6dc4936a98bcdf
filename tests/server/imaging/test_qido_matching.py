"""QIDO-RS query parsing and attribute matching, pure (PS3.18 §8.3.4, PS3.4 §C.2.2.2)."""

from __future__ import annotations

import pytest

from server.imaging.dicom_json import make_element, tag_of
from server.imaging.qido import (
    DEFAULT_LIMIT,
    INSTANCE_TAGS,
    SERIES_TAGS,
    STUDY_TAGS,
    Level,
    default_tags,
    parse_search,
    result,
)
from server.problems import BadRequest


def record(**attrs: object) -> dict[str, dict[str, object]]:
    return {tag_of(k): make_element(tag_of(k), v) for k, v in attrs.items()}


STUDY = record(
    PatientName="SYNTHETIC^ALEX",
    PatientID="SYN-0001",
    StudyDate="20261102",
    StudyTime="093000",
    StudyInstanceUID="1.2.3",
    ModalitiesInStudy=["CT", "SR"],
    StudyDescription="CT CHEST ABDOMEN WITH CONTRAST",
    AccessionNumber="SYNACC0001",
    NumberOfStudyRelatedInstances=7,
)


def accepts(query: str, data: dict[str, dict[str, object]] = STUDY) -> bool:
    params = [tuple(p.split("=", 1)) for p in query.split("&")]
    return parse_search(params).accepts(data)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # single value (case-sensitive except PN)
        ("PatientID=SYN-0001", True),
        ("PatientID=syn-0001", False),
        ("00100020=SYN-0001", True),
        ("PatientName=synthetic^alex", True),
        ("AccessionNumber=SYNACC0002", False),
        # wildcards on strings and names
        ("PatientName=SYNTH*", True),
        ("PatientName=*ALEX", True),
        ("PatientName=SYNTHETIC^AL?X", True),
        ("PatientName=BEA*", False),
        ("StudyDescription=*CHEST*", True),
        ("StudyDescription=CT?CHEST*", True),
        ("StudyDescription=MR*", False),
        # universal matching
        ("PatientName=", True),
        ("PatientName=*", True),
        ("ReferringPhysicianName=", True),
        # UID lists
        ("StudyInstanceUID=1.2.3", True),
        ("StudyInstanceUID=9.9,1.2.3", True),
        ("StudyInstanceUID=9.9\\1.2.3", True),
        ("StudyInstanceUID=9.9,8.8", False),
        ("StudyInstanceUID=1.2.*", False),  # no wildcard on UIDs
        # dates: single, ranges, open ranges
        ("StudyDate=20261102", True),
        ("StudyDate=20261103", False),
        ("StudyDate=20261101-20261130", True),
        ("StudyDate=20261103-20261130", False),
        ("StudyDate=20261102-20261102", True),
        ("StudyDate=-20261102", True),
        ("StudyDate=-20261101", False),
        ("StudyDate=20261102-", True),
        ("StudyDate=20261103-", False),
        # times: ranges of any precision
        ("StudyTime=0900-1000", True),
        ("StudyTime=093000-093000", True),
        ("StudyTime=0931-", False),
        ("StudyTime=-09", True),
        # multi-valued attributes: any value
        ("ModalitiesInStudy=CT", True),
        ("ModalitiesInStudy=SR", True),
        ("ModalitiesInStudy=MR", False),
        ("ModalitiesInStudy=MR,CT", True),
        # numbers
        ("NumberOfStudyRelatedInstances=7", True),
        ("NumberOfStudyRelatedInstances=7.0", True),
        ("NumberOfStudyRelatedInstances=8", False),
        # absent attributes match only universally
        ("IssuerOfPatientID=X", False),
        # several keys: all must match
        ("PatientName=SYN*&StudyDate=20260101-20261231", True),
        ("PatientName=SYN*&StudyDate=20250101-20251231", False),
    ],
)
def test_matching(query: str, expected: bool) -> None:
    assert accepts(query) is expected


def test_sequence_paths_match_any_item() -> None:
    data = {
        "00400275": {
            "vr": "SQ",
            "Value": [
                record(ScheduledProcedureStepID="SPS1"),
                record(ScheduledProcedureStepID="SPS2", RequestedProcedureID="RP9"),
            ],
        }
    }
    assert accepts("RequestAttributesSequence.ScheduledProcedureStepID=SPS2", data)
    assert accepts("00400275.00401001=RP9", data)
    assert not accepts("RequestAttributesSequence.ScheduledProcedureStepID=SPS3", data)


def test_parse_controls() -> None:
    query = parse_search(
        [
            ("limit", "5"),
            ("offset", "10"),
            ("includefield", "StudyDescription,00081030"),
            ("includefield", "PatientAge"),
            ("fuzzymatching", "true"),
        ]
    )
    assert (query.limit, query.offset, query.fuzzy_requested) == (5, 10, True)
    assert query.include_tags == {tag_of("StudyDescription"), "00081030", tag_of("PatientAge")}
    assert not query.include_all
    assert parse_search([("includefield", "all")]).include_all
    defaults = parse_search([])
    assert (defaults.limit, defaults.offset) == (DEFAULT_LIMIT, 0)
    assert parse_search([("limit", "99999")], max_limit=50).limit == 50


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ([("limit", "-1")], "limit"),
        ([("limit", "ten")], "limit"),
        ([("offset", "-3")], "offset"),
        ([("fuzzymatching", "maybe")], "fuzzymatching"),
        ([("PatientNmae", "X")], "PatientNmae"),
        ([("includefield", "Bogus")], "Bogus"),
    ],
)
def test_bad_parameters_name_the_field(params: list[tuple[str, str]], field: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_search(params)
    assert raised.value.field == field


def test_uids_for_index_lookups() -> None:
    query = parse_search([("StudyInstanceUID", "1.2,1.3"), ("0020000D", "1.3\\1.4")])
    assert query.uids("StudyInstanceUID") == ["1.3"]
    assert parse_search([]).uids("StudyInstanceUID") is None
    assert parse_search([("SeriesInstanceUID", "")]).uids("SeriesInstanceUID") is None


def test_default_return_attributes_per_level() -> None:
    assert default_tags(Level.STUDY, study_given=False, series_given=False) == STUDY_TAGS
    series = default_tags(Level.SERIES, study_given=True, series_given=False)
    assert series >= SERIES_TAGS
    assert tag_of("StudyInstanceUID") in series
    assert tag_of("PatientName") not in series
    assert default_tags(Level.SERIES, study_given=False, series_given=False) >= STUDY_TAGS
    instance = default_tags(Level.INSTANCE, study_given=True, series_given=True)
    assert instance >= INSTANCE_TAGS
    assert tag_of("SeriesInstanceUID") in instance
    assert tag_of("Modality") not in instance
    assert default_tags(Level.INSTANCE, study_given=True, series_given=False) >= SERIES_TAGS


def test_result_projects_defaults_includefields_and_keys() -> None:
    data = {**STUDY, **record(PatientAge="056Y", InstitutionName="Synthetic")}
    plain = result(data, parse_search([]), STUDY_TAGS)
    assert tag_of("PatientAge") not in plain
    assert tag_of("PatientName") in plain
    assert list(plain) == sorted(plain)
    asked = result(data, parse_search([("includefield", "PatientAge")]), STUDY_TAGS)
    assert asked[tag_of("PatientAge")] == {"vr": "AS", "Value": ["056Y"]}
    missing = result(data, parse_search([("includefield", "PatientWeight")]), STUDY_TAGS)
    assert missing[tag_of("PatientWeight")] == {"vr": "DS"}
    keyed = result(data, parse_search([("InstitutionName", "Syn*")]), STUDY_TAGS)
    assert tag_of("InstitutionName") in keyed
    everything = result(data, parse_search([("includefield", "all")]), STUDY_TAGS)
    assert everything == dict(sorted(data.items()))
