"""Headless packages never import Textual (DESIGN.md: the viewer, dictation, templates,
report and client are plain Python a test, benchmark or other front end can drive).

Each module is imported in a fresh interpreter and ``sys.modules`` checked, as
harlequin's ``test_import_hygiene.py`` does; the import-linter contract in
pyproject.toml says the same statically.
"""

from __future__ import annotations

import importlib.util
import pkgutil
import subprocess
import sys

import pytest

HEADLESS = (
    "workstation.viewer",
    "workstation.dictation",
    "workstation.templates",
    "workstation.report",
    "workstation.client",
)
ALWAYS = "workstation.viewer"


def _modules() -> list[str]:
    names: list[str] = []
    for package in HEADLESS:
        spec = importlib.util.find_spec(package)
        if spec is None:
            if package == ALWAYS:
                raise AssertionError(f"{package} must exist")
            continue
        names.append(package)
        if spec.submodule_search_locations:
            for info in pkgutil.walk_packages(spec.submodule_search_locations, package + "."):
                names.append(info.name)
    return names


MODULES = _modules()


def test_viewer_modules_are_checked() -> None:
    assert "workstation.viewer.windowing" in MODULES
    assert "workstation.viewer.frame" in MODULES


_CODE = (
    "import importlib, sys\n"
    "importlib.import_module(sys.argv[1])\n"
    "bad = sorted(m for m in sys.modules if m == 'textual' or m.startswith('textual.'))\n"
    "print(','.join(bad))\n"
)


@pytest.fixture(scope="module")
def import_results() -> dict[str, subprocess.CompletedProcess[str]]:
    """Import every module in its own fresh interpreter, all started at once."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", _CODE, name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in MODULES
    }
    results = {}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=120)
        results[name] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return results


@pytest.mark.parametrize("module", MODULES)
def test_module_does_not_import_textual(
    module: str, import_results: dict[str, subprocess.CompletedProcess[str]]
) -> None:
    result = import_results[module]
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"{module} imports {result.stdout.strip()}"
