"""Viewer performance: frame preparation, keypress -> frame painted / written, opening a case.

Run: ``.venv/bin/python benchmarks/viewer.py [--slices 300] [--keys N]`` (N: default, the
whole series). Prints one table, each measurement beside its target.

(a) Frame preparation (window + resample) of each slice of a generated
    512x512 CT series into a 160x90-cell viewport (160x180 pixels with
    half-blocks), and the half-block segments / escape text built from it.
(b) Keypress -> frame written, for the Textual viewport in half-block mode,
    measured as FIELD-NOTES.md describes: a HeadlessDriver subclass that
    reports ``is_headless = False`` (so the terminal output is really built
    and handed to ``write``), the key injected with ``driver.send_message``,
    the end taken in ``App.post_display_hook`` once the viewport has served
    the new frame's last row. Measured with frames built on the keypress and
    with neighbours prefetched in a background thread.
    The viewport runs under the app's heap policy (``workstation.heap``:
    settle once started, freeze each frame built); the garbage collector's
    pauses during the scroll are timed with ``gc.callbacks``.
(c) The same with textual-image's half-cell renderer showing the same
    prepared frames, and the ratio to (b).
(d) Keypress -> frame written, end to end, in tmux: the bench starts this
    script (``--tmux-app``) in a detached tmux session of 200x100 cells
    (90 rows of viewport do not fit in 60) hosting the Viewport over the same
    generated series in a 160x90-cell area, and sends "Down" with ``tmux
    send-keys``. The app's driver notes when each key arrives (parsed, in its
    input thread) and, through a marker queued behind the frame in Textual's
    writer thread, when the frame's last byte has been written and flushed
    to the pty (a pty write only completes as tmux reads it). Two numbers:
    send-keys -> written (includes starting the ``tmux`` client, a few ms)
    and key arrival -> written (the app's share). CLOCK_MONOTONIC is
    shared by the two processes.
(e) Opening a case whose 300-slice series is already in the VolumeStore
    cache: push the real ReadingScreen (report panel and all) -> first frame
    of the image painted (the measuring driver of (b)); QIDO is served by
    the in-memory fake server of the tests.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import IO, Any, ClassVar

from PIL import Image as PILImage
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.drivers.headless_driver import HeadlessDriver
from textual.drivers.linux_driver import LinuxDriver
from textual.geometry import Region
from textual.message import Message
from textual.strip import Strip

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# textual-image asks the terminal for its cell size once, before Textual starts.
from textual_image.renderable.halfcell import Image as HalfcellRenderable
from textual_image.widget import HalfcellImage

from server.imaging.synthetic import make_ct_study
from workstation import heap
from workstation.viewer.frame import ViewGeometry, prepare_frame
from workstation.viewer.loading import load_series
from workstation.viewer.presets import WindowPreset
from workstation.viewer.render import halfblock_lines, line_text
from workstation.viewer.volume import SeriesVolume
from workstation.widgets.viewport import Viewport

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 160, 90
NAN = float("nan")


@dataclass
class Row:
    """One line of the table: a measurement (ms unless ``unit``), and its target when it has one."""

    name: str
    median: float
    p90: float = NAN
    target: str = ""
    ok: bool | None = None
    note: str = ""
    unit: str = "ms"


def _stats(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]


class GcPauses:
    """Times each garbage collection (``gc.callbacks``) while installed."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float]] = []  # (generation, seconds)
        self._start = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.pauses.append((info["generation"], time.perf_counter() - self._start))

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self)

    @property
    def longest_ms(self) -> float:
        return max((p for _, p in self.pauses), default=0.0) * 1000

    def summary(self) -> str:
        """Collections per generation and the longest of each."""
        parts = []
        for gen in (0, 1, 2):
            times = [p for g, p in self.pauses if g == gen]
            if times:
                parts.append(f"gen{gen} {len(times)}x max {max(times) * 1000:.1f}")
        return ", ".join(parts) or "none"


