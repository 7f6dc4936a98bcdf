"""Report templates as data: sections, fields, spoken names and normal texts.

A template is a list of sections (clinical information, technique, comparison,
findings, impression). A section is either one free-text field or, for the
structured exams, a group of sub-fields (one per organ system). The report
document flattens a template into its :attr:`ReportTemplate.fields`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Modality", "ReportTemplate", "TemplateField", "TemplateSection", "spoken_form"]


class Modality(StrEnum):
    """The modalities Readroom reads (DICOM Modality, PS3.3 C.7.3.1.1.1)."""

    CT = "CT"
    MR = "MR"


@dataclass(frozen=True, slots=True)
class TemplateField:
    """One place to type or dictate into."""

    id: str
    title: str
    section: str
    """The id of the section that holds the field."""
    spoken: tuple[str, ...]
    """Lower-case names to say after "go to" / "normal": the spoken name first, then aliases."""
    normal: str = ""
    """The text for "insert normal"; empty when there is none."""
    required: bool = False


@dataclass(frozen=True, slots=True)
class TemplateSection:
    """A heading of the report: a single field, or a group of sub-fields."""

    id: str
    title: str
    spoken: tuple[str, ...]
    fields: tuple[TemplateField, ...]
    required: bool = False
    """For a group: at least one sub-field must be filled."""

    @property
    def structured(self) -> bool:
        """True when the section is a group of sub-fields (not one free-text field)."""
        return not (len(self.fields) == 1 and self.fields[0].id == self.id)


@dataclass(frozen=True, slots=True)
class ReportTemplate:
    """A report template for one kind of exam."""

    id: str
    title: str
    modalities: tuple[Modality, ...]
    """Empty: any modality."""
    keywords: tuple[str, ...]
    """Lower-case body-part words that pick this template (see ``choose_template``)."""
    sections: tuple[TemplateSection, ...]
    version: int = 1

    @property
    def fields(self) -> tuple[TemplateField, ...]:
        """Every field, in report order."""
        return tuple(f for section in self.sections for f in section.fields)

    def section(self, section_id: str) -> TemplateSection:
        """The section with ``section_id`` (KeyError when there is none)."""
        for section in self.sections:
            if section.id == section_id:
                return section
        raise KeyError(section_id)

    def spoken_names(self) -> tuple[str, ...]:
        """Every name that "go to …" and "normal …" accept (for the command table)."""
        names: list[str] = []
        for section in self.sections:
            names.extend(section.spoken)
            if section.structured:
                for f in section.fields:
                    names.extend(f.spoken)
        return tuple(dict.fromkeys(names))

    def resolve(self, name: str) -> tuple[int, ...]:
        """Indices into :attr:`fields` that a spoken ``name`` means (all of a group); () if none.

        Spoken names, ids and titles all match, ignoring case and extra spaces.
        """
        wanted = spoken_form(name)
        if not wanted:
            return ()
        index = 0
        fields: dict[str, tuple[int, ...]] = {}
        groups: dict[str, tuple[int, ...]] = {}
        for section in self.sections:
            span = tuple(range(index, index + len(section.fields)))
            for key in (*section.spoken, spoken_form(section.title), spoken_form(section.id)):
                groups.setdefault(key, span)
            for offset, f in enumerate(section.fields):
                for key in (*f.spoken, spoken_form(f.title), spoken_form(f.id)):
                    fields.setdefault(key, (index + offset,))
            index += len(section.fields)
        return groups.get(wanted) or fields.get(wanted) or ()


def spoken_form(name: str) -> str:
    """How a name is heard: lower-case words ("Extra-axial spaces" → "extra axial spaces")."""
    return " ".join(re.sub(r"[^\w']+|_", " ", name.lower()).split())
