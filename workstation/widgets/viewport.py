"""The image viewport: a series volume drawn with half-blocks through the Line API.

All image logic lives in :mod:`workstation.viewer` (windowing, resampling,
reformats, half-block segments); this widget keeps the view state as
reactive attributes, turns mouse gestures into changes of that state, and
serves prepared :class:`~textual.strip.Strip` lines from a small per-frame
cache. The parent sets attributes (``volume``, ``slice_index``,
``window``...; every change repaints) and listens to the messages
(``Viewport.SliceChanged``, ``Viewport.WindowChanged``,
``Viewport.PlaneChanged``, ``Viewport.Measured``).

Fast path (FIELD-NOTES.md): equal adjacent cells are merged into one
segment, strips are served straight from :meth:`render_lines` (no style
cache copy, no line filters: the colours are already truecolor), and the
neighbouring slices are prepared in a background thread with their terminal
text already rendered.

Graphics mode (``renderer`` kitty or sixel, see
:mod:`workstation.viewer.graphics`): the same frame is prepared at the cells'
pixel resolution and shown by a textual-image child widget between the first
and last rows, which keep the overlay text; the half-block path is untouched.

Mouse: wheel = slice; ctrl+wheel = zoom; left drag = window/level
(horizontal: width, vertical: level), or pan / a caliper in the pan / measure
drag modes; shift+drag = pan in any mode.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from enum import StrEnum
from typing import ClassVar, NamedTuple

from rich.segment import Segment
from rich.style import Style
from textual import events, work
from textual.binding import Binding, BindingType
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip
from textual.widget import Widget

from workstation import heap
from workstation.viewer.frame import ViewGeometry, prepare_frame
from workstation.viewer.graphics import (
    DEFAULT_CELL_PIXELS,
    CellPixels,
    Renderer,
    frame_image,
    pixel_grid,
)
from workstation.viewer.measure import Measurement, draw_line
from workstation.viewer.overlay import Overlay
from workstation.viewer.presets import Window, WindowPreset, default_window
from workstation.viewer.reformat import Plane, plane_count, reformat
from workstation.viewer.render import halfblock_lines
from workstation.viewer.volume import SeriesVolume
from workstation.widgets.graphics import graphics_widget

__all__ = ["DragMode", "Viewport"]

_OVERLAY_STYLE = Style(color="rgb(255,220,120)", bgcolor="rgb(0,0,0)")
_EMPTY_STYLE = Style(color="rgb(128,128,128)", bgcolor="rgb(0,0,0)")
_CACHE_FRAMES = 24


class DragMode(StrEnum):
    """What a left-button drag does."""

    WINDOW = "window"
    PAN = "pan"
    MEASURE = "measure"


class _FrameKey(NamedTuple):
    volume_id: int
    plane: Plane
    index: int
    window: Window
    zoom: float
    pan: tuple[float, float]
    invert: bool
    width: int
    height: int
    levels: int
    overlay: bool
    measurement: Measurement | None


class Viewport(Widget, can_focus=True):
    """Shows one series; scroll, window, zoom, pan and reformat it."""

    DEFAULT_CSS = """
    Viewport {
        width: 1fr;
        height: 1fr;
        background: black;
    }
    Viewport > #viewport-graphics {
        width: 1fr;
        height: 1fr;
        margin: 1 0;  /* the first and last rows keep the overlay text */
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("down", "next_slice", "Next slice", show=False, id="viewport.next_slice"),
        Binding("up", "previous_slice", "Previous slice", show=False, id="viewport.previous_slice"),
    ]

    CELL_ASPECT: ClassVar[float] = 2.0
    """Height / width of a terminal cell; a half-block pixel is half a cell tall."""
    WINDOW_SENSITIVITY: ClassVar[float] = 4.0
    """Modality units of width (per column) and level (per row) of a W/L drag."""

    volume: reactive[SeriesVolume | None] = reactive(None, always_update=True)
    """The series shown (None: nothing loaded)."""
    slice_index: reactive[int] = reactive(0)
    """Index of the image shown in the current plane (0-based)."""
    window: reactive[Window] = reactive(WindowPreset.ABDOMEN.window)
    """The VOI window applied."""
    zoom: reactive[float] = reactive(1.0)
    """1.0 fits the image to the viewport."""
    pan: reactive[tuple[float, float]] = reactive((0.0, 0.0))
    """View centre offset from the image centre, in source (row, col) pixels."""
    invert: reactive[bool] = reactive(False)
    """User inversion of the grey scale (on top of MONOCHROME1)."""
    plane: reactive[Plane] = reactive(Plane.AXIAL)
    """Axial (as acquired), coronal or sagittal reformat."""
    drag_mode: reactive[DragMode] = reactive(DragMode.WINDOW)
    """What a left drag does."""
    levels: reactive[int] = reactive(256)
    """Grey levels drawn (fewer: less terminal output)."""
    show_overlay: reactive[bool] = reactive(True)
    """Whether the corner annotations are drawn."""
    measurement: reactive[Measurement | None] = reactive(None)
    """The caliper drawn on the image it was made on (None: none)."""
    renderer: reactive[Renderer] = reactive(Renderer.HALFBLOCK, init=False)
    """Half-blocks, or a terminal graphics protocol (kitty, sixel) through textual-image."""

    class _ViewportMessage(Message):
        """Something happened in a viewport (the base of its messages)."""

        def __init__(self, viewport: Viewport) -> None:
            super().__init__()
            self.viewport = viewport

        @property
        def control(self) -> Viewport:
            """The viewport it happened in."""
            return self.viewport

    class SliceChanged(_ViewportMessage):
        """The slice shown changed."""

        def __init__(self, viewport: Viewport, index: int, count: int) -> None:
            super().__init__(viewport)
            self.index = index
            self.count = count

    class WindowChanged(_ViewportMessage):
        """The window changed (preset, drag or the parent)."""

        def __init__(self, viewport: Viewport, window: Window) -> None:
            super().__init__(viewport)
            self.window = window

    class PlaneChanged(_ViewportMessage):
        """The display plane changed."""

        def __init__(self, viewport: Viewport, plane: Plane) -> None:
            super().__init__(viewport)
            self.plane = plane

    class Measured(_ViewportMessage):
        """A measurement was completed (mouse released in measure mode)."""

        def __init__(self, viewport: Viewport, measurement: Measurement) -> None:
            super().__init__(viewport)
            self.measurement = measurement

    def __init__(
        self,
        volume: SeriesVolume | None = None,
        *,
        prefetch: bool = True,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.prefetch = prefetch
        self.freeze_frames = False
        """Freeze each frame built out of the GC's scans (:mod:`workstation.heap`); the owner
        of the setting calls ``heap.settle()`` at quiet moments."""
        self._cache: OrderedDict[_FrameKey, list[Strip]] = OrderedDict()
        self._lock = threading.Lock()
        self._drag_last: tuple[float, float] | None = None
        self._drag_pan = False
        self._prefetch_pending = False
        self._direction = 1
        self._measuring: tuple[float, float] | None = None
        self.cell_pixels: CellPixels = DEFAULT_CELL_PIXELS
        """A terminal cell's size in pixels: the resolution of graphics frames."""
        self.graphics_frames = 0
        """Frames handed to the graphics widget so far (tests, diagnostics)."""
        self._graphics: Widget | None = None
        self._graphics_key: _FrameKey | None = None
        if volume is not None:
            self.set_reactive(Viewport.volume, volume)
            self._reset_view(volume)

    # -- state ---------------------------------------------------------------

    @property
    def count(self) -> int:
        """Images in the current plane (0 without a volume)."""
        return plane_count(self.volume, self.plane) if self.volume is not None else 0

    @property
    def overlay(self) -> Overlay | None:
        """The annotations of the current frame."""
        return self._overlay_for(self.slice_index)

    def _overlay_for(self, index: int) -> Overlay | None:
        volume = self.volume
        if volume is None:
            return None
        index = max(0, min(index, self.count - 1))
        info = volume.slices[index] if self.plane is Plane.AXIAL else None
        measurement = self._measurement_on(self.plane, index)
        return Overlay(
            series=volume.series_description or volume.modality,
            plane=self.plane.value,
            index=index,
            count=self.count,
            window=self.window,
            zoom=self.zoom,
            position_mm=info.distance if info else None,
            thickness_mm=info.thickness if info else None,
            invert=self.invert,
            gap=volume.is_gap(index) if info else False,
            measurement=measurement.label if measurement else "",
        )

    def _reset_view(self, volume: SeriesVolume) -> None:
        self.set_reactive(Viewport.plane, Plane.AXIAL)
        self.set_reactive(Viewport.slice_index, volume.count // 2)
        self.set_reactive(
            Viewport.window, default_window(volume.modality, volume.windows, volume.voxels)
        )
        self.set_reactive(Viewport.zoom, 1.0)
        self.set_reactive(Viewport.pan, (0.0, 0.0))
        self.set_reactive(Viewport.measurement, None)
        with self._lock:
            self._cache.clear()

    def validate_slice_index(self, index: int) -> int:
        return max(0, min(int(index), max(self.count - 1, 0)))

    def validate_zoom(self, zoom: float) -> float:
        return max(0.25, min(float(zoom), 16.0))

    def validate_levels(self, levels: int) -> int:
        return max(2, min(int(levels), 256))

    def watch_volume(self, volume: SeriesVolume | None) -> None:
        if volume is not None:
            self._reset_view(volume)
            self.post_message(self.SliceChanged(self, self.slice_index, self.count))
            self.post_message(self.WindowChanged(self, self.window))
        self.refresh()

    def watch_slice_index(self, old: int, index: int) -> None:
        self._direction = 1 if index >= old else -1
        self.post_message(self.SliceChanged(self, index, self.count))
        self.refresh()
        # started once the frame has been served (render_lines), so the prefetch
        # thread does not compete with the paint for the GIL
        self._prefetch_pending = True

    def watch_window(self, window: Window) -> None:
        self.post_message(self.WindowChanged(self, window))
        self.refresh()

    def watch_plane(self, plane: Plane) -> None:
        self.set_reactive(Viewport.slice_index, self.count // 2)
        self.set_reactive(Viewport.pan, (0.0, 0.0))
        self.post_message(self.PlaneChanged(self, plane))
        self.post_message(self.SliceChanged(self, self.slice_index, self.count))
        self.refresh()

    def on_resize(self) -> None:
        self.refresh()

    async def watch_renderer(self, renderer: Renderer) -> None:
        if self._graphics is not None:
            graphics, self._graphics = self._graphics, None
            await graphics.remove()
        self._graphics_key = None
        if renderer.graphics:
            self._graphics = graphics_widget(renderer, id="viewport-graphics")
            await self.mount(self._graphics)
        self.refresh()

    # -- actions (bound by the reading screen) ------------------------------

    def action_next_slice(self, step: int = 1) -> None:
        """Show the next image (``step`` images on)."""
        self.slice_index += step

    def action_previous_slice(self, step: int = 1) -> None:
        """Show the previous image."""
        self.slice_index -= step

    def action_preset(self, name: str) -> None:
        """Apply a named :class:`WindowPreset` (``"lung"``) or a stored window by index."""
        if name.isdigit() and self.volume is not None and int(name) < len(self.volume.windows):
            self.window = self.volume.windows[int(name)]
            return
        self.window = WindowPreset[name.upper()].window

    def action_toggle_invert(self) -> None:
        """Invert the grey scale."""
        self.invert = not self.invert

    def action_zoom(self, factor: float) -> None:
        """Multiply the zoom by ``factor``."""
        self.zoom = self.zoom * factor

    def action_reset_view(self) -> None:
        """Fit the image again, centred."""
        self.zoom = 1.0
        self.pan = (0.0, 0.0)

    def action_set_plane(self, plane: str) -> None:
        """Switch to ``"axial"``, ``"coronal"`` or ``"sagittal"``."""
        self.plane = Plane(plane)

    # -- mouse --------------------------------------------------------------

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        if event.ctrl:
            self.action_zoom(1 / 1.25)
        else:
            self.action_next_slice()

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        if event.ctrl:
            self.action_zoom(1.25)
        else:
            self.action_previous_slice()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if event.button != 1 or self.volume is None:
            return
        self._drag_last = (event.screen_x, event.screen_y)
        self._drag_pan = event.shift or self.drag_mode is DragMode.PAN
        self._measuring = None
        if self.drag_mode is DragMode.MEASURE and not event.shift:
            self._measuring = self._source_point(*self._event_cell(event))
            self.measurement = None
        self.capture_mouse()
        event.stop()

    def _event_cell(self, event: events.MouseEvent) -> tuple[float, float]:
        """The cell (x, y) under the mouse, in this widget's content (also when the event
        comes from the graphics child, whose own offsets are one row down)."""
        region = self.content_region
        return event.screen_x - region.x, event.screen_y - region.y

    def _source_point(self, x: float, y: float) -> tuple[float, float] | None:
        """Source image (row, col) under the middle of cell (x, y)."""
        geometry = self._geometry()
        if geometry is None:
            return None
        return geometry.to_source(*self._cell_to_target(x + 0.5, y + 0.5, geometry))

    def _cell_to_target(self, x: float, y: float, geometry: ViewGeometry) -> tuple[float, float]:
        """Target pixel (y, x) at cell coordinates (x, y) (continuous, 0 at a cell's edge)."""
        if self._graphics is None:
            return 2 * y - 0.5, x - 0.5  # two half-block pixels per cell
        height, width = geometry.target
        rows = max(self.size.height - 2, 1)
        return (y - 1) * height / rows - 0.5, x * width / max(self.size.width, 1) - 0.5

    def on_mouse_move(self, event: events.MouseMove) -> None:
        if self._drag_last is None:
            return
        dx = event.screen_x - self._drag_last[0]
        dy = event.screen_y - self._drag_last[1]
        self._drag_last = (event.screen_x, event.screen_y)
        if not dx and not dy:
            return
        event.stop()
        if self._measuring is not None:
            end = self._source_point(*self._event_cell(event))
            if end is not None and self.volume is not None:
                image = reformat(self.volume, self.plane, self.slice_index)
                self.measurement = Measurement(
                    self._measuring, end, image.spacing, self.plane.value, image.index
                )
            return
        if self._drag_pan:
            geometry = self._geometry()
            if geometry is not None:
                r0, c0 = geometry.to_source(*self._cell_to_target(0, 0, geometry))
                r1, c1 = geometry.to_source(*self._cell_to_target(dx, dy, geometry))
                self.pan = (self.pan[0] - (r1 - r0), self.pan[1] - (c1 - c0))
            return
        k = self.WINDOW_SENSITIVITY * max(self.window.width / 400.0, 0.25)
        self.window = self.window.moved(d_center=-dy * k * 2, d_width=dx * k)

    def on_mouse_up(self, event: events.MouseUp) -> None:
        if self._drag_last is not None:
            self._drag_last = None
            self.release_mouse()
            event.stop()
            if self._measuring is not None and self.measurement is not None:
                # Viewport.Measured explicitly: a subclass may define its own Measured
                self.post_message(Viewport.Measured(self, self.measurement))
            self._measuring = None

    # -- rendering ------------------------------------------------------------

    def get_line_filters(self) -> list:  # type: ignore[override]
        """No line filters: every colour is already truecolor (FIELD-NOTES.md)."""
        return []

    def _geometry(self) -> ViewGeometry | None:
        volume = self.volume
        width, height = self.size
        if volume is None or width <= 0 or height <= 0:
            return None
        image = reformat(volume, self.plane, self.slice_index)
        source = (int(image.pixels.shape[0]), int(image.pixels.shape[1]))
        if self._graphics is not None:
            return self._graphics_geometry(source, image.spacing, self.zoom, self.pan)
        return ViewGeometry(
            target=(height * 2, width),
            source=source,
            spacing=image.spacing,
            zoom=self.zoom,
            pan=self.pan,
            pixel_aspect=self.CELL_ASPECT / 2,
        )

    def _graphics_geometry(
        self,
        source: tuple[int, int],
        spacing: tuple[float, float],
        zoom: float,
        pan: tuple[float, float],
    ) -> ViewGeometry:
        """The frame's geometry on the pixel grid of the cells between the overlay rows."""
        width, height = self.size
        grid = pixel_grid(width, max(height - 2, 1), self.cell_pixels)
        return ViewGeometry(target=grid, source=source, spacing=spacing, zoom=zoom, pan=pan)

    def _key(self, index: int | None = None) -> _FrameKey | None:
        volume = self.volume
        width, height = self.size
        if volume is None or width <= 0 or height <= 0:
            return None
        return _FrameKey(
            id(volume),
            self.plane,
            self.slice_index if index is None else index,
            self.window,
            self.zoom,
            self.pan,
            self.invert,
            width,
            height,
            self.levels,
            self.show_overlay,
            self._measurement_on(self.plane, self.slice_index if index is None else index),
        )

    def _measurement_on(self, plane: Plane, index: int) -> Measurement | None:
        m = self.measurement
        return m if m is not None and m.plane == plane.value and m.index == index else None

    def _build(self, key: _FrameKey, volume: SeriesVolume, overlay: Overlay | None) -> list[Strip]:
        image = reformat(volume, key.plane, key.index)
        geometry = ViewGeometry(
            target=(key.height * 2, key.width),
            source=(int(image.pixels.shape[0]), int(image.pixels.shape[1])),
            spacing=image.spacing,
            zoom=key.zoom,
            pan=key.pan,
            pixel_aspect=self.CELL_ASPECT / 2,
        )
        frame = prepare_frame(
            image.pixels, geometry, key.window, monochrome1=volume.monochrome1, invert=key.invert
        )
        if key.measurement is not None:
            start = geometry.to_target(*key.measurement.start)
            end = geometry.to_target(*key.measurement.end)
            frame = draw_line(frame, start, end)
        strips = [Strip(line, key.width) for line in halfblock_lines(frame, levels=key.levels)]
        if overlay is not None and key.overlay:
            strips[0] = _annotate(strips[0], overlay.top_left, overlay.top_right, key.width)
            if key.height > 1:
                strips[-1] = _annotate(
                    strips[-1], overlay.bottom_left, overlay.bottom_right, key.width
                )
        return strips

    def _store(self, key: _FrameKey, strips: list[Strip]) -> None:
        with self._lock:
            self._cache[key] = strips
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_FRAMES:
                self._cache.popitem(last=False)
        if self.freeze_frames:
            heap.freeze_new()

    def current_strips(self) -> list[Strip]:
        """The strips of the frame shown now (built and cached on first use)."""
        key = self._key()
        if key is None:
            return self._empty_strips()
        with self._lock:
            strips = self._cache.get(key)
        if strips is None:
            assert self.volume is not None
            strips = self._build(key, self.volume, self._overlay_for(key.index))
            self._store(key, strips)
        return strips

    def _empty_strips(self) -> list[Strip]:
        width, height = self.size
        message = "No series loaded"
        blank = Strip([Segment(" " * width, _EMPTY_STYLE)], width)
        strips = [blank] * height
        if height and width:
            text = message[:width].center(width)
            strips[height // 2] = Strip([Segment(text, _EMPTY_STYLE)], width)
        return strips

    def render_line(self, y: int) -> Strip:
        strips = self.current_strips()
        if 0 <= y < len(strips):
            return strips[y]
        return Strip.blank(self.size.width, _EMPTY_STYLE)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Serve prepared strips directly (keeps their pre-rendered text).

        With a border or padding, Textual's own path draws them around the image.
        """
        if self._graphics is not None:
            return self._graphics_lines(crop)
        if any(self.styles.gutter):
            return super().render_lines(crop)
        strips = self.current_strips()
        width = self.size.width
        out = []
        for y in range(crop.y, crop.bottom):
            strip = strips[y] if 0 <= y < len(strips) else Strip.blank(width, _EMPTY_STYLE)
            if crop.x != 0 or crop.width != width:
                strip = strip.crop(crop.x, crop.right)
            out.append(strip)
        if self._prefetch_pending and crop.bottom >= len(strips):
            self._prefetch_pending = False
            self.call_later(self._prefetch_neighbours)
        return out

    # -- graphics mode --------------------------------------------------------------

    def _graphics_lines(self, crop: Region) -> list[Strip]:
        """Black rows with the overlay on the first and last; the image is the child's."""
        key = self._key()
        if key is None:
            strips = self._empty_strips()
        else:
            if key != self._graphics_key:
                self._graphics_key = key
                assert self.volume is not None
                self.call_later(self._show_image, self._graphics_frame(key, self.volume))
            strips = self._overlay_strips(key)
        width = self.size.width
        out = []
        for y in range(crop.y, crop.bottom):
            strip = strips[y] if 0 <= y < len(strips) else Strip.blank(width, _EMPTY_STYLE)
            out.append(strip.crop(crop.x, crop.right))
        return out

    def _overlay_strips(self, key: _FrameKey) -> list[Strip]:
        blank = Strip([Segment(" " * key.width, _EMPTY_STYLE)], key.width)
        strips = [blank] * key.height
        overlay = self._overlay_for(key.index)
        if overlay is not None and key.overlay:
            strips[0] = _annotate(blank, overlay.top_left, overlay.top_right, key.width)
            if key.height > 1:
                strips[-1] = _annotate(blank, overlay.bottom_left, overlay.bottom_right, key.width)
        return strips

    def _graphics_frame(self, key: _FrameKey, volume: SeriesVolume) -> object:
        """The frame of ``key`` at the cells' pixel resolution, as a PIL image."""
        image = reformat(volume, key.plane, key.index)
        source = (int(image.pixels.shape[0]), int(image.pixels.shape[1]))
        geometry = self._graphics_geometry(source, image.spacing, key.zoom, key.pan)
        frame = prepare_frame(
            image.pixels, geometry, key.window, monochrome1=volume.monochrome1, invert=key.invert
        )
        if key.measurement is not None:
            start = geometry.to_target(*key.measurement.start)
            end = geometry.to_target(*key.measurement.end)
            frame = draw_line(frame, start, end)
        return frame_image(frame)

    def _show_image(self, image: object) -> None:
        if self._graphics is not None:
            self._graphics.image = image  # type: ignore[attr-defined]
            self.graphics_frames += 1

    def _prefetch_neighbours(self) -> None:
        if not self.prefetch or self.volume is None or not self.is_mounted:
            return
        keys = []
        ahead = self.slice_index + self._direction  # the way the reader is scrolling first
        for index in (ahead, self.slice_index - self._direction):
            if 0 <= index < self.count:
                key = self._key(index)
                if key is not None:
                    keys.append((key, self._overlay_for(index)))
        if keys:
            self._prefetch(self.volume, keys)

    @work(
        thread=True,
        exclusive=True,
        group="viewport-prefetch",
        description="prefetch neighbouring frames",  # not a repr of the arguments (a volume)
        exit_on_error=False,
    )
    def _prefetch(self, volume: SeriesVolume, keys: list[tuple[_FrameKey, Overlay | None]]) -> None:
        console = self.app.console
        for key, overlay in keys:
            with self._lock:
                if key in self._cache:
                    continue
            strips = self._build(key, volume, overlay)
            for strip in strips:
                strip.render(console)  # fill the strip's escape-sequence cache ahead of the paint
            self._store(key, strips)


def _annotate(strip: Strip, left: str, right: str, width: int) -> Strip:
    """``strip`` with ``left`` and ``right`` written over its ends."""
    right = right[: max(width // 2, 0)]
    left = left[: max(width - len(right) - 1, 0)]
    parts = []
    if left:
        parts.append(Strip([Segment(left, _OVERLAY_STYLE)], len(left)))
    middle = width - len(left) - len(right)
    if middle > 0:
        parts.append(strip.crop(len(left), len(left) + middle))
    if right:
        parts.append(Strip([Segment(right, _OVERLAY_STYLE)], len(right)))
    return Strip.join(parts)