def _time_each(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def bench_frames(volume: SeriesVolume) -> list[Row]:
    """(a): frame preparation and half-block rendering per slice."""
    geometry = ViewGeometry((HEIGHT * 2, WIDTH), volume.shape[1:], volume.pixel_spacing)
    window = WindowPreset.ABDOMEN.window
    n = volume.count
    prepare_frame(volume.voxels[0], geometry, window)  # build the map and LUT once
    prep = _time_each(lambda i: prepare_frame(volume.voxels[i], geometry, window), n)
    frames = [prepare_frame(volume.voxels[i], geometry, window) for i in range(n)]
    segs = _time_each(lambda i: halfblock_lines(frames[i]), n)
    lines = [halfblock_lines(f) for f in frames]
    text = _time_each(lambda i: [line_text(line) for line in lines[i]], n)
    median, p90 = _stats(prep)
    return [
        Row("(a) frame prep (window + resample) 512² -> 160x180", median, p90,
            "median <= 0.5 ms", median <= 0.5),
        Row("    half-block segments, 160x90 cells", *_stats(segs),
            note="background thread"),
        Row("    escape text of 90 lines", *_stats(text), note="background thread"),
    ]  # fmt: skip


# ---------------------------------------------------------------------------
# (b) and (c): the measuring driver and the two apps


class MeasuringDriver(HeadlessDriver):
    """A headless driver that makes Textual build real terminal output."""

    last: str = ""

    @property
    def is_headless(self) -> bool:
        return False

    def write(self, data: str) -> None:
        self.last = data  # keep a reference; its size is taken outside the measurement


class _BenchApp(App[tuple[list[float], int, float]]):
    """Presses "down" ``keys`` times and times each key -> frame written."""

    WARMUP = 10

    def __init__(self, keys: int) -> None:
        super().__init__(driver_class=MeasuringDriver)
        self.keys = keys
        self._pending: asyncio.Event | None = None
        self._t0 = 0.0
        self._latencies: list[float] = []
        self._sizes: list[int] = []
        self.gc_summary = ""

    def arm(self) -> None:
        """Note what the next frame must show."""
        raise NotImplementedError

    def frame_done(self) -> bool:
        """Whether the frame armed for has been served to the compositor."""
        raise NotImplementedError

    async def settle(self) -> None:
        """Wait for background work, and leave keys a typical repeat interval apart.

        Textual paints at most every 1/60 s, so keys closer than that would
        measure its frame-rate limiter rather than the work.
        """
        await asyncio.sleep(0.05)

    def post_display_hook(self) -> None:
        if self._pending is not None and not self._pending.is_set() and self.frame_done():
            self._latencies.append(time.perf_counter() - self._t0)
            self._pending.set()

    def on_ready(self) -> None:
        # a plain task, not a worker: it waits for the viewport's workers
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        driver = self._driver
        assert isinstance(driver, MeasuringDriver)
        await asyncio.sleep(0.3)  # start-up paints
        pauses = GcPauses()
        for i in range(self.WARMUP + self.keys):
            if i == self.WARMUP:
                self._latencies.clear()
                heap.settle()  # as the app does once started (ReadroomApp._freeze_heap)
                pauses.__enter__()
            await self.settle()
            self._pending = asyncio.Event()
            self.arm()
            driver.last = ""
            self._t0 = time.perf_counter()
            driver.send_message(events.Key("down", None))
            await asyncio.wait_for(self._pending.wait(), 10)
            self._sizes.append(len(driver.last.encode()))
        pauses.__exit__()
        gc.unfreeze()
        gc.collect()
        self.gc_summary = pauses.summary()
        self.exit((self._latencies, int(statistics.median(self._sizes)), pauses.longest_ms))


class _ProbeViewport(Viewport):
    served = -1

    def render_lines(self, crop: Region) -> list[Strip]:
        strips = super().render_lines(crop)
        if crop.bottom >= self.size.height:
            self.served = self.slice_index
        return strips


class ViewportBench(_BenchApp):
    CSS = "Screen { overflow: hidden; }"

    def __init__(
        self, volume: SeriesVolume, keys: int, *, prefetch: bool, levels: int = 256
    ) -> None:
        super().__init__(keys)
        self.viewport = _ProbeViewport(volume, prefetch=prefetch)
        self.viewport.levels = levels
        self.viewport.freeze_frames = True  # as on the reading screen (workstation.heap)
        self.target = -1

    def compose(self) -> ComposeResult:
        yield self.viewport

    def on_mount(self) -> None:
        self.viewport.slice_index = 5
        self.viewport.focus()

    def arm(self) -> None:
        self.target = self.viewport.slice_index + 1

    def frame_done(self) -> bool:
        return self.viewport.served == self.target

    async def settle(self) -> None:
        await super().settle()
        await self.workers.wait_for_complete([w for w in self.workers if w.node is self.viewport])


class ProbeImage(HalfcellImage, Renderable=HalfcellRenderable):
    generation = 0
    served = -1

    def render_lines(self, crop: Region) -> list[Strip]:
        strips = super().render_lines(crop)
        if crop.bottom >= self.size.height:
            self.served = self.generation
        return strips


class ImageBench(_BenchApp):
    CSS = f"Screen {{ overflow: hidden; }} ProbeImage {{ width: {WIDTH}; height: {HEIGHT}; }}"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("down", "next_image", id="bench.next")]

    def __init__(self, volume: SeriesVolume, keys: int) -> None:
        super().__init__(keys)
        geometry = ViewGeometry((HEIGHT * 2, WIDTH), volume.shape[1:], volume.pixel_spacing)
        window = WindowPreset.ABDOMEN.window
        n = min(volume.count, keys + self.WARMUP + 8)
        self.frames = [
            PILImage.fromarray(prepare_frame(volume.voxels[i], geometry, window)).convert("RGB")
            for i in range(n)
        ]
        self.image = ProbeImage(self.frames[0])
        self.target = -1

    def compose(self) -> ComposeResult:
        yield self.image

    def action_next_image(self) -> None:
        self.image.generation += 1
        self.image.image = self.frames[self.image.generation % len(self.frames)]

    def arm(self) -> None:
        self.target = self.image.generation + 1

    def frame_done(self) -> bool:
        return self.image.served == self.target


