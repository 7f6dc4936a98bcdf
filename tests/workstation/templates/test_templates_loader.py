"""Report templates: every built-in one loads and validates, the choice of template, errors."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from workstation.dictation.commands import Action, CommandTable
from workstation.templates import (
    Modality,
    builtin_templates,
    choose_template,
    load_template,
    load_templates,
    parse_template,
)

REQUIRED_IDS = {"ct_head", "ct_chest", "ct_abdomen_pelvis", "mr_brain", "mr_spine", "generic"}
PACKAGE_DIR = Path(str(resources.files("workstation.templates")))
TEMPLATE_FILES = sorted(PACKAGE_DIR.glob("*.toml"))


def test_the_required_templates_are_shipped() -> None:
    assert set(builtin_templates()) >= REQUIRED_IDS
    assert {p.stem for p in TEMPLATE_FILES} == set(builtin_templates())


@pytest.mark.parametrize("path", TEMPLATE_FILES, ids=lambda p: p.stem)
def test_every_template_loads_and_validates(path: Path) -> None:
    template = load_template(path)
    assert template.id == path.stem
    ids = [s.id for s in template.sections]
    assert ids[:3] == ["clinical_information", "technique", "comparison"]
    assert ids[-1] == "impression"
    assert "findings" in ids
    impression = template.section("impression").fields[0]
    assert impression.required
    assert template.section("findings").required
    spoken = template.spoken_names()
    assert len(spoken) == len(set(spoken))
    for name in spoken:
        assert name == name.lower().strip()
        assert template.resolve(name), name
    for section in template.sections:
        assert section.title
        assert section.spoken
        for field in section.fields:
            assert field.title
            assert field.spoken
            assert field.section == section.id


@pytest.mark.parametrize(
    ("template_id", "sub_fields"),
    [
        (
            "ct_head",
            {"brain_parenchyma", "ventricles", "extra_axial_spaces", "skull", "sinuses_mastoids"},
        ),
        ("ct_chest", {"lungs_airways", "pleura", "mediastinum", "heart_vessels"}),
        ("ct_abdomen_pelvis", {"liver", "spleen", "pancreas", "kidneys", "bowel"}),
        ("mr_brain", {"brain_parenchyma", "ventricles", "posterior_fossa"}),
        ("mr_spine", {"alignment", "vertebrae", "cord", "levels"}),
    ],
)
def test_structured_findings_have_organ_fields(template_id: str, sub_fields: set[str]) -> None:
    findings = builtin_templates()[template_id].section("findings")
    assert findings.structured
    assert sub_fields <= {f.id for f in findings.fields}
    assert all(f.normal for f in findings.fields)


def test_generic_findings_is_one_free_text_field() -> None:
    findings = builtin_templates()["generic"].section("findings")
    assert not findings.structured
    assert [f.id for f in findings.fields] == ["findings"]


def test_spoken_names_resolve_to_fields_and_groups() -> None:
    template = builtin_templates()["ct_head"]
    ids = [f.id for f in template.fields]
    assert [ids[i] for i in template.resolve("findings")] == [
        "brain_parenchyma",
        "ventricles",
        "extra_axial_spaces",
        "skull",
        "sinuses_mastoids",
    ]
    assert [ids[i] for i in template.resolve("Extra-axial spaces")] == ["extra_axial_spaces"]
    assert [ids[i] for i in template.resolve("clinical history")] == ["clinical_information"]
    assert [ids[i] for i in template.resolve("  CALVARIUM ")] == ["skull"]
    assert template.resolve("garage") == ()


def test_spoken_names_drive_the_command_table() -> None:
    table = CommandTable().with_sections(builtin_templates()["ct_head"].spoken_names())
    command = table.match(["go", "to", "extra", "axial", "spaces"])
    assert command is not None
    assert command.action is Action.GOTO_SECTION
    assert command.argument == "extra axial spaces"
    command = table.match(["normal", "sinuses"])
    assert command is not None
    assert (command.action, command.argument) == (Action.INSERT_NORMAL, "sinuses")
    assert "go to impression" in table.grammar()


@pytest.mark.parametrize(
    ("modality", "body_part", "description", "expected"),
    [
        ("CT", "HEAD", "CT HEAD WITHOUT CONTRAST", "ct_head"),
        ("CT", "BRAIN", None, "ct_head"),
        ("CT", None, "CT Brain stroke protocol", "ct_head"),
        ("CT", "CHEST", "CT THORAX W CONTRAST", "ct_chest"),
        ("CT", None, "CTPA", "ct_chest"),
        ("CT", "ABDOMEN", "CT ABD/PELVIS WITH CONTRAST", "ct_abdomen_pelvis"),
        ("CT", "ABDOMENPELVIS", None, "ct_abdomen_pelvis"),
        ("CT", None, "CT chest abdomen pelvis", "ct_abdomen_pelvis"),
        ("CT", "CHEST", "CT chest abdomen pelvis", "ct_chest"),
        ("MR", "HEAD", "MRI BRAIN W/WO CONTRAST", "mr_brain"),
        ("MRI", None, "MR pituitary", "mr_brain"),
        ("MR", "LSPINE", "MR LUMBAR SPINE", "mr_spine"),
        ("MR", "CSPINE", None, "mr_spine"),
        ("MR", None, "MRI C-SPINE", "mr_spine"),
        ("mr", "spine", "", "mr_spine"),
        ("MR", "KNEE", "MR KNEE LEFT", "generic"),
        ("CT", "SPINE", "CT LUMBAR SPINE", "generic"),
        ("MR", "CHEST", "MR breast", "generic"),
        (None, None, None, "generic"),
        (None, "HEAD", None, "ct_head"),
    ],
)
def test_choose_template(
    modality: str | None, body_part: str | None, description: str | None, expected: str
) -> None:
    assert choose_template(modality, body_part, description).id == expected


def test_modalities_are_an_enum() -> None:
    assert builtin_templates()["ct_head"].modalities == (Modality.CT,)
    assert set(builtin_templates()["generic"].modalities) == {Modality.CT, Modality.MR}


# --- validation errors name the file and the key ------------------------------------------

MINIMAL = """
id = "x"
title = "X"
modalities = ["CT"]
[[sections]]
id = "findings"
title = "Findings"
[[sections]]
id = "impression"
title = "Impression"
required = true
"""


def write(tmp_path: Path, text: str, name: str = "x.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_template(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, MINIMAL))
    assert [f.id for f in template.fields] == ["findings", "impression"]
    assert load_templates([write(tmp_path, MINIMAL)])["x"] == template


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: t.replace('title = "X"', "title = 3"), r"x\.toml: title: expected a string"),
        (lambda t: t.replace('id = "x"', 'id = "X Y"'), r"x\.toml: id: 'X Y' is not an id"),
        (lambda t: "colour = 1\n" + t, r"x\.toml: colour: unknown key"),
        (lambda t: t.replace('["CT"]', '["US"]'), r"x\.toml: modalities: 'US' is not one of"),
        (lambda t: t.replace("required = true", 'required = "yes"'), r"sections\[1\]\.required"),
        (lambda t: t.replace('title = "Findings"', ""), r"x\.toml: sections\[0\]\.title: missing"),
        (
            lambda t: t.replace('id = "findings"', 'id = "impression"'),
            r"id 'impression' is used twice",
        ),
        (lambda t: t.replace("required = true", ""), r"'impression' section must be required"),
        (
            lambda t: t.replace('id = "impression"', 'id = "summary"'),
            r"there is no 'impression' section",
        ),
        (
            lambda t: t.replace(
                'title = "Findings"', 'title = "Findings"\naliases = ["impression"]'
            ),
            r"spoken name 'impression' means both 'findings' and 'impression'",
        ),
        (
            lambda t: t + '[[sections.fields]]\nid = "a"\ntitle = "A"\nnormal = 1\n',
            r"sections\[1\]\.fields\[0\]\.normal: expected a string",
        ),
        (lambda t: t.replace('id = "x"', 'id = "y"'), r"x\.toml: id: 'y' does not match"),
        (lambda t: t + "[[[", r"x\.toml: not valid TOML"),
    ],
)
def test_errors_name_the_file_and_key(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_template(write(tmp_path, change(MINIMAL)))


def test_a_group_section_has_no_normal_text_of_its_own() -> None:
    data = tomllib.loads(MINIMAL)
    data["sections"][0]["normal"] = "x"
    data["sections"][0]["fields"] = [{"id": "a", "title": "A"}]
    with pytest.raises(ValueError, match=r"t\.toml: sections\[0\]\.normal: a section with fields"):
        parse_template(data, "t.toml")
