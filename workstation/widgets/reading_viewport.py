"""The viewer's :class:`Viewport` plus a two-click caliper for the reading screen's ``m`` key.

The image, windowing, zoom, pan, reformats and the caliper's drawing are all
the viewer's widget. While ``measuring`` is on, the viewport is in its
measure drag mode (press, drag, release measures), and this subclass adds the
other gesture radiologists expect: click the first point, click the second.
Either way the viewer's ``Viewport.Measured`` message is posted.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.geometry import Region
from textual.reactive import reactive
from textual.strip import Strip

from workstation.viewer.frame import ViewGeometry
from workstation.viewer.measure import Measurement
from workstation.viewer.reformat import reformat
from workstation.widgets.viewport import DragMode, Viewport

__all__ = ["ReadingViewport"]

_MARK = Style(color="rgb(255,255,0)", bgcolor="rgb(0,0,0)", bold=True)

Point = tuple[float, float]


class ReadingViewport(Viewport):
    """A viewport whose caliper also takes two separate clicks."""

    measuring: reactive[bool] = reactive(False)
    """The next click-click (or drag) measures a distance."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._first: Point | None = None

    def watch_measuring(self, measuring: bool) -> None:
        self._first = None
        self.drag_mode = DragMode.MEASURE if measuring else DragMode.WINDOW
        self.refresh()

    def view_geometry(self) -> ViewGeometry | None:
        """How the current image maps onto the widget's pixels (half-blocks or graphics)."""
        return self._geometry()

    def _point(self, x: float, y: float) -> Point | None:
        return self._source_point(x, y)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        if not self.measuring or event.button != 1 or event.shift or self.volume is None:
            return  # the viewer's handler: W/L, pan, or the start of a caliper drag
        if self._first is None:
            self._first = self._point(*self._event_cell(event))
            self.refresh()
            return  # the viewer's handler starts its drag caliper too
        event.prevent_default()  # the second click: not a new drag
        event.stop()
        end = self._point(*self._event_cell(event))
        if end is None:
            return
        image = reformat(self.volume, self.plane, self.slice_index)
        self.measurement = Measurement(
            self._first, end, image.spacing, self.plane.value, image.index
        )
        self.post_message(Viewport.Measured(self, self.measurement))

    def render_lines(self, crop: Region) -> list[Strip]:
        """The viewer's strips, with a mark on the first point of a caliper in progress."""
        strips = super().render_lines(crop)
        if not self.measuring or self._first is None or self.renderer.graphics:
            return strips  # (with graphics, the image is a child widget's: no mark)
        geometry = self.view_geometry()
        if geometry is None:
            return strips
        y, x = geometry.to_target(*self._first)
        cell_y, cell_x = int(y // 2) - crop.y, round(x) - crop.x
        if 0 <= cell_y < len(strips) and 0 <= cell_x < crop.width:
            strip = strips[cell_y]
            mark = Strip([Segment("+", _MARK)], 1)
            strips[cell_y] = Strip.join(
                [strip.crop(0, cell_x), mark, strip.crop(cell_x + 1, crop.width)]
            )
        return strips
