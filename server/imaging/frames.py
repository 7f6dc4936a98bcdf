"""Frames of an instance's pixel data, as stored (PS3.18 §10.4.1.1.5 Retrieve Frames).

Pure: bytes of a Part 10 file in, the bytes of the requested frames out. Native
pixel data is cut into frames of Rows × Columns × SamplesPerPixel × BitsAllocated/8
bytes (big-endian data swapped to little endian); encapsulated pixel data gives
each frame's fragments concatenated (PS3.5 §A.4). Nothing is decoded.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pydicom
from pydicom.encaps import get_frame

from server.imaging.multipart import is_native
from server.problems import BadRequest, NotFound

__all__ = ["extract_frames", "parse_frame_list"]

_BIG_ENDIAN = "1.2.840.10008.1.2.2"


def parse_frame_list(text: str, *, max_frames: int = 10_000) -> list[int]:
    """``"1,3,5"`` -> ``[1, 3, 5]``: one-based frame numbers (PS3.18 §8.3.3.1 ``{frames}``)."""
    numbers: list[int] = []
    for item in text.split(","):
        item = item.strip()
        if not (item.isascii() and item.isdigit()) or int(item) < 1:
            raise BadRequest(
                "Frame numbers are whole numbers from 1, comma-separated.", field="frames"
            )
        numbers.append(int(item))
    if not numbers or len(numbers) > max_frames:
        raise BadRequest(f"Ask for between 1 and {max_frames} frames.", field="frames")
    return numbers


def extract_frames(data: bytes, frame_numbers: Sequence[int]) -> list[bytes]:
    """The bytes of each requested frame of the Part 10 file ``data``.

    Raises :class:`NotFound` when the instance has no pixel data or a frame number is
    beyond ``NumberOfFrames``.
    """
    ds = pydicom.dcmread(io.BytesIO(data))
    if "PixelData" not in ds:
        raise NotFound("This instance has no pixel data.", field="frames")
    count = int(ds.get("NumberOfFrames", 1) or 1)
    beyond = [n for n in frame_numbers if n > count]
    if beyond:
        raise NotFound(f"The instance has {count} frame(s); no frame {beyond[0]}.", field="frames")
    syntax = str(ds.file_meta.TransferSyntaxUID)
    pixel_data: bytes = ds.PixelData
    if not is_native(syntax):
        return [get_frame(pixel_data, n - 1, number_of_frames=count) for n in frame_numbers]
    bits = int(ds.BitsAllocated)
    pixels = int(ds.Rows) * int(ds.Columns) * int(ds.get("SamplesPerPixel", 1))
    if bits == 1:
        if count != 1:
            raise NotFound(
                "Frames of multi-frame 1-bit pixel data are not offered.", field="frames"
            )
        return [pixel_data[: -(-pixels // 8)]]
    size = pixels * bits // 8
    frames = [pixel_data[(n - 1) * size : n * size] for n in frame_numbers]
    if syntax == _BIG_ENDIAN and bits > 8:
        dtype = np.dtype(f">u{bits // 8}")
        frames = [np.frombuffer(f, dtype).astype(dtype.newbyteorder("<")).tobytes() for f in frames]
    return frames
