"""Report templates (TOML, one per exam), their loader and the choice of template for a case.

Headless: no Textual here (tests/workstation/test_import_hygiene.py checks it).
"""

from workstation.templates.loader import (
    GENERIC_ID,
    builtin_templates,
    choose_template,
    load_template,
    load_templates,
    parse_template,
)
from workstation.templates.model import Modality, ReportTemplate, TemplateField, TemplateSection

__all__ = [
    "GENERIC_ID",
    "Modality",
    "ReportTemplate",
    "TemplateField",
    "TemplateSection",
    "builtin_templates",
    "choose_template",
    "load_template",
    "load_templates",
    "parse_template",
]
