"""Build a :class:`SeriesVolume` from DICOM instances (Datasets, bytes or paths).

- Slices are ordered by their distance along the slice normal, the cross
  product of the ImageOrientationPatient row and column cosines, dotted with
  ImagePositionPatient (PS3.3 C.7.6.2.1.1) — never by file name or
  InstanceNumber, which only breaks ties.
- Multi-frame instances are split into frames: Enhanced CT/MR take each
  frame's position, orientation, spacing and rescale from the Per-frame or
  Shared Functional Groups (PS3.3 C.7.6.16); a plain multi-frame instance is
  stacked along its normal by SpacingBetweenSlices.
- The Modality LUT (RescaleSlope/RescaleIntercept, PS3.3 C.11.1.1.2) is
  applied once: into int16 (or uint16) when it is an integer shift that fits,
  else into float32.
- Pixel data is decoded by pydicom's pixel handlers (pylibjpeg, pyjpegls and
  friends for compressed transfer syntaxes). An instance that cannot be
  decoded becomes a :class:`Gap`: its slices hold fill values (NaN in a float
  volume) and the rest of the series stays usable.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from workstation.viewer.presets import windows_from_dataset
from workstation.viewer.volume import Gap, SeriesVolume, SliceInfo

__all__ = ["Source", "load_series", "read_dataset", "split_series", "strip_pixels"]

Source = Dataset | bytes | str | os.PathLike[str]

_PIXEL_TAGS = (0x7FE00010, 0x7FE00008, 0x7FE00009)
_AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


def read_dataset(source: Source) -> Dataset:
    """A Dataset from a Dataset, Part 10 bytes or a path (raises on unreadable input)."""
    if isinstance(source, Dataset):
        return source
    if isinstance(source, bytes | bytearray | memoryview):
        return pydicom.dcmread(io.BytesIO(bytes(source)))
    return pydicom.dcmread(Path(source))


def strip_pixels(ds: Dataset) -> Dataset:
    """A shallow copy of ``ds`` without its pixel data (for keeping headers around)."""
    header = Dataset({tag: elem for tag, elem in ds.items() if tag not in _PIXEL_TAGS})
    if hasattr(ds, "file_meta"):
        header.file_meta = ds.file_meta
    return header


def split_series(datasets: Iterable[Dataset]) -> dict[str, list[Dataset]]:
    """Group datasets by SeriesInstanceUID, keeping their order."""
    groups: dict[str, list[Dataset]] = {}
    for ds in datasets:
        groups.setdefault(str(ds.get("SeriesInstanceUID", "")), []).append(ds)
    return groups


@dataclass
class _Frame:
    ds_index: int
    frame: int | None
    sop_uid: str
    instance_number: int | None
    position: np.ndarray | None
    orientation: tuple[float, ...] | None
    spacing: tuple[float, float] | None
    thickness: float | None
    slope: float
    intercept: float
    distance: float = 0.0


def _first(item: Dataset | None, seq: str, keyword: str) -> object | None:
    if item is None or seq not in item or not item[seq].value:
        return None
    return item[seq].value[0].get(keyword)


def _group_value(per: Dataset | None, shared: Dataset | None, seq: str, kw: str) -> object | None:
    value = _first(per, seq, kw)
    return value if value is not None else _first(shared, seq, kw)


def _floats(value: object | None) -> tuple[float, ...] | None:
    if value is None or value == "":
        return None
    try:
        return tuple(float(v) for v in value)  # type: ignore[union-attr]
    except TypeError:
        return (float(value),)  # type: ignore[arg-type]
    except ValueError:
        return None


def _float(value: object | None, default: float | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else default  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return default


def _frames_of(ds: Dataset, ds_index: int) -> list[_Frame]:
    n = int(ds.get("NumberOfFrames", 1) or 1)
    shared_seq = ds.get("SharedFunctionalGroupsSequence")
    per_seq = ds.get("PerFrameFunctionalGroupsSequence")
    shared = shared_seq[0] if shared_seq else None
    sop = str(ds.get("SOPInstanceUID", ""))
    number = ds.get("InstanceNumber")
    number = int(number) if number not in (None, "") else None
    top_position = _floats(ds.get("ImagePositionPatient"))
    top_orientation = _floats(ds.get("ImageOrientationPatient"))
    top_spacing = _floats(ds.get("PixelSpacing")) or _floats(ds.get("ImagerPixelSpacing"))
    top_thickness = _float(ds.get("SliceThickness"), None)
    top_slope = _float(ds.get("RescaleSlope"), 1.0) or 1.0
    top_intercept = _float(ds.get("RescaleIntercept"), 0.0) or 0.0
    step = _float(ds.get("SpacingBetweenSlices"), None) or top_thickness
    frames = []
    for k in range(n):
        per = per_seq[k] if per_seq and k < len(per_seq) else None
        position = _floats(
            _group_value(per, shared, "PlanePositionSequence", "ImagePositionPatient")
        )
        orientation = _floats(
            _group_value(per, shared, "PlaneOrientationSequence", "ImageOrientationPatient")
        )
        spacing = _floats(_group_value(per, shared, "PixelMeasuresSequence", "PixelSpacing"))
        thickness = _float(
            _group_value(per, shared, "PixelMeasuresSequence", "SliceThickness"), top_thickness
        )
        slope = _float(
            _group_value(per, shared, "PixelValueTransformationSequence", "RescaleSlope"), top_slope
        )
        intercept = _float(
            _group_value(per, shared, "PixelValueTransformationSequence", "RescaleIntercept"),
            top_intercept,
        )
        orientation = orientation or top_orientation
        if position is None and top_position is not None:
            position = top_position
            if n > 1 and step and orientation and len(orientation) == 6:
                o = np.asarray(orientation)
                position = tuple(np.asarray(top_position) + k * step * np.cross(o[:3], o[3:]))
        frames.append(
            _Frame(
                ds_index=ds_index,
                frame=k if n > 1 else None,
                sop_uid=sop,
                instance_number=number,
                position=np.asarray(position, float) if position and len(position) == 3 else None,
                orientation=orientation if orientation and len(orientation) == 6 else None,
                spacing=(spacing[0], spacing[-1])
                if spacing
                else ((top_spacing[0], top_spacing[-1]) if top_spacing else None),
                thickness=thickness,
                slope=slope if slope else 1.0,
                intercept=intercept or 0.0,
            )
        )
    return frames


def _decode(ds: Dataset, n_frames: int) -> np.ndarray:
    arr = ds.pixel_array
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] != n_frames:
        raise ValueError(f"expected {n_frames} greyscale frame(s), got shape {arr.shape}")
    return arr


def _choose_dtype(
    frames: Sequence[_Frame], arrays: dict[int, np.ndarray]
) -> type[np.integer] | type[np.floating]:
    if not arrays:
        return np.float32
    integer_shift = all(f.slope == 1.0 and float(f.intercept).is_integer() for f in frames)
    if not integer_shift or any(a.dtype.kind == "f" for a in arrays.values()):
        return np.float32
    lo = hi = None
    for f in frames:
        arr = arrays.get(f.ds_index)
        if arr is None:
            continue
        a_lo, a_hi = int(arr.min()) + int(f.intercept), int(arr.max()) + int(f.intercept)
        lo = a_lo if lo is None else min(lo, a_lo)
        hi = a_hi if hi is None else max(hi, a_hi)
    if lo is None or hi is None:
        return np.float32
    if lo >= -32768 and hi <= 32767:
        return np.int16
    if lo >= 0 and hi <= 65535:
        return np.uint16
    return np.float32


def load_series(sources: Iterable[Source]) -> SeriesVolume:
    """Decode one series into a sorted :class:`SeriesVolume` (see the module docstring).

    Raises ``ValueError`` when nothing usable is given or when the sources
    mix several series (group them with :func:`split_series` first).
    """
    datasets, skipped = _read_sources(sources)
    series = {str(ds.get("SeriesInstanceUID", "")) for ds in datasets}
    if len(series) > 1:
        raise ValueError(f"{len(series)} series given; load one series at a time")

    frames = [f for i, ds in enumerate(datasets) for f in _frames_of(ds, i)]
    frames, others = _split_by_orientation(frames)
    skipped += [f"{f.sop_uid}: another orientation than the series (a localizer?)" for f in others]
    reference = next((f.orientation for f in frames if f.orientation), None) or _AXIAL
    o = np.asarray(reference, float)
    normal = np.cross(o[:3], o[3:])
    have_positions = all(f.position is not None for f in frames)
    for order, f in enumerate(frames):
        f.distance = float(normal @ f.position) if have_positions else float(order)  # type: ignore[operator]
    frames.sort(key=lambda f: (f.distance, f.instance_number or 0, f.frame or 0))

    rows, cols = _majority_shape(datasets)
    arrays, failures = _decode_all(datasets, {f.ds_index for f in frames}, (rows, cols))
    voxels, gaps = _assemble(frames, arrays, failures, (rows, cols))

    distances = np.array([f.distance for f in frames])
    spacing, uniform = _slice_spacing(distances, datasets[0], frames[0].thickness)
    first = datasets[next(iter(arrays), 0)]
    pixel_spacing = next((f.spacing for f in frames if f.spacing), None) or (1.0, 1.0)
    number = first.get("SeriesNumber")
    return SeriesVolume(
        voxels=voxels,
        slices=tuple(
            SliceInfo(
                sop_instance_uid=f.sop_uid,
                instance_number=f.instance_number,
                frame=f.frame,
                position=tuple(float(v) for v in f.position) if f.position is not None else None,  # type: ignore[arg-type]
                distance=f.distance,
                thickness=f.thickness,
            )
            for f in frames
        ),
        pixel_spacing=(float(pixel_spacing[0]), float(pixel_spacing[1])),
        slice_spacing=spacing,
        orientation=tuple(float(v) for v in reference),  # type: ignore[arg-type]
        modality=str(first.get("Modality", "")),
        series_uid=str(first.get("SeriesInstanceUID", "")),
        series_number=int(number) if number not in (None, "") else None,
        series_description=str(first.get("SeriesDescription", "")),
        monochrome1=str(first.get("PhotometricInterpretation", "")).strip() == "MONOCHROME1",
        windows=tuple(windows_from_dataset(first)),
        gaps=tuple(gaps),
        headers=tuple(strip_pixels(ds) for ds in datasets),
        uniform_spacing=uniform,
        skipped=tuple(skipped),
    )


def _read_sources(sources: Iterable[Source]) -> tuple[list[Dataset], list[str]]:
    """The image datasets among ``sources``, and why the unreadable ones were skipped."""
    datasets: list[Dataset] = []
    skipped: list[str] = []
    for i, source in enumerate(sources):
        try:
            datasets.append(read_dataset(source))
        except (InvalidDicomError, OSError, ValueError, EOFError, KeyError, TypeError) as exc:
            skipped.append(f"source {i}: {type(exc).__name__}: {exc}")
    datasets = [ds for ds in datasets if "PixelData" in ds or "Rows" in ds]
    if not datasets:
        raise ValueError("no image instances to load" + (f" ({skipped[0]})" if skipped else ""))
    return datasets, skipped


def _decode_all(
    datasets: Sequence[Dataset], used: set[int], shape: tuple[int, int]
) -> tuple[dict[int, np.ndarray], dict[int, str]]:
    """Decoded ``(frames, rows, cols)`` arrays by dataset index, and the failures' reasons."""
    arrays: dict[int, np.ndarray] = {}
    failures: dict[int, str] = {}
    for i in sorted(used):
        ds = datasets[i]
        try:
            arr = _decode(ds, int(ds.get("NumberOfFrames", 1) or 1))
            if arr.shape[1:] != shape:
                raise ValueError(f"size {arr.shape[2]}x{arr.shape[1]} differs from the series")
            arrays[i] = arr
        except Exception as exc:  # any decoder failure makes a gap
            failures[i] = f"{type(exc).__name__}: {exc}"[:200]
    return arrays, failures


