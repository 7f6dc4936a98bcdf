"""The line under the image: what the viewport's corner annotations do not say.

The viewport draws series, slice n/N, position, thickness, W/L and zoom over
the image (``Viewport.overlay``); this bar adds the transient state — loading,
cine rate, the measuring prompt and the last distance measured.
"""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["OverlayBar"]


class OverlayBar(Widget):
    """One line: a note on the left, the last measurement on the right."""

    DEFAULT_CSS = """
    OverlayBar { height: 1; padding: 0 1; background: $panel; color: $text; }
    """

    note: reactive[str] = reactive("")
    """Loading…, cine rate, measuring prompt."""
    measurement: reactive[str] = reactive("")
    """``Distance 12.3 mm`` once measured."""

    def render(self) -> Table:
        grid = Table.grid(expand=True)
        grid.add_column(ratio=1)
        grid.add_column(justify="right")
        grid.add_row(Text(self.note, style="yellow"), Text(self.measurement, style="bold"))
        return grid
