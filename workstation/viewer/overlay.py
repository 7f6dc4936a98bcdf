"""What the viewport writes over the image: plain data, formatted here, shown by the widget."""

from __future__ import annotations

from dataclasses import dataclass

from workstation.viewer.presets import Window

__all__ = ["Overlay"]


@dataclass(frozen=True)
class Overlay:
    """Corner annotations of the current frame (no patient identifiers)."""

    series: str
    plane: str
    index: int
    count: int
    window: Window
    zoom: float = 1.0
    position_mm: float | None = None
    thickness_mm: float | None = None
    invert: bool = False
    gap: bool = False
    measurement: str = ""

    @property
    def top_left(self) -> str:
        """Series and plane."""
        return f"{self.series} [{self.plane}]"

    @property
    def top_right(self) -> str:
        """Slice n/N (1-based)."""
        return f"{self.index + 1}/{self.count}"

    @property
    def bottom_left(self) -> str:
        """Position and thickness."""
        parts = []
        if self.position_mm is not None:
            parts.append(f"Pos {self.position_mm:.1f} mm")
        if self.thickness_mm is not None:
            parts.append(f"Thk {self.thickness_mm:.3g} mm")
        if self.gap:
            parts.append("MISSING SLICE")
        if self.measurement:
            parts.append(f"Dist {self.measurement}")
        return "  ".join(parts)

    @property
    def bottom_right(self) -> str:
        """Window, zoom and inversion."""
        name = f"{self.window.name} " if self.window.name else ""
        inverted = " INV" if self.invert else ""
        return f"{name}{self.window.label}  x{self.zoom:.2g}{inverted}"