def _assemble(
    frames: Sequence[_Frame],
    arrays: dict[int, np.ndarray],
    failures: dict[int, str],
    shape: tuple[int, int],
) -> tuple[np.ndarray, list[Gap]]:
    """Stack the frames through their Modality LUT; undecoded ones become gaps."""
    dtype = _choose_dtype(frames, arrays)
    voxels = np.empty((len(frames), *shape), dtype=dtype)
    gaps: list[Gap] = []
    for index, f in enumerate(frames):
        arr = arrays.get(f.ds_index)
        if arr is None:
            gaps.append(Gap(index, f.sop_uid, failures.get(f.ds_index, "not decoded")))
            continue
        plane = arr[f.frame or 0]
        if dtype is np.float32:
            np.multiply(plane, f.slope, out=voxels[index], dtype=np.float32, casting="unsafe")
            voxels[index] += np.float32(f.intercept)
        else:
            voxels[index] = np.add(plane, int(f.intercept), dtype=np.int32)
    if gaps:
        fill = np.nan if dtype is np.float32 else _fill_value(voxels, gaps)
        for gap in gaps:
            voxels[gap.index] = fill
    return voxels, gaps


def _split_by_orientation(frames: list[_Frame]) -> tuple[list[_Frame], list[_Frame]]:
    """Keep the frames in the series' main orientation; the rest (e.g. a scout) go aside."""
    counts: dict[tuple[float, ...], int] = {}
    for f in frames:
        if f.orientation is not None:
            key = tuple(round(v, 2) for v in f.orientation)
            counts[key] = counts.get(key, 0) + 1
    if len(counts) < 2:
        return frames, []
    main = max(counts, key=lambda k: counts[k])
    keep, other = [], []
    for f in frames:
        same = f.orientation is None or tuple(round(v, 2) for v in f.orientation) == main
        (keep if same else other).append(f)
    return keep, other


