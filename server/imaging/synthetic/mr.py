"""Synthetic MR brain studies: T1, T2 and FLAIR series (MR Image IOD, PS3.3 A.4)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import ExplicitVRLittleEndian

from server.imaging.synthetic.anatomy import _MR_TISSUES, _mr_shapes
from server.imaging.synthetic.encoding import _encode
from server.imaging.synthetic.enhanced import _enhanced
from server.imaging.synthetic.headers import _base_dataset, _image_plane, _set_pixels, _window_tags
from server.imaging.synthetic.iod import MR_IMAGE_STORAGE
from server.imaging.synthetic.phantom import _Grid, _noise_bank, _noisy, _Phantom
from server.imaging.synthetic.study import MRSeries, SyntheticPatient, _context, _SeriesPlan
from server.imaging.synthetic.uids import _uid

_MR_FOV_MM = 240.0
_MR_COVERAGE_MM = 150.0


@dataclass(frozen=True)
class _MRProtocol:
    """A sequence's series number, description and MR Image module attributes."""

    number: int
    description: str
    contrast: str
    """AcquisitionContrast of the Enhanced MR variant (PS3.3 C.8.13.1)."""
    attributes: dict[str, object]


_MR_PROTOCOLS: dict[MRSeries, _MRProtocol] = {
    MRSeries.T1: _MRProtocol(
        1,
        "AX T1 SE",
        "T1",
        {
            "ScanningSequence": "SE",
            "SequenceVariant": "SP",
            "RepetitionTime": "550",
            "EchoTime": "12",
            "EchoTrainLength": 1,
            "SequenceName": "se2d1",
        },
    ),
    MRSeries.T2: _MRProtocol(
        2,
        "AX T2 TSE",
        "T2",
        {
            "ScanningSequence": "SE",
            "SequenceVariant": ["SK", "SP"],
            "RepetitionTime": "4000",
            "EchoTime": "95",
            "EchoTrainLength": 15,
            "SequenceName": "tse2d1_15",
        },
    ),
    MRSeries.FLAIR: _MRProtocol(
        3,
        "AX FLAIR",
        "FLUID_ATTENUATED",
        {
            "ScanningSequence": ["SE", "IR"],
            "SequenceVariant": ["SK", "SP", "MP"],
            "RepetitionTime": "9000",
            "EchoTime": "85",
            "InversionTime": "2500",
            "EchoTrainLength": 16,
            "SequenceName": "tir2d1_16",
        },
    ),
}


def make_mr_study(
    *,
    patient: SyntheticPatient | None = None,
    slices: int = 30,
    rows: int = 256,
    cols: int = 256,
    series: Sequence[MRSeries | str] = (MRSeries.T1, MRSeries.T2, MRSeries.FLAIR),
    study_date: date | None = None,
    study_time: str = "141500",
    transfer_syntax: str = ExplicitVRLittleEndian,
    enhanced: bool = False,
    seed: int = 0,
) -> list[Dataset]:
    """A synthetic MR brain study (MONOCHROME2 uint16, no rescale): T1, T2, FLAIR.

    ``enhanced`` gives one Enhanced MR multi-frame instance per series (PS3.3 A.36).
    """
    patient = patient or SyntheticPatient()
    ctx = _context(
        patient, "MR", seed, study_date, study_time, "MR BRAIN WITHOUT CONTRAST", transfer_syntax
    )
    grid = _Grid(rows, cols, (_MR_FOV_MM / rows, _MR_FOV_MM / cols))
    labels = _Phantom(grid, _mr_shapes(), 0.0)
    thickness = _MR_COVERAGE_MM / slices
    zs = _MR_COVERAGE_MM / 2 - thickness / 2 - np.arange(slices) * thickness
    label_slices = [labels.slice(float(z)).astype(np.int8) for z in zs]
    out: list[Dataset] = []
    for kind in (MRSeries(s) for s in series):
        protocol = _MR_PROTOCOLS[kind]
        number, description = protocol.number, protocol.description
        idx = list(MRSeries).index(kind)
        lut = np.array([_MR_TISSUES[k][idx] for k in range(len(_MR_TISSUES))], np.float32)
        bank = _noise_bank((rows, cols), 18.0, seed + 100 + number)
        series_uid = _uid("series", ctx.study_uid, number)
        frames = []
        for i, lab in enumerate(label_slices):
            img = _noisy(lut[lab], bank, i)
            img = np.abs(img)  # magnitude images: Rician-like floor
            frames.append((np.clip(np.rint(img), 0, 4095).astype(np.uint16), 0))
        values = np.concatenate([f.ravel()[::17] for f, _ in frames])
        lo, hi = np.percentile(values[values > 200], [1, 99]) if (values > 200).any() else (0, 1)
        windows = (((lo + hi) / 2, max(hi - lo, 1.0), "AUTO"),)
        plan = _SeriesPlan(
            kind, number, description, zs, thickness, "", 0.0, windows, "HEAD", protocol
        )
        if enhanced:
            out.append(_enhanced(ctx, plan, series_uid, grid, frames, signed=False, modality="MR"))
            continue
        for i, ((stored, _), z) in enumerate(zip(frames, zs, strict=True)):
            sop = _uid("instance", series_uid, i + 1)
            ds = _base_dataset(
                ctx,
                sop_class=MR_IMAGE_STORAGE,
                sop_instance=sop,
                modality="MR",
                series_uid=series_uid,
                series_number=number,
                series_description=description,
                instance_number=i + 1,
                body_part="HEAD",
            )
            _mr_image_module(ds, protocol)
            _image_plane(ds, ctx, grid, float(z), thickness)
            _window_tags(ds, windows)
            _set_pixels(ds, stored, signed=False, bits_stored=12)
            out.append(ds)
    return [_encode(ds, ctx.transfer_syntax) for ds in out]


def _mr_image_module(ds: Dataset, protocol: _MRProtocol) -> None:
    """MR Image module (PS3.3 C.8.3.1)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "M", "ND"]
    for key, value in protocol.attributes.items():
        setattr(ds, key, value)
    ds.ScanOptions = ""
    ds.MRAcquisitionType = "2D"
    ds.MagneticFieldStrength = "1.5"
    ds.ImagingFrequency = "63.87"
    ds.ImagedNucleus = "1H"
    ds.NumberOfAverages = "1"
    ds.PatientPosition = "HFS"
