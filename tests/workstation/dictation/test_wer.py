"""The WER benchmark's scoring (the script itself runs the real pipeline)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "benchmarks" / "dictation_wer.py"


@pytest.fixture(scope="module")
def wer():
    spec = importlib.util.spec_from_file_location("dictation_wer", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_words_drop_punctuation_but_keep_decimals(wer) -> None:
    assert wer.words("A 3.2 cm mass (series 3). Stable, L4-5.") == [
        "a", "3.2", "cm", "mass", "series", "3", "stable", "l4-5",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("ref", "hyp", "distance"),
    [
        ("a b c", "a b c", 0),
        ("a b c", "a c", 1),
        ("a b", "a x b", 1),
        ("a b c", "x y z", 3),
        ("", "a", 1),
    ],
)
def test_edit_distance(wer, ref: str, hyp: str, distance: int) -> None:
    assert wer.edit_distance(ref.split(), hyp.split()) == distance


def test_empty_folder_is_an_error(wer, tmp_path, capsys) -> None:
    assert wer.main([str(tmp_path)]) == 2
    assert "no .wav + .txt pairs" in capsys.readouterr().err