def _majority_shape(datasets: Sequence[Dataset]) -> tuple[int, int]:
    shapes: dict[tuple[int, int], int] = {}
    for ds in datasets:
        try:
            key = (int(ds.Rows), int(ds.Columns))
        except (AttributeError, TypeError, ValueError):
            continue
        shapes[key] = shapes.get(key, 0) + 1
    if not shapes:
        raise ValueError("no instance has Rows and Columns")
    return max(shapes, key=lambda k: shapes[k])


def _fill_value(voxels: np.ndarray, gaps: Sequence[Gap]) -> int:
    gap_index = {g.index for g in gaps}
    valid = [i for i in range(voxels.shape[0]) if i not in gap_index]
    if not valid:
        return int(np.iinfo(voxels.dtype).min)
    return int(min(int(voxels[i].min()) for i in valid[:: max(1, len(valid) // 16)]))


def _slice_spacing(
    distances: np.ndarray, ds: Dataset, thickness: float | None
) -> tuple[float, bool]:
    steps = np.diff(distances)
    steps = steps[steps > 1e-6]
    if steps.size:
        median = float(np.median(steps))
        return median, bool(np.all(np.abs(steps - median) <= 0.01 * median))
    fallback = _float(ds.get("SpacingBetweenSlices"), None) or thickness or 1.0
    return float(fallback), True
