"""One row per series: number, description, modality, image count, and a tiny thumbnail.

The screen sets ``series`` and ``current`` and hands over decoded volumes
(``add_thumbnail``) as they arrive; choosing a row posts ``SeriesChosen``.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group, RenderableType
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from workstation.client import SeriesSummary
from workstation.viewer.presets import default_window
from workstation.viewer.render import halfblock_lines
from workstation.viewer.volume import SeriesVolume
from workstation.viewer.windowing import apply_window

__all__ = ["SeriesBrowser", "thumbnail"]

THUMB_COLS = 16
THUMB_ROWS = 4  # terminal rows: 8 image pixel rows in half blocks


def thumbnail(volume: SeriesVolume) -> Text:
    """A 16x4-cell half-block picture of the middle slice in the series' default window."""
    voxels = volume.voxels
    image = voxels[voxels.shape[0] // 2]
    rows = np.linspace(0, image.shape[0] - 1, THUMB_ROWS * 2).astype(int)
    cols = np.linspace(0, image.shape[1] - 1, THUMB_COLS).astype(int)
    small = image[np.ix_(rows, cols)]
    window = default_window(volume.modality, volume.windows, voxels)
    grey = apply_window(
        small, window.center, window.width, window.function, monochrome1=volume.monochrome1
    )
    text = Text()
    for i, line in enumerate(halfblock_lines(grey)):
        if i:
            text.append("\n")
        for segment in line:
            text.append(segment.text, segment.style)
    return text


class SeriesBrowser(OptionList):
    """The study's series; the highlighted row follows ``current``."""

    DEFAULT_CSS = """
    SeriesBrowser { width: 30; height: 1fr; border: round $primary-darken-2; }
    SeriesBrowser:focus { border: round $primary; }
    """

    series: reactive[tuple[SeriesSummary, ...]] = reactive((), always_update=True)
    """The series of the study, in display order."""
    current: reactive[int] = reactive(-1)
    """Index of the series in the viewport (-1: none yet)."""

    class SeriesChosen(Message):
        """The radiologist picked a series in the browser."""

        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._thumbnails: dict[str, Text] = {}
        self.border_title = "Series"

    def add_thumbnail(self, series_uid: str, volume: SeriesVolume) -> None:
        """Show a thumbnail for a series whose volume has been decoded."""
        if series_uid not in self._thumbnails and volume.count:
            self._thumbnails[series_uid] = thumbnail(volume)
            self._rebuild()

    def _prompt(self, number: int, item: SeriesSummary) -> RenderableType:
        label = Text()
        label.append(f"{item.number if item.number is not None else number + 1:>3} ", "bold")
        label.append(item.description or "(no description)")
        label.append(f"\n    {item.modality} · {item.image_count} img", "dim")
        picture = self._thumbnails.get(item.series_instance_uid)
        return Group(label, picture) if picture is not None else label

    def _rebuild(self) -> None:
        highlighted = self.highlighted
        self.clear_options()
        self.add_options(
            Option(self._prompt(i, s), id=s.series_instance_uid) for i, s in enumerate(self.series)
        )
        if self.series:
            self.highlighted = self.current if self.current >= 0 else highlighted

    def watch_series(self) -> None:
        self._rebuild()

    def watch_current(self, current: int) -> None:
        if 0 <= current < self.option_count:
            self.highlighted = current

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.post_message(self.SeriesChosen(event.option_index))
