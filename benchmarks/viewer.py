"""Viewer performance: frame preparation, and keypress -> frame painted.

Run: ``.venv/bin/python benchmarks/viewer.py [--slices 300] [--keys 120]``

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
(c) The same with textual-image's half-cell renderer showing the same
    prepared frames, and the ratio to (b).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import ClassVar

import numpy as np
from PIL import Image as PILImage
from textual import events
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.drivers.headless_driver import HeadlessDriver
from textual.geometry import Region
from textual.strip import Strip

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# textual-image asks the terminal for its cell size once, before Textual starts.
from textual_image.renderable.halfcell import Image as HalfcellRenderable
from textual_image.widget import HalfcellImage

from server.imaging.synthetic import make_ct_study
from workstation.viewer.frame import ViewGeometry, prepare_frame
from workstation.viewer.loading import load_series
from workstation.viewer.presets import WindowPreset
from workstation.viewer.render import halfblock_lines, line_text
from workstation.viewer.volume import SeriesVolume
from workstation.widgets.viewport import Viewport

WIDTH, HEIGHT = 160, 90


def _stats(samples: list[float]) -> tuple[float, float]:
    ms = sorted(s * 1000 for s in samples)
    return statistics.median(ms), ms[min(len(ms) - 1, round(0.9 * (len(ms) - 1)))]


def _time_each(fn: Callable[[int], object], n: int) -> list[float]:
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


def bench_frames(volume: SeriesVolume) -> list[tuple[str, float, float, str]]:
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
    return [
        ("frame prep (window + resample) 512² -> 160x180", *_stats(prep), "target <= 0.5 ms"),
        ("half-block segments, 160x90 cells", *_stats(segs), "background-thread work"),
        ("escape text of 90 lines", *_stats(text), "background-thread work"),
    ]


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


class _BenchApp(App[tuple[list[float], int]]):
    """Presses "down" ``keys`` times and times each key -> frame written."""

    WARMUP = 10

    def __init__(self, keys: int) -> None:
        super().__init__(driver_class=MeasuringDriver)
        self.keys = keys
        self._pending: asyncio.Event | None = None
        self._t0 = 0.0
        self._latencies: list[float] = []
        self._sizes: list[int] = []

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
        for i in range(self.WARMUP + self.keys):
            if i == self.WARMUP:
                self._latencies.clear()
                gc.collect()
                gc.freeze()
            await self.settle()
            self._pending = asyncio.Event()
            self.arm()
            driver.last = ""
            self._t0 = time.perf_counter()
            driver.send_message(events.Key("down", None))
            await asyncio.wait_for(self._pending.wait(), 10)
            self._sizes.append(len(driver.last.encode()))
        gc.unfreeze()
        self.exit((self._latencies, int(statistics.median(self._sizes))))


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


async def _measure_keys(app_factory: Callable[[], _BenchApp]) -> tuple[list[float], int]:
    """Run the app with the measuring driver; it returns (latencies, bytes written)."""
    app = app_factory()
    result = await app.run_async(headless=False, size=(WIDTH, HEIGHT))
    assert result is not None, "benchmark app did not report"
    return result


def bench_paint(volume: SeriesVolume, keys: int) -> list[tuple[str, float, float, str]]:
    """(b) and (c): keypress -> frame written, half-block viewport vs textual-image."""
    rows: list[tuple[str, float, float, str]] = []
    medians: dict[str, float] = {}
    for label, factory in (
        ("viewport, built on keypress", lambda: ViewportBench(volume, keys, prefetch=False)),
        ("viewport, neighbours prefetched", lambda: ViewportBench(volume, keys, prefetch=True)),
        (
            "viewport, prefetched, 64 grey levels",
            lambda: ViewportBench(volume, keys, prefetch=True, levels=64),
        ),
        ("textual-image HalfcellImage", lambda: ImageBench(volume, keys)),
    ):
        latencies, written = asyncio.run(_measure_keys(factory))
        median, p90 = _stats(latencies)
        medians[label] = median
        rows.append((f"key -> painted: {label}", median, p90, f"{written // 1024} KiB/frame"))
    image = medians["textual-image HalfcellImage"]
    for label in ("viewport, built on keypress", "viewport, neighbours prefetched"):
        rows.append((f"ratio textual-image / {label}", image / medians[label], float("nan"), "x"))
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=300)
    parser.add_argument("--keys", type=int, default=120, help="keypresses measured per mode")
    parser.add_argument("--no-paint", action="store_true", help="only (a), no Textual")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    datasets = make_ct_study(
        slices=args.slices, series=["axial-soft-tissue"], study_date=date.today()
    )
    t1 = time.perf_counter()
    volume = load_series(datasets)
    t2 = time.perf_counter()
    del datasets
    gc.collect()
    print(
        f"generated {args.slices} CT slices 512x512 in {t1 - t0:.2f} s, "
        f"loaded into a volume in {t2 - t1:.2f} s"
    )

    rows = bench_frames(volume)
    if not args.no_paint:
        rows += bench_paint(volume, min(args.keys, volume.count - 2))
    print()
    print(f"{'measure':<58} {'median':>9} {'p90':>9}  note")
    print("-" * 100)
    for name, median, p90, note in rows:
        unit = "" if note == "x" else " ms"
        p90_text = "" if np.isnan(p90) else f"{p90:.3f}{unit}"
        print(f"{name:<58} {median:>6.3f}{unit:3} {p90_text:>9}  {note}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
