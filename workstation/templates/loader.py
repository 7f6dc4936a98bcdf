"""Load and validate report templates (TOML, one per exam) and choose one for a case.

The built-in templates are the ``*.toml`` files of this package; a template
file looks like::

    id = "ct_head"
    title = "CT Head"
    modalities = ["CT"]
    keywords = ["head", "brain"]

    [[sections]]
    id = "impression"
    title = "Impression"
    aliases = ["conclusion"]
    normal = "No acute intracranial abnormality."
    required = true

A section with ``[[sections.fields]]`` is a group of sub-fields, each with the
same keys (``id``, ``title``, ``spoken``, ``aliases``, ``normal``, ``required``).
Problems raise :class:`ValueError` naming the file and the key.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from workstation.templates.model import (
    Modality,
    ReportTemplate,
    TemplateField,
    TemplateSection,
    spoken_form,
)

__all__ = [
    "GENERIC_ID",
    "builtin_templates",
    "choose_template",
    "load_template",
    "load_templates",
    "parse_template",
]

GENERIC_ID = "generic"
_ID = re.compile(r"^[a-z][a-z0-9_]*$")
_TOP_KEYS = {"id", "title", "version", "modalities", "keywords", "sections"}
_SECTION_KEYS = {"id", "title", "spoken", "aliases", "normal", "required", "fields"}
_FIELD_KEYS = _SECTION_KEYS - {"fields"}
#: Spellings of a modality on a worklist that mean a DICOM modality.
_MODALITY_ALIASES = {"MRI": "MR", "CAT": "CT"}


class _Reader:
    """Typed access to a TOML table that names the file and key path in its errors."""

    def __init__(self, source: str, data: Mapping[str, Any], where: str = "") -> None:
        self.source = source
        self.data = data
        self.where = where

    def error(self, key: str, problem: str) -> ValueError:
        return ValueError(f"{self.source}: {self.where}{key}: {problem}")

    def check_keys(self, allowed: set[str]) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(key, f"unknown key (expected one of {', '.join(sorted(allowed))})")

    def text(self, key: str, default: str | None = None) -> str:
        value = self.data.get(key, default)
        if value is None:
            raise self.error(key, "missing")
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {type(value).__name__}")
        return value

    def ident(self, key: str) -> str:
        value = self.text(key)
        if not _ID.match(value):
            raise self.error(key, f"{value!r} is not an id (lower-case letters, digits, _)")
        return value

    def flag(self, key: str) -> bool:
        value = self.data.get(key, False)
        if not isinstance(value, bool):
            raise self.error(key, f"expected true or false, got {value!r}")
        return value

    def strings(self, key: str) -> list[str]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(key, "expected a list of strings")
        return value

    def tables(self, key: str) -> list[_Reader]:
        value = self.data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "expected an array of tables ([[...]])")
        return [_Reader(self.source, v, f"{self.where}{key}[{i}].") for i, v in enumerate(value)]


def _spoken(reader: _Reader, title: str) -> tuple[str, ...]:
    names = [reader.text("spoken", title), *reader.strings("aliases")]
    spoken = tuple(dict.fromkeys(spoken_form(n) for n in names))
    if "" in spoken:
        raise reader.error("aliases", "a spoken name is empty")
    return spoken


def _field(reader: _Reader, section: str) -> TemplateField:
    reader.check_keys(_FIELD_KEYS)
    title = reader.text("title")
    return TemplateField(
        id=reader.ident("id"),
        title=title,
        section=section,
        spoken=_spoken(reader, title),
        normal=reader.text("normal", ""),
        required=reader.flag("required"),
    )


def _section(reader: _Reader) -> TemplateSection:
    reader.check_keys(_SECTION_KEYS)
    section_id = reader.ident("id")
    title = reader.text("title")
    spoken = _spoken(reader, title)
    required = reader.flag("required")
    subs = reader.tables("fields")
    if subs:
        if "normal" in reader.data:
            raise reader.error("normal", "a section with fields has a normal text per field")
        fields = tuple(_field(sub, section_id) for sub in subs)
    else:
        normal = reader.text("normal", "")
        fields = (TemplateField(section_id, title, section_id, spoken, normal, required),)
    return TemplateSection(section_id, title, spoken, fields, required)


def _modality(reader: _Reader, value: str) -> Modality:
    upper = value.strip().upper()
    try:
        return Modality(_MODALITY_ALIASES.get(upper, upper))
    except ValueError:
        allowed = ", ".join(m.value for m in Modality)
        raise reader.error("modalities", f"{value!r} is not one of {allowed}") from None


def _check_unique(reader: _Reader, template: ReportTemplate) -> None:
    ids: set[str] = set()
    for section in template.sections:
        for item in {section.id, *(f.id for f in section.fields)}:
            if item in ids:
                raise reader.error("sections", f"id {item!r} is used twice")
            ids.add(item)
    owner: dict[str, str] = {}
    for section in template.sections:
        targets = [(section.spoken, section.id)]
        if section.structured:
            targets += [(f.spoken, f.id) for f in section.fields]
        for names, target in targets:
            for name in names:
                if owner.setdefault(name, target) != target:
                    both = f"{owner[name]!r} and {target!r}"
                    raise reader.error("sections", f"spoken name {name!r} means both {both}")
    if not any(section.id == "impression" for section in template.sections):
        raise reader.error("sections", "there is no 'impression' section")
    if not template.section("impression").fields[0].required:
        raise reader.error("sections", "the 'impression' section must be required")


def parse_template(data: Mapping[str, Any], source: str = "<template>") -> ReportTemplate:
    """A template from parsed TOML; ``source`` names the file in errors."""
    reader = _Reader(source, data)
    reader.check_keys(_TOP_KEYS)
    version = data.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise reader.error("version", "expected a positive integer")
    sections = tuple(_section(r) for r in reader.tables("sections"))
    if not sections:
        raise reader.error("sections", "a template needs at least one section")
    template = ReportTemplate(
        id=reader.ident("id"),
        title=reader.text("title"),
        modalities=tuple(_modality(reader, m) for m in reader.strings("modalities")),
        keywords=tuple(" ".join(k.lower().split()) for k in reader.strings("keywords")),
        sections=sections,
        version=version,
    )
    _check_unique(reader, template)
    return template


def load_template(path: Path) -> ReportTemplate:
    """Read and validate one template file."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"{path.name}: not valid TOML ({error})") from None
    template = parse_template(data, path.name)
    if template.id != path.stem:
        raise ValueError(f"{path.name}: id: {template.id!r} does not match the file name")
    return template