async def _measure_keys(app_factory: Callable[[], _BenchApp]) -> tuple[list[float], int, float]:
    """Run the app with the measuring driver; it returns (latencies, bytes written, GC max)."""
    app = app_factory()
    result = await app.run_async(headless=False, size=(WIDTH, HEIGHT))
    assert result is not None, "benchmark app did not report"
    _measure_keys.gc_summary = app.gc_summary  # type: ignore[attr-defined]
    return result


def bench_paint(volume: SeriesVolume, keys: int) -> list[Row]:
    """(b) and (c): keypress -> frame written, half-block viewport vs textual-image."""
    rows: list[Row] = []
    medians: dict[str, float] = {}
    shipped = "viewport, neighbours prefetched"  # what the reading screen uses
    for label, factory in (
        ("viewport, built on keypress", lambda: ViewportBench(volume, keys, prefetch=False)),
        (shipped, lambda: ViewportBench(volume, keys, prefetch=True)),
        (
            "viewport, prefetched, 64 grey levels",
            lambda: ViewportBench(volume, keys, prefetch=True, levels=64),
        ),
        ("textual-image HalfcellImage", lambda: ImageBench(volume, keys)),
    ):
        latencies, written, gc_max = asyncio.run(_measure_keys(factory))
        median, p90 = _stats(latencies)
        medians[label] = median
        note = f"{written // 1024} KiB/frame, {len(latencies)} keys, GC max {gc_max:.1f} ms"
        if label == shipped:
            rows.append(
                Row(
                    f"(b) key -> painted: {label}",
                    median,
                    p90,
                    "median <= 8, p90 <= 15 ms",
                    median <= 8 and p90 <= 15,
                    note,
                )
            )
            rows.append(
                Row(
                    f"    longest GC pause in the {len(latencies)}-slice scroll",
                    gc_max,
                    target="<= 30 ms",
                    ok=gc_max <= 30,
                    note=_measure_keys.gc_summary,  # type: ignore[attr-defined]
                )
            )
        else:
            prefix = "(c)" if "textual-image" in label else "   "
            rows.append(Row(f"{prefix} key -> painted: {label}", median, p90, note=note))
    image = medians["textual-image HalfcellImage"]
    ratio = image / medians[shipped]
    rows.append(
        Row(
            f"    (c) / (b): textual-image vs {shipped}",
            ratio,
            target=">= 10x",
            ok=ratio >= 10,
            unit="x",
        )
    )
    ratio = image / medians["viewport, built on keypress"]
    rows.append(Row("    (c) / viewport built on keypress", ratio, unit="x"))
    return rows  # fmt: skip


