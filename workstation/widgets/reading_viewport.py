"""The viewer's :class:`Viewport` plus the caliper: in measuring mode two clicks measure a distance.

The image, windowing, zoom, pan and reformats are all the viewer's widget;
this subclass only takes left clicks while ``measuring`` is on (so they do
not start a W/L drag), marks the points over the image, and posts
``Measured`` with a :class:`~workstation.viewer.measure.Measurement` in mm.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.message import Message
from textual.reactive import reactive
from textual.strip import Strip

from workstation.viewer.frame import ViewGeometry
from workstation.viewer.measure import Measurement
from workstation.viewer.reformat import reformat
from workstation.widgets.viewport import Viewport

__all__ = ["ReadingViewport"]

_MARK = Style(color="rgb(255,255,0)", bgcolor="rgb(0,0,0)", bold=True)

Point = tuple[float, float]


class ReadingViewport(Viewport):
    """A viewport with a two-click distance measurement (``measuring``)."""

    measuring: reactive[bool] = reactive(False)
    """The next two left clicks are the ends of a caliper."""
    measurement: reactive[Measurement | None] = reactive(None)
    """The last measurement (shown until the slice, plane or series changes)."""

    class Measured(Message):
        """Two points were clicked in measuring mode."""

        def __init__(self, measurement: Measurement) -> None:
            super().__init__()
            self.measurement = measurement

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._first: Point | None = None

    def watch_measuring(self, measuring: bool) -> None:
        self._first = None
        if measuring:
            self.measurement = None
        self.refresh()

    def watch_measurement(self) -> None:
        self.refresh()

    def geometry(self) -> ViewGeometry | None:
        """How the current image maps onto the widget's half-block pixels."""
        volume = self.volume
        width, height = self.size
        if volume is None or width <= 0 or height <= 0:
            return None
        image = reformat(volume, self.plane, self.slice_index)
        return ViewGeometry(
            target=(height * 2, width),
            source=(int(image.pixels.shape[0]), int(image.pixels.shape[1])),
            spacing=image.spacing,
            zoom=self.zoom,
            pan=self.pan,
            pixel_aspect=self.CELL_ASPECT / 2,
        )

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if not self.measuring or event.button != 1:
            return  # the viewer's own handler: W/L or pan drag
        event.prevent_default()
        event.stop()
        geometry = self.geometry()
        if geometry is None or self.volume is None:
            return
        point = geometry.to_source(event.y * 2 + 0.5, event.x)
        if self._first is None:
            self._first = point
            self.refresh()
            return
        spacing = reformat(self.volume, self.plane, self.slice_index).spacing
        measurement = Measurement(
            self._first, point, spacing, str(self.plane), int(self.slice_index)
        )
        self.measuring = False
        self.measurement = measurement
        self.post_message(self.Measured(measurement))

    def _points(self) -> list[Point]:
        if self.measuring and self._first is not None:
            return [self._first]
        m = self.measurement
        if m is not None and m.plane == str(self.plane) and m.index == self.slice_index:
            return [m.start, m.end]
        return []

    def render_lines(self, crop: Region) -> list[Strip]:
        strips = super().render_lines(crop)
        geometry = self.geometry()
        points = self._points()
        if geometry is None or not points:
            return strips
        for row, col in points:
            y, x = geometry.to_target(row, col)
            cell_y, cell_x = int(y // 2) - crop.y, int(round(x)) - crop.x
            if 0 <= cell_y < len(strips) and 0 <= cell_x < crop.width:
                strip = strips[cell_y]
                strips[cell_y] = Strip.join(
                    [
                        strip.crop(0, cell_x),
                        Strip([Segment("+", _MARK)], 1),
                        strip.crop(cell_x + 1, crop.width),
                    ]
                )
        return strips