def load_templates(paths: Iterable[Path]) -> dict[str, ReportTemplate]:
    """Templates by id from several files (a later file with the same id wins)."""
    return {t.id: t for t in (load_template(p) for p in sorted(paths))}


@cache
def builtin_templates() -> dict[str, ReportTemplate]:
    """The templates shipped in this package, by id."""
    root = resources.files(__package__)
    templates: dict[str, ReportTemplate] = {}
    for entry in sorted(root.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            name = entry.name
            try:
                data = tomllib.loads(entry.read_text(encoding="utf-8"))
            except tomllib.TOMLDecodeError as error:
                raise ValueError(f"{name}: not valid TOML ({error})") from None
            template = parse_template(data, name)
            if template.id != name.removesuffix(".toml"):
                raise ValueError(f"{name}: id: {template.id!r} does not match the file name")
            templates[template.id] = template
    return templates


def _words(*texts: str | None) -> str:
    """Lower-case words separated by single spaces, padded (for whole-word matching)."""
    joined = " ".join(t for t in texts if t)
    return " " + " ".join(re.sub(r"[^a-z0-9]+", " ", joined.lower()).split()) + " "


def choose_template(
    modality: str | None,
    body_part: str | None,
    study_description: str | None,
    templates: Mapping[str, ReportTemplate] | None = None,
) -> ReportTemplate:
    """The template for a case: the best keyword match among the templates of its modality.

    A keyword in the DICOM body part counts twice, one in the study description
    once; ties go to the template listed first. No match: the generic template.
    """
    templates = builtin_templates() if templates is None else templates
    wanted = (modality or "").strip().upper()
    wanted = _MODALITY_ALIASES.get(wanted, wanted)
    part, description = _words(body_part), _words(study_description)
    best: tuple[int, ReportTemplate] | None = None
    for template in templates.values():
        if template.id == GENERIC_ID:
            continue
        if wanted and template.modalities and wanted not in template.modalities:
            continue
        score = sum(2 * (f" {k} " in part) + (f" {k} " in description) for k in template.keywords)
        if score and (best is None or score > best[0]):
            best = (score, template)
    if best is not None:
        return best[1]
    if GENERIC_ID not in templates:
        raise ValueError(f"no template for {modality} {body_part or study_description or ''}")
    return templates[GENERIC_ID]