# ---------------------------------------------------------------------------
# (d): end to end in tmux


class _Mark(str):
    """Queued behind a measured frame: the writer thread logs when all before it is out."""

    slice_index: int
    key_time: float
    shown_time: float

    def __new__(cls, slice_index: int, key_time: float) -> _Mark:
        mark = super().__new__(cls, "")
        mark.slice_index = slice_index
        mark.key_time = key_time
        mark.shown_time = time.monotonic()  # the frame was handed to the writer thread
        return mark


class _TimedFile:
    """The terminal as Textual's writer thread sees it; a :class:`_Mark` logs the time."""

    def __init__(self, file: IO[str], log: IO[str]) -> None:
        self._file = file
        self._log = log
        self._bytes = 0

    def write(self, text: str) -> int:
        if isinstance(text, _Mark):
            self._file.flush()  # returns once the pty took the last byte
            written = time.monotonic()
            self._log.write(
                f"{text.slice_index} {text.key_time:.6f} {text.shown_time:.6f}"
                f" {written:.6f} {self._bytes}\n"
            )
            self._log.flush()
            self._bytes = 0
            return 0
        self._bytes += len(text.encode())
        return self._file.write(text)

    def flush(self) -> None:
        self._file.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._file, name)


class TimedLinuxDriver(LinuxDriver):
    """Textual's terminal driver, noting when "down" arrives and when frames are written."""

    log: ClassVar[IO[str] | None] = None

    def __init__(self, app: App[Any], **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        assert self.log is not None
        self._file = _TimedFile(self._file, self.log)  # type: ignore[arg-type]

    def process_message(self, message: Message) -> None:
        if isinstance(message, events.Key) and message.key == "down":
            app = self._app
            assert isinstance(app, TmuxViewerApp)
            app.key_arrived(time.monotonic())  # input thread, before the app sees the key
        super().process_message(message)


class TmuxViewerApp(App[None]):
    """The Viewport over a generated series, 160x90 cells, inside a real terminal (tmux)."""

    CSS = f"Screen {{ overflow: hidden; }} Viewport {{ width: {WIDTH}; height: {HEIGHT}; }}"

    def __init__(self, volume: SeriesVolume, log: IO[str]) -> None:
        TimedLinuxDriver.log = log
        super().__init__(driver_class=TimedLinuxDriver)
        self.viewport = _ProbeViewport(volume, prefetch=True)
        self.viewport.freeze_frames = True  # as on the reading screen (workstation.heap)
        self._log = log
        self._target = -1
        self._key_time: float | None = None

    def compose(self) -> ComposeResult:
        yield self.viewport

    def on_mount(self) -> None:
        self.viewport.slice_index = 5
        self.viewport.focus()
        self.set_timer(0.5, self._started)

    def _started(self) -> None:
        heap.settle()  # as the app does once started
        self._log.write("ready\n")
        self._log.flush()

    def key_arrived(self, when: float) -> None:
        self._target = self.viewport.slice_index + 1
        self._key_time = when

    def post_display_hook(self) -> None:
        key_time = self._key_time
        if key_time is not None and self.viewport.served == self._target:
            self._key_time = None
            driver = self._driver
            assert driver is not None
            driver.write(_Mark(self._target, key_time))


def run_tmux_app(log_path: Path, slices: int) -> int:
    """``--tmux-app``: what runs inside the tmux session."""
    volume = load_series(make_ct_study(slices=slices, series=["axial-soft-tissue"]))
    gc.collect()
    with log_path.open("a", encoding="utf-8") as log:
        TmuxViewerApp(volume, log).run()
    return 0


def _wait_line(log: IO[str], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = log.readline()
        if line.endswith("\n"):
            return line
        time.sleep(0.001)
    raise TimeoutError("the app in tmux did not answer")


def bench_tmux(slices: int, keys: int, warmup: int = 10) -> list[Row]:
    """(d): tmux send-keys "Down" -> the frame written to the pty, end to end."""
    name = "(d) key -> written in tmux"
    if shutil.which("tmux") is None:
        return [Row(name, NAN, target="median <= 30 ms", ok=False, note="tmux not installed")]
    session = f"bench-{os.getpid()}-{time.monotonic_ns()}"
    with tempfile.TemporaryDirectory() as tmp:
        log_path = Path(tmp) / "frames.log"
        log_path.touch()
        command = (
            f"cd {ROOT} && COLORTERM=truecolor exec {sys.executable} {Path(__file__).resolve()}"
            f" --tmux-app {log_path} --slices {slices}"
        )
        subprocess.run(
            ["tmux", "new-session", "-d", "-s", session, "-x", "200", "-y", "100", command],
            check=True,
        )
        e2e: list[float] = []
        app_side: list[float] = []
        handed: list[float] = []
        sizes: list[int] = []
        try:
            with log_path.open(encoding="utf-8") as log:
                assert _wait_line(log, 120).strip() == "ready"
                for i in range(warmup + keys):
                    time.sleep(0.06)  # keys a typical repeat interval apart
                    sent = time.monotonic()
                    subprocess.run(["tmux", "send-keys", "-t", session, "Down"], check=True)
                    _slice, key_time, shown, written, size = _wait_line(log, 10).split()
                    if i >= warmup:
                        e2e.append(float(written) - sent)
                        app_side.append(float(written) - float(key_time))
                        handed.append(float(shown) - float(key_time))
                        sizes.append(int(size))
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    median, p90 = _stats(e2e)
    note = f"{int(statistics.median(sizes)) // 1024} KiB/frame, {len(e2e)} keys"
    return [
        Row(f"{name}: send-keys -> written", median, p90, "median <= 30 ms", median <= 30,
            note),
        Row("    (d) app side: key arrival -> written", *_stats(app_side)),
        Row("    (d) app side: key arrival -> frame handed to the writer", *_stats(handed)),
    ]  # fmt: skip


# ---------------------------------------------------------------------------
# (e): opening a prefetched case


class OpenCaseApp(App[list[float]]):
    """Pushes the reading screen over a cached series ``times`` times; times the first frame."""

    def __init__(self, settings: Any, services: Any, case: Any, study_uid: str, times: int):
        super().__init__(driver_class=MeasuringDriver)
        self.settings = settings
        self.services = services
        self.case = case
        self.study_uid = study_uid
        self.times = times
        self._t0 = 0.0
        self._screen: Any = None
        self._opened: asyncio.Event | None = None
        self.results: list[float] = []

    def worker_failed(self, worker: Any) -> None:  # the reading screen reports here
        raise RuntimeError(f"worker {worker.name} failed: {worker.error!r}")

    def worker_succeeded(self) -> None:
        pass

    def post_display_hook(self) -> None:
        screen = self._screen
        if self._opened is None or self._opened.is_set() or screen is None:
            return
        if self.screen is screen and getattr(screen.viewport, "served", None) is not None:
            self.results.append(time.perf_counter() - self._t0)
            self._opened.set()

    def on_ready(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        from workstation.screens.reading import ReadingScreen

        await asyncio.sleep(0.3)
        for _ in range(self.times):
            self._opened = asyncio.Event()
            self._screen = ReadingScreen(
                self.settings, self.services, case=self.case, study_uid=self.study_uid
            )
            self._t0 = time.perf_counter()
            self.push_screen(self._screen)
            await asyncio.wait_for(self._opened.wait(), 30)
            await asyncio.sleep(0.2)
            self.pop_screen()
            await asyncio.sleep(0.2)
        self.exit(self.results)


def bench_open(datasets: list[Any], volume: SeriesVolume, times: int = 5) -> list[Row]:
    """(e): push the reading screen with the series cached -> first image painted."""
    from server.cases.schemas import ReadingCase
    from tests.workstation.fakes import FakeServer, case_json, fake_services, settings_for
    from workstation.widgets.reading_viewport import ReadingViewport

    served = ReadingViewport.render_lines

    def render_lines(self: ReadingViewport, crop: Region) -> list[Strip]:
        strips = served(self, crop)
        if self.volume is not None and crop.bottom >= self.size.height:
            self.served = self.volume  # type: ignore[attr-defined]
        return strips

    ReadingViewport.render_lines = render_lines  # type: ignore[method-assign]
    ReadingViewport.served = None  # type: ignore[attr-defined]
    server = FakeServer()
    study_uid = server.add_study(datasets)
    services = fake_services(server, token=server.issue_token())
    series_uid = str(datasets[0].SeriesInstanceUID)
    services.volumes.put(series_uid, volume)  # prefetched
    fields = case_json("RR-BENCH-0001", images=len(datasets), study_uid=study_uid)
    case = ReadingCase.model_validate(
        {**fields, "patient_family_name": "SYNTHETIC", "patient_given_names": "BENCH",
         "patient_birth_date": None, "exam_requested": fields["study_description"],
         "physician_name": None, "physician_cpso_number": None, "physician_fax": None,
         "study_date": None, "referral_received_at": None}
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(Path(tmp))
        app = OpenCaseApp(settings, services, case, study_uid, times)
        results = asyncio.run(app.run_async(headless=False, size=(200, 60)))
    services.close()
    ReadingViewport.render_lines = served  # type: ignore[method-assign]
    assert results, "the reading screen never showed the image"
    ms = sorted(r * 1000 for r in results)
    return [
        Row(f"(e) open a prefetched {volume.count}-slice case -> first image",
            statistics.median(ms), ms[-1], "<= 1000 ms", ms[-1] <= 1000,
            f"{len(ms)} opens; p90 column = slowest")
    ]  # fmt: skip


def print_table(rows: list[Row]) -> None:
    print()
    header = f"{'measure':<62} {'median':>10} {'p90':>10}  {'target':<26} {'':4} note"
    print(header)
    print("-" * len(header))
    for row in rows:
        unit = "x" if row.unit == "x" else " ms"
        median = "—" if math.isnan(row.median) else f"{row.median:.3f}{unit}"
        p90 = "" if math.isnan(row.p90) else f"{row.p90:.3f}{unit}"
        verdict = "" if row.ok is None else ("ok" if row.ok else "MISS")
        print(f"{row.name:<62} {median:>10} {p90:>10}  {row.target:<26} {verdict:4} {row.note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument(
        "--keys", type=int, default=None, help="keypresses measured per mode (default: the series)"
    )
    parser.add_argument("--no-paint", action="store_true", help="only (a), no Textual")
    parser.add_argument("--no-tmux", action="store_true", help="skip (d)")
    parser.add_argument("--tmux-app", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.tmux_app is not None:
        return run_tmux_app(args.tmux_app, args.slices)

    t0 = time.perf_counter()
    datasets = make_ct_study(
        slices=args.slices, series=["axial-soft-tissue"], study_date=date.today()
    )
    t1 = time.perf_counter()
    volume = load_series(datasets)
    t2 = time.perf_counter()
    gc.collect()
    print(
        f"generated {args.slices} CT slices 512x512 in {t1 - t0:.2f} s, "
        f"loaded into a volume in {t2 - t1:.2f} s"
    )
    warmup = _BenchApp.WARMUP + 8  # the viewport starts at slice 5
    keys = min(args.keys or volume.count, volume.count - warmup)

    rows = bench_frames(volume)
    if not args.no_paint:
        rows += bench_paint(volume, keys)
        if not args.no_tmux:
            rows += bench_tmux(args.slices, keys)
        rows += bench_open(datasets, volume)
    print_table(rows)
    return 0 if all(row.ok is not False for row in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
