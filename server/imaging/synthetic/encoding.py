"""Transfer syntaxes: encoding a generated dataset and serialising it as a Part 10 file."""

from __future__ import annotations

import io

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import (
    JPEG2000,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

#: Transfer syntaxes this module can write (lossy ones marked as such by pydicom).
SUPPORTED_TRANSFER_SYNTAXES: tuple[UID, ...] = (
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    RLELossless,
    JPEGLSLossless,
    JPEGLSNearLossless,
    JPEG2000Lossless,
    JPEG2000,
)


def _encode(ds: Dataset, transfer_syntax: UID) -> Dataset:
    """Apply ``transfer_syntax`` to an uncompressed little-endian dataset, in place."""
    if transfer_syntax.is_compressed:
        kwargs: dict[str, object] = {"generate_instance_uid": False}
        if transfer_syntax == JPEGLSNearLossless:
            kwargs["jls_error"] = 2
        elif transfer_syntax == JPEG2000:
            kwargs["j2k_psnr"] = [60.0 + 6.0 * (int(ds.BitsStored) - 12)]
        ds.compress(transfer_syntax, **kwargs)  # type: ignore[arg-type]
        return ds
    if transfer_syntax == ExplicitVRBigEndian and "PixelData" in ds and ds.BitsAllocated == 16:
        dtype = "<i2" if ds.PixelRepresentation else "<u2"
        arr = np.frombuffer(ds.PixelData, dtype=dtype)
        ds.PixelData = arr.astype(dtype.replace("<", ">")).tobytes()
        ds["PixelData"].VR = "OW"
    ds.file_meta.TransferSyntaxUID = transfer_syntax
    return ds


def to_bytes(ds: Dataset) -> bytes:
    """The instance encoded as a DICOM Part 10 file (PS3.10 §7)."""
    buf = io.BytesIO()
    ds.save_as(buf, enforce_file_format=True)
    return buf.getvalue()
