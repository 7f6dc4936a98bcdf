"""Deterministic synthetic CT and MR studies for demos, tests and benchmarks.

Pure pydicom + numpy, no network. Every value comes from the arguments and the
``seed``: the same call gives the same UIDs and the same bytes. Patients are
invented (:class:`SyntheticPatient`); never put real data here.

The CT phantom is a chest/abdomen in Hounsfield units (air, fat, muscle, liver
with a hypodense lesion, spleen, kidneys, aorta, heart, lungs with vessels and
a nodule, spine, ribs, the table). The MR phantom is a head (scalp, skull, grey
and white matter, ventricles, a white-matter lesion) with T1, T2 and FLAIR
contrasts. Each axial slice is built from 2-D elliptic distance maps computed
once per geometry, so hundreds of 512x512 slices take a few seconds.

Headers follow PS3.3 A.3 (CT Image IOD), A.4 (MR Image IOD), A.38 / A.36
(Enhanced CT / MR, ``enhanced=True``), A.8 (Secondary Capture) and the X-Ray
Radiation Dose SR (A.35.8, TID 10011 in a minimal form). :func:`write_cd`
writes an IHE PDI-like CD: ``DICOMDIR`` at the root (PS3.10 §8, PS3.11), the
instances under ``DICOM/`` with 8-character upper-case File IDs, and the
usual non-DICOM companions (README.TXT, AUTORUN.INF, a viewer stub, an HTML
index).
"""

from __future__ import annotations

import io
import shutil
import tempfile
import uuid
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from pathlib import Path
from typing import Literal

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomFileLike
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import (
    JPEG2000,
    PYDICOM_IMPLEMENTATION_UID,
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    JPEGLSNearLossless,
    RLELossless,
)

__all__ = [
    "CT_IMAGE_STORAGE",
    "CT_TYPE1_KEYWORDS",
    "ENHANCED_CT_IMAGE_STORAGE",
    "ENHANCED_MR_IMAGE_STORAGE",
    "MR_IMAGE_STORAGE",
    "MR_TYPE1_KEYWORDS",
    "SECONDARY_CAPTURE_IMAGE_STORAGE",
    "SUPPORTED_TRANSFER_SYNTAXES",
    "XRAY_DOSE_SR_STORAGE",
    "CTSeries",
    "MRSeries",
    "SyntheticPatient",
    "ct_hu_slice",
    "generate",
    "make_ct_dose_report",
    "make_ct_study",
    "make_mr_study",
    "make_secondary_capture",
    "to_bytes",
    "write_cd",
    "write_study",
    "zip_cd",
]

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
ENHANCED_CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2.1")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
ENHANCED_MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")
SECONDARY_CAPTURE_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")
XRAY_DOSE_SR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.88.67")

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

#: Type 1 attributes of the CT Image IOD (PS3.3 A.3: SOP Common, General Study,
#: General Series, Frame of Reference, Image Plane, Image Pixel, CT Image).
CT_TYPE1_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "Modality",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "ImageType",
    "RescaleIntercept",
    "RescaleSlope",
    "PixelData",
)

#: Type 1 attributes of the MR Image IOD (PS3.3 A.4; MR Image module C.8.3.1).
MR_TYPE1_KEYWORDS: tuple[str, ...] = (
    "SOPClassUID",
    "SOPInstanceUID",
    "StudyInstanceUID",
    "Modality",
    "SeriesInstanceUID",
    "FrameOfReferenceUID",
    "PixelSpacing",
    "ImageOrientationPatient",
    "ImagePositionPatient",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "Rows",
    "Columns",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "ImageType",
    "ScanningSequence",
    "SequenceVariant",
    "PixelData",
)

_MANUFACTURER = "READROOM SYNTHETIC"
_STATION = "SYNTH01"
_INSTITUTION = "Readroom Synthetic Imaging"


@dataclass(frozen=True)
class SyntheticPatient:
    """An invented patient. Defaults are obviously synthetic; never use real data."""

    name: str = "SYNTHETIC^ALEX"
    patient_id: str = "SYN-0001"
    birth_date: str = "19700101"
    sex: Literal["F", "M", "O"] = "O"
    accession_number: str = "SYNACC0001"
    referring_physician: str = "REFERRER^SYNTHETIC^^DR"


class CTSeries(StrEnum):
    """Series a synthetic CT study can contain."""

    SCOUT = "scout"
    AXIAL_SOFT_TISSUE = "axial-soft-tissue"
    AXIAL_LUNG = "axial-lung"


class MRSeries(StrEnum):
    """Series a synthetic MR brain study can contain."""

    T1 = "t1"
    T2 = "t2"
    FLAIR = "flair"


# ---------------------------------------------------------------------------
# UIDs and small helpers


_UID_NAMESPACE = uuid.UUID("6f1c2a52-8a57-4f0e-9d6b-7a3c0e5d2b11")


def _uid(*parts: object) -> UID:
    """A deterministic UID derived from ``parts``: a name-based UUID under 2.25 (PS3.5 B.2).

    (``pydicom.uid.generate_uid(prefix=None, ...)`` ignores its entropy sources
    and returns a random UUID, so it cannot give repeatable UIDs.)
    """
    name = "\x1f".join(str(p) for p in parts)
    return UID(f"2.25.{uuid.uuid5(_UID_NAMESPACE, name).int}")


def _ds_str(value: float) -> str:
    """Format a number for a DS element (at most 16 characters, PS3.5 6.2)."""
    text = f"{value:.6g}"
    if text == "-0":
        text = "0"
    return text


def _file_meta(sop_class: UID, sop_instance: UID, transfer_syntax: UID) -> FileMetaDataset:
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = sop_class
    meta.MediaStorageSOPInstanceUID = sop_instance
    meta.TransferSyntaxUID = transfer_syntax
    meta.ImplementationClassUID = PYDICOM_IMPLEMENTATION_UID
    meta.ImplementationVersionName = "READROOM_SYN"
    return meta


@dataclass(frozen=True)
class _StudyContext:
    patient: SyntheticPatient
    study_uid: UID
    frame_of_reference_uid: UID
    study_date: date
    study_time: str
    description: str
    study_id: str
    seed: int
    transfer_syntax: UID


def _base_dataset(
    ctx: _StudyContext,
    *,
    sop_class: UID,
    sop_instance: UID,
    modality: str,
    series_uid: UID,
    series_number: int,
    series_description: str,
    instance_number: int,
    body_part: str,
) -> Dataset:
    """SOP Common, Patient, General Study, General Series, Equipment (PS3.3 C.7, C.12.1)."""
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop_instance, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop_instance
    d = ctx.study_date.strftime("%Y%m%d")
    ds.StudyDate = d
    ds.SeriesDate = d
    ds.AcquisitionDate = d
    ds.ContentDate = d
    ds.StudyTime = ctx.study_time
    ds.SeriesTime = ctx.study_time
    ds.AcquisitionTime = ctx.study_time
    ds.ContentTime = ctx.study_time
    ds.AccessionNumber = ctx.patient.accession_number
    ds.Modality = modality
    ds.Manufacturer = _MANUFACTURER
    ds.InstitutionName = _INSTITUTION
    ds.ReferringPhysicianName = ctx.patient.referring_physician
    ds.StationName = _STATION
    ds.StudyDescription = ctx.description
    ds.SeriesDescription = series_description
    ds.ManufacturerModelName = "Phantom"
    ds.PatientName = ctx.patient.name
    ds.PatientID = ctx.patient.patient_id
    ds.PatientBirthDate = ctx.patient.birth_date
    ds.PatientSex = ctx.patient.sex
    ds.BodyPartExamined = body_part
    ds.DeviceSerialNumber = "SYN0001"
    ds.SoftwareVersions = "readroom-synthetic 1"
    ds.StudyInstanceUID = ctx.study_uid
    ds.SeriesInstanceUID = series_uid
    ds.StudyID = ctx.study_id
    ds.SeriesNumber = series_number
    ds.InstanceNumber = instance_number
    return ds


def _set_pixels(ds: Dataset, stored: np.ndarray, *, signed: bool, bits_stored: int) -> None:
    """Image Pixel module (PS3.3 C.7.6.3) for a MONOCHROME2 frame or frames."""
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows = int(stored.shape[-2])
    ds.Columns = int(stored.shape[-1])
    ds.BitsAllocated = 16
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 1 if signed else 0
    dtype = np.int16 if signed else np.uint16
    ds.PixelData = np.ascontiguousarray(stored, dtype=dtype).tobytes()
    ds["PixelData"].VR = "OW"


def _window_tags(ds: Dataset, presets: Sequence[tuple[float, float, str]]) -> None:
    """VOI LUT module (PS3.3 C.11.2): multi-valued centre/width with explanations."""
    centers = [_ds_str(c) for c, _, _ in presets]
    widths = [_ds_str(w) for _, w, _ in presets]
    explanations = [e for _, _, e in presets]
    single = len(presets) == 1
    ds.WindowCenter = centers[0] if single else centers
    ds.WindowWidth = widths[0] if single else widths
    ds.WindowCenterWidthExplanation = explanations[0] if single else explanations


# ---------------------------------------------------------------------------
# Phantom geometry: elliptic distance maps on a pixel grid


@dataclass(frozen=True)
class _Grid:
    """The in-plane pixel grid: patient x along columns, y along rows (LPS, mm)."""

    rows: int
    cols: int
    spacing: tuple[float, float]  # (row spacing, column spacing) in mm

    @property
    def origin(self) -> tuple[float, float]:
        """(x, y) of the centre of pixel (0, 0)."""
        dr, dc = self.spacing
        return (-(self.cols - 1) / 2 * dc, -(self.rows - 1) / 2 * dr)


@dataclass(frozen=True)
class _Shape:
    """An ellipsoid (``c`` > 0) or an elliptic cylinder spanning ``z_range``."""

    x: float
    y: float
    a: float
    b: float
    value: float
    z: float = 0.0
    c: float = 0.0
    z_range: tuple[float, float] = (-1e9, 1e9)

    def threshold(self, z: float) -> float:
        """The squared-radius threshold of the cross-section at ``z`` (< 0: absent)."""
        if self.c > 0:
            return 1.0 - ((z - self.z) / self.c) ** 2
        lo, hi = self.z_range
        return 1.0 if lo <= z <= hi else -1.0


@dataclass
class _Plane:
    """A shape's precomputed normalised squared-radius map in its bounding box."""

    shape: _Shape
    box: tuple[slice, slice]
    q: np.ndarray


def _plane(grid: _Grid, shape: _Shape) -> _Plane | None:
    x0, y0 = grid.origin
    dr, dc = grid.spacing
    c0 = max(0, int(np.floor((shape.x - shape.a - x0) / dc)))
    c1 = min(grid.cols, int(np.ceil((shape.x + shape.a - x0) / dc)) + 1)
    r0 = max(0, int(np.floor((shape.y - shape.b - y0) / dr)))
    r1 = min(grid.rows, int(np.ceil((shape.y + shape.b - y0) / dr)) + 1)
    if c0 >= c1 or r0 >= r1:
        return None
    xs = (x0 + np.arange(c0, c1, dtype=np.float32) * dc - shape.x) / shape.a
    ys = (y0 + np.arange(r0, r1, dtype=np.float32) * dr - shape.y) / shape.b
    q = ys[:, None] ** 2 + xs[None, :] ** 2
    return _Plane(shape, (slice(r0, r1), slice(c0, c1)), q.astype(np.float32))


class _Phantom:
    """Paints axial cross-sections of a list of shapes, in order (later wins)."""

    def __init__(self, grid: _Grid, shapes: Sequence[_Shape], background: float) -> None:
        self.grid = grid
        self.background = background
        self.planes = [p for s in shapes if (p := _plane(grid, s)) is not None]

    def slice(self, z: float) -> np.ndarray:
        img = np.full((self.grid.rows, self.grid.cols), self.background, dtype=np.float32)
        for plane in self.planes:
            t = plane.shape.threshold(z)
            if t < 0:
                continue
            view = img[plane.box]
            view[plane.q <= t] = plane.shape.value
        return img


def _ct_shapes(seed: int) -> list[_Shape]:
    """Chest/abdomen anatomy in HU (LPS mm: +x patient left, +y posterior, +z head)."""
    rng = np.random.default_rng([seed, 11])
    s: list[_Shape] = [
        _Shape(0, 139, 200, 4, 120),  # table top
        _Shape(0, 0, 167, 117, 20, z_range=(-200, 200)),  # skin
        _Shape(0, 0, 164, 114, -100, z_range=(-200, 200)),  # subcutaneous fat
        _Shape(0, 0, 150, 101, 45, z_range=(-200, 200)),  # muscle wall
        _Shape(0, 2, 138, 89, -80, z_range=(-200, 200)),  # visceral fat
    ]
    # ribs: short elliptic segments on the chest wall, in bands along z
    for k in range(14):
        ang = np.pi * (0.08 + 0.84 * k / 13) + np.pi
        rx, ry = 143 * np.cos(ang), 94 * np.sin(ang)
        for band in range(6):
            zc = 20 + band * 28
            s.append(_Shape(rx, ry, 6, 5, 900, z=zc + 4 * np.sin(k), c=5))
            s.append(_Shape(rx, -ry + 10, 6, 5, 900, z=zc + 14, c=5))
    s += [
        _Shape(-68, 0, 58, 75, -860, z=100, c=95),  # right lung
        _Shape(72, 0, 52, 75, -860, z=100, c=95),  # left lung
        _Shape(15, -25, 58, 48, 40, z=55, c=48),  # heart
        _Shape(15, -25, 40, 32, 120, z=55, c=35),  # enhancing ventricles
        _Shape(-70, 5, 88, 78, 60, z=-40, c=80),  # liver
        _Shape(-88, 12, 10, 10, 15, z=-35, c=10),  # hypodense liver lesion
        _Shape(88, 35, 30, 42, 48, z=-40, c=40),  # spleen
        _Shape(45, -35, 36, 28, -1000, z=-15, c=28),  # stomach gas
        _Shape(-62, 48, 24, 30, 150, z=-110, c=45),  # right kidney (enhancing)
        _Shape(62, 48, 24, 30, 150, z=-105, c=45),  # left kidney
        _Shape(14, 38, 13, 13, 180, z_range=(-200, 125)),  # descending aorta
        _Shape(-12, 30, 11, 11, 100, z_range=(-200, 40)),  # IVC
        _Shape(58, -22, 5, 5, 30, z=120, c=5),  # lung nodule
    ]
    # pulmonary vessels: short cylinders inside the lungs
    for _ in range(70):
        side = rng.choice([-1, 1])
        x = side * rng.uniform(30, 105)
        y = rng.uniform(-55, 55)
        zc = rng.uniform(30, 170)
        r = rng.uniform(1.2, 3.5)
        s.append(_Shape(x, y, r, r, 40, z_range=(zc - 30, zc + 30)))
    # spine: vertebral bodies with cortex, discs every 32 mm, canal, spinous process
    for level in range(-7, 8):
        z0 = level * 32.0
        s.append(_Shape(0, 66, 20, 17, 1150, z_range=(z0 - 13, z0 + 13)))
        s.append(_Shape(0, 66, 17, 14, 650, z_range=(z0 - 12, z0 + 12)))
        s.append(_Shape(0, 66, 19, 16, 80, z_range=(z0 + 13, z0 + 19)))
        s.append(_Shape(0, 100, 5, 13, 1000, z_range=(z0 - 10, z0 + 10)))
    s.append(_Shape(0, 88, 8, 7, 15, z_range=(-250, 250)))  # spinal canal
    return s


def _mr_shapes() -> list[_Shape]:
    """Head anatomy as tissue labels (values index :data:`_MR_TISSUES`)."""
    return [
        _Shape(0, 0, 92, 112, 1, z=0, c=95),  # scalp/fat
        _Shape(0, 0, 86, 106, 2, z=-2, c=88),  # skull
        _Shape(0, 0, 80, 100, 3, z=-4, c=82),  # CSF rim
        _Shape(0, 0, 77, 97, 4, z=-4, c=79),  # grey matter
        _Shape(0, 0, 64, 84, 5, z=-4, c=66),  # white matter
        _Shape(-12, -10, 6, 28, 3, z=8, c=20),  # right lateral ventricle
        _Shape(12, -10, 6, 28, 3, z=8, c=20),  # left lateral ventricle
        _Shape(0, 15, 2, 6, 3, z=-10, c=10),  # third ventricle
        _Shape(30, 20, 7, 7, 6, z=20, c=7),  # white-matter lesion
        _Shape(-35, -40, 4, 5, 6, z=30, c=4),  # small lesion
    ]


#: MR tissue label → (T1, T2, FLAIR) signal.
_MR_TISSUES: dict[int, tuple[float, float, float]] = {
    0: (0, 0, 0),  # air
    1: (1400, 900, 700),  # scalp fat
    2: (60, 40, 40),  # skull
    3: (250, 1900, 120),  # CSF
    4: (650, 900, 850),  # grey matter
    5: (900, 600, 650),  # white matter
    6: (520, 1500, 1500),  # lesion
}


def _noise_bank(shape: tuple[int, int], sigma: float, seed: int, n: int = 5) -> np.ndarray:
    rng = np.random.default_rng([seed, 3])
    return (rng.standard_normal((n, *shape), dtype=np.float32) * sigma).astype(np.float32)


def _noisy(img: np.ndarray, bank: np.ndarray, i: int) -> np.ndarray:
    frame = bank[i % len(bank)]
    shift = (i * 37) % img.shape[0], (i * 53) % img.shape[1]
    return img + np.roll(frame, shift, axis=(0, 1))


_CT_FOV_MM = 360.0
_CT_COVERAGE_MM = 300.0  # soft-tissue series, z from +150 down to -150
_LUNG_CENTRE_MM = 95.0


def ct_hu_slice(
    z_mm: float, *, rows: int = 512, cols: int = 512, seed: int = 0, fov_mm: float = _CT_FOV_MM
) -> np.ndarray:
    """The noiseless CT phantom's axial cross-section at ``z_mm``, in HU (float32)."""
    grid = _Grid(rows, cols, (fov_mm / rows, fov_mm / cols))
    return _Phantom(grid, _ct_shapes(seed), -1000.0).slice(z_mm)


# ---------------------------------------------------------------------------
# CT


@dataclass(frozen=True)
class _SeriesPlan:
    kind: str
    number: int
    description: str
    z_positions: np.ndarray
    thickness: float
    kernel: str
    noise: float
    windows: tuple[tuple[float, float, str], ...]
    body_part: str
    protocol: _MRProtocol | None = None


def _ct_plans(series: Sequence[CTSeries], slices: int) -> list[_SeriesPlan]:
    plans: list[_SeriesPlan] = []
    soft = _CT_COVERAGE_MM / slices
    for kind in series:
        if kind is CTSeries.SCOUT:
            plans.append(
                _SeriesPlan(
                    kind,
                    1,
                    "SCOUT",
                    np.array([0.0]),
                    1.0,
                    "STANDARD",
                    0.0,
                    ((500.0, 3000.0, "SCOUT"),),
                    "CHEST",
                )
            )
        elif kind is CTSeries.AXIAL_SOFT_TISSUE:
            z = _CT_COVERAGE_MM / 2 - soft / 2 - np.arange(slices) * soft
            plans.append(
                _SeriesPlan(
                    kind,
                    2,
                    f"AX {soft:.3g}mm SOFT TISSUE",
                    z,
                    soft,
                    "STANDARD",
                    9.0,
                    ((40.0, 400.0, "ABDOMEN"), (-600.0, 1500.0, "LUNG"), (400.0, 1800.0, "BONE")),
                    "CHEST",
                )
            )
        elif kind is CTSeries.AXIAL_LUNG:
            thin = soft / 2
            z = _LUNG_CENTRE_MM + (slices - 1) / 2 * thin - np.arange(slices) * thin
            plans.append(
                _SeriesPlan(
                    kind,
                    3,
                    f"AX {thin:.3g}mm LUNG",
                    z,
                    thin,
                    "LUNG",
                    28.0,
                    ((-600.0, 1500.0, "LUNG"), (50.0, 350.0, "MEDIASTINUM")),
                    "CHEST",
                )
            )
    return plans


def _ct_image_module(ds: Dataset, *, kernel: str, localizer: bool) -> None:
    """CT Image module (PS3.3 C.8.2.1)."""
    ds.ImageType = ["ORIGINAL", "PRIMARY", "LOCALIZER" if localizer else "AXIAL"]
    ds.KVP = "120"
    ds.AcquisitionNumber = 1
    ds.ScanOptions = "SURVIEW" if localizer else "HELICAL MODE"
    ds.DataCollectionDiameter = "500"
    ds.ReconstructionDiameter = _ds_str(_CT_FOV_MM)
    ds.DistanceSourceToDetector = "1040"
    ds.DistanceSourceToPatient = "570"
    ds.GantryDetectorTilt = "0"
    ds.TableHeight = "150"
    ds.RotationDirection = "CW"
    ds.ExposureTime = "500"
    ds.XRayTubeCurrent = 200
    ds.Exposure = 100
    ds.FilterType = "BODY FILTER"
    ds.GeneratorPower = 24
    ds.FocalSpots = "0.7"
    ds.ConvolutionKernel = kernel
    ds.PatientPosition = "HFS"


def _stored_from_hu(hu: np.ndarray, *, signed: bool) -> tuple[np.ndarray, int]:
    """HU → stored values and the intercept (Modality LUT, PS3.3 C.11.1)."""
    if signed:
        return np.clip(np.rint(hu), -1024, 3071).astype(np.int16), 0
    return np.clip(np.rint(hu) + 1024, 0, 4095).astype(np.uint16), -1024


def _scout_image(
    phantom: _Phantom, rows: int, cols: int, seed: int
) -> tuple[np.ndarray, float, float]:
    """An AP projection radiograph: mean attenuation along y, rows along z."""
    coarse = _Grid(96, 96, (_CT_FOV_MM / 96, _CT_FOV_MM / 96))
    small = _Phantom(coarse, [p.shape for p in phantom.planes], -1000.0)
    zs = np.linspace(_CT_COVERAGE_MM / 2 + 60, -_CT_COVERAGE_MM / 2 - 60, 128)
    proj = np.stack([(small.slice(z) + 1000.0).clip(0).sum(axis=0) for z in zs])  # (z, x)
    proj = proj / max(float(proj.max()), 1.0) * 2600.0 - 1000.0
    ri = np.linspace(0, proj.shape[0] - 1, rows)
    ci = np.linspace(0, proj.shape[1] - 1, cols)
    img = proj[np.rint(ri).astype(int)][:, np.rint(ci).astype(int)].astype(np.float32)
    bank = _noise_bank((rows, cols), 6.0, seed, n=1)
    z_extent = float(zs[0] - zs[-1])
    return img + bank[0], z_extent / rows, _CT_FOV_MM / cols


def make_ct_study(
    *,
    patient: SyntheticPatient | None = None,
    slices: int = 60,
    rows: int = 512,
    cols: int = 512,
    series: Sequence[CTSeries | str] = (
        CTSeries.SCOUT,
        CTSeries.AXIAL_SOFT_TISSUE,
        CTSeries.AXIAL_LUNG,
    ),
    study_date: date | None = None,
    study_time: str = "093000",
    transfer_syntax: str = ExplicitVRLittleEndian,
    enhanced: bool = False,
    signed: bool = False,
    seed: int = 0,
) -> list[Dataset]:
    """A synthetic CT chest/abdomen study: one Dataset per instance.

    ``slices`` is the number of slices of each axial series (the soft-tissue
    series covers 300 mm, so 60 slices are 5 mm apart; the lung series is half
    as thick, centred on the chest). ``signed`` stores int16 HU with intercept
    0, otherwise uint16 with intercept -1024. ``enhanced`` gives one Enhanced
    CT multi-frame instance per axial series (PS3.3 A.38). ``study_date``
    defaults to today: the intake refuses studies older than 365 days.
    """
    patient = patient or SyntheticPatient()
    kinds = [CTSeries(s) for s in series]
    ctx = _context(
        patient,
        "CT",
        seed,
        study_date,
        study_time,
        "CT CHEST ABDOMEN WITH CONTRAST",
        transfer_syntax,
    )
    grid = _Grid(rows, cols, (_CT_FOV_MM / rows, _CT_FOV_MM / cols))
    phantom = _Phantom(grid, _ct_shapes(seed), -1000.0)
    out: list[Dataset] = []
    for plan in _ct_plans(kinds, slices):
        series_uid = _uid("series", ctx.study_uid, plan.number)
        if plan.kind is CTSeries.SCOUT:
            out.append(_ct_scout(ctx, plan, series_uid, phantom, signed=signed))
            continue
        bank = _noise_bank((rows, cols), plan.noise, seed + plan.number)
        frames = [
            _stored_from_hu(_noisy(phantom.slice(float(z)), bank, i), signed=signed)
            for i, z in enumerate(plan.z_positions)
        ]
        if enhanced:
            out.append(_enhanced(ctx, plan, series_uid, grid, frames, signed=signed, modality="CT"))
        else:
            out += _ct_axial(ctx, plan, series_uid, grid, frames, signed=signed)
    return [_encode(ds, ctx.transfer_syntax) for ds in out]


def _ct_scout(
    ctx: _StudyContext, plan: _SeriesPlan, series_uid: UID, phantom: _Phantom, *, signed: bool
) -> Dataset:
    """The localizer: a coronal projection image (CT Image IOD, ImageType LOCALIZER)."""
    grid = phantom.grid
    img, dz, dx = _scout_image(phantom, grid.rows, grid.cols, ctx.seed)
    stored, intercept = _stored_from_hu(img, signed=signed)
    ds = _base_dataset(
        ctx,
        sop_class=CT_IMAGE_STORAGE,
        sop_instance=_uid("instance", series_uid, 1),
        modality="CT",
        series_uid=series_uid,
        series_number=plan.number,
        series_description=plan.description,
        instance_number=1,
        body_part=plan.body_part,
    )
    _ct_image_module(ds, kernel=plan.kernel, localizer=True)
    ds.FrameOfReferenceUID = ctx.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.PatientOrientation = ["L", "F"]
    # coronal plane: rows go feet-ward (-z), columns to patient left (+x)
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "0", "-1"]
    top = _CT_COVERAGE_MM / 2 + 60
    ds.ImagePositionPatient = [_ds_str(grid.origin[0]), "0", _ds_str(top)]
    ds.PixelSpacing = [_ds_str(dz), _ds_str(dx)]
    ds.SliceThickness = "1"
    ds.RescaleIntercept = _ds_str(intercept)
    ds.RescaleSlope = "1"
    _window_tags(ds, plan.windows)
    _set_pixels(ds, stored, signed=signed, bits_stored=16 if signed else 12)
    return ds


def _ct_axial(
    ctx: _StudyContext,
    plan: _SeriesPlan,
    series_uid: UID,
    grid: _Grid,
    frames: Sequence[tuple[np.ndarray, int]],
    *,
    signed: bool,
) -> list[Dataset]:
    """One CT Image instance per axial slice."""
    out = []
    for i, ((stored, intercept), z) in enumerate(zip(frames, plan.z_positions, strict=True)):
        ds = _base_dataset(
            ctx,
            sop_class=CT_IMAGE_STORAGE,
            sop_instance=_uid("instance", series_uid, i + 1),
            modality="CT",
            series_uid=series_uid,
            series_number=plan.number,
            series_description=plan.description,
            instance_number=i + 1,
            body_part=plan.body_part,
        )
        _ct_image_module(ds, kernel=plan.kernel, localizer=False)
        _image_plane(ds, ctx, grid, float(z), plan.thickness)
        ds.RescaleIntercept = _ds_str(intercept)
        ds.RescaleSlope = "1"
        _window_tags(ds, plan.windows)
        _set_pixels(ds, stored, signed=signed, bits_stored=16 if signed else 12)
        out.append(ds)
    return out


def _context(
    patient: SyntheticPatient,
    modality: str,
    seed: int,
    study_date: date | None,
    study_time: str,
    description: str,
    transfer_syntax: str,
) -> _StudyContext:
    ts = UID(transfer_syntax)
    if ts not in SUPPORTED_TRANSFER_SYNTAXES:
        raise ValueError(f"unsupported transfer syntax {ts} ({ts.name})")
    study_uid = _uid("study", modality, patient.patient_id, seed)
    return _StudyContext(
        patient=patient,
        study_uid=study_uid,
        frame_of_reference_uid=_uid("for", study_uid),
        study_date=study_date or date.today(),
        study_time=study_time,
        description=description,
        study_id=f"{seed % 100000:05d}",
        seed=seed,
        transfer_syntax=ts,
    )


def _image_plane(ds: Dataset, ctx: _StudyContext, grid: _Grid, z: float, thickness: float) -> None:
    """Frame of Reference and Image Plane modules (PS3.3 C.7.4.1, C.7.6.2) for an axial slice."""
    ds.FrameOfReferenceUID = ctx.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    x0, y0 = grid.origin
    ds.ImagePositionPatient = [_ds_str(x0), _ds_str(y0), _ds_str(z)]
    ds.PixelSpacing = [_ds_str(grid.spacing[0]), _ds_str(grid.spacing[1])]
    ds.SliceThickness = _ds_str(thickness)
    ds.SpacingBetweenSlices = _ds_str(thickness)
    ds.SliceLocation = _ds_str(z)


# ---------------------------------------------------------------------------
# MR

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


# ---------------------------------------------------------------------------
# Enhanced (multi-frame) CT / MR


def _enhanced(
    ctx: _StudyContext,
    plan: _SeriesPlan,
    series_uid: UID,
    grid: _Grid,
    frames: list[tuple[np.ndarray, int]],
    *,
    signed: bool,
    modality: str,
) -> Dataset:
    """One multi-frame instance with shared and per-frame functional groups (PS3.3 C.7.6.16)."""
    sop_class = ENHANCED_CT_IMAGE_STORAGE if modality == "CT" else ENHANCED_MR_IMAGE_STORAGE
    sop = _uid("instance", series_uid, "enhanced")
    ds = _base_dataset(
        ctx,
        sop_class=sop_class,
        sop_instance=sop,
        modality=modality,
        series_uid=series_uid,
        series_number=plan.number,
        series_description=plan.description,
        instance_number=1,
        body_part=plan.body_part,
    )
    ds.ImageType = ["ORIGINAL", "PRIMARY", "AXIAL", "NONE"]
    ds.FrameOfReferenceUID = ctx.frame_of_reference_uid
    ds.PositionReferenceIndicator = ""
    ds.ContentQualification = "PRODUCT"
    ds.BurnedInAnnotation = "NO"
    ds.PresentationLUTShape = "IDENTITY"
    ds.LossyImageCompression = "00"
    ds.AcquisitionDateTime = ctx.study_date.strftime("%Y%m%d") + ctx.study_time
    ds.PatientPosition = "HFS"
    if plan.protocol is not None:
        for key, value in plan.protocol.attributes.items():
            setattr(ds, key, value)
        ds.AcquisitionContrast = plan.protocol.contrast
        ds.PixelPresentation = "MONOCHROME"
        ds.VolumetricProperties = "VOLUME"
        ds.VolumeBasedCalculationTechnique = "NONE"
        ds.ComplexImageComponent = "MAGNITUDE"
        ds.MagneticFieldStrength = "1.5"
    ds.NumberOfFrames = len(frames)
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [_ds_str(grid.spacing[0]), _ds_str(grid.spacing[1])]
    measures.SliceThickness = _ds_str(plan.thickness)
    measures.SpacingBetweenSlices = _ds_str(plan.thickness)
    shared.PixelMeasuresSequence = DicomSequence([measures])
    orient = Dataset()
    orient.ImageOrientationPatient = ["1", "0", "0", "0", "1", "0"]
    shared.PlaneOrientationSequence = DicomSequence([orient])
    voi = Dataset()
    voi.WindowCenter = [_ds_str(c) for c, _, _ in plan.windows]
    voi.WindowWidth = [_ds_str(w) for _, w, _ in plan.windows]
    voi.WindowCenterWidthExplanation = [e for _, _, e in plan.windows]
    shared.FrameVOILUTSequence = DicomSequence([voi])
    if modality == "CT":
        pvt = Dataset()
        pvt.RescaleIntercept = _ds_str(frames[0][1])
        pvt.RescaleSlope = "1"
        pvt.RescaleType = "HU"
        shared.PixelValueTransformationSequence = DicomSequence([pvt])
    ds.SharedFunctionalGroupsSequence = DicomSequence([shared])
    x0, y0 = grid.origin
    per_frame = []
    for i, z in enumerate(plan.z_positions):
        item = Dataset()
        pos = Dataset()
        pos.ImagePositionPatient = [_ds_str(x0), _ds_str(y0), _ds_str(float(z))]
        item.PlanePositionSequence = DicomSequence([pos])
        content = Dataset()
        content.FrameAcquisitionNumber = 1
        content.InStackPositionNumber = i + 1
        content.StackID = "1"
        content.DimensionIndexValues = [1, i + 1]
        item.FrameContentSequence = DicomSequence([content])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = DicomSequence(per_frame)
    dim_org = Dataset()
    dim_org.DimensionOrganizationUID = _uid("dimorg", series_uid)
    ds.DimensionOrganizationSequence = DicomSequence([dim_org])
    dims = []
    for pointer in ("StackID", "InStackPositionNumber"):
        d = Dataset()
        d.DimensionOrganizationUID = dim_org.DimensionOrganizationUID
        d.DimensionIndexPointer = pydicom.datadict.tag_for_keyword(pointer)
        d.FunctionalGroupPointer = pydicom.datadict.tag_for_keyword("FrameContentSequence")
        dims.append(d)
    ds.DimensionIndexSequence = DicomSequence(dims)
    stack = np.stack([f for f, _ in frames])
    _set_pixels(ds, stack, signed=signed, bits_stored=16 if signed else 12)
    return ds


# ---------------------------------------------------------------------------
# Secondary capture and dose report (kept by the intake, not counted as images)


def _reference_dataset(datasets: Sequence[Dataset]) -> Dataset:
    for ds in datasets:
        if "StudyInstanceUID" in ds:
            return ds
    raise ValueError("no study to attach to: give the study's datasets")


def make_secondary_capture(
    study: Sequence[Dataset], *, seed: int = 0, transfer_syntax: str = ExplicitVRLittleEndian
) -> Dataset:
    """An 8-bit Secondary Capture (PS3.3 A.8), e.g. a scanner's dose screen, in ``study``.

    Besides :data:`SUPPORTED_TRANSFER_SYNTAXES`, ``transfer_syntax`` may be
    JPEG Baseline (1.2.840.10008.1.2.4.50), encoded with Pillow, as many
    hospital CDs store their screen captures.
    """
    ref = _reference_dataset(study)
    series_uid = _uid("sc-series", ref.StudyInstanceUID, seed)
    sop = _uid("sc", series_uid)
    ds = Dataset()
    ds.file_meta = _file_meta(SECONDARY_CAPTURE_IMAGE_STORAGE, sop, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    for kw in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDescription",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
    ):
        setattr(ds, kw, ref.get(kw, ""))
    ds.SOPClassUID = SECONDARY_CAPTURE_IMAGE_STORAGE
    ds.SOPInstanceUID = sop
    ds.Modality = "OT"
    ds.ConversionType = "WSD"
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 900
    ds.SeriesDescription = "DOSE SCREEN"
    ds.InstanceNumber = 1
    ds.PatientOrientation = ""
    ds.ImageType = ["DERIVED", "SECONDARY"]
    img = np.zeros((256, 256), np.uint8)
    img[16:240:24, 16:240] = 200  # a table of lines
    img[16:240, 16:240:56] = 200
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.Rows, ds.Columns = img.shape
    ds.BitsAllocated = 8
    ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.PixelData = img.tobytes()
    ds["PixelData"].VR = "OB"
    ts = UID(transfer_syntax)
    if ts == JPEGBaseline8Bit:
        return _jpeg_baseline(ds, img)
    if ts not in SUPPORTED_TRANSFER_SYNTAXES:
        raise ValueError(f"unsupported transfer syntax {ts} ({ts.name})")
    return _encode(ds, ts)


def _jpeg_baseline(ds: Dataset, img: np.ndarray) -> Dataset:
    """Encapsulate a Pillow JPEG of an 8-bit image (PS3.5 A.4.1, JPEG Process 1)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img, mode="L").save(buf, format="JPEG", quality=90)
    ds.PixelData = encapsulate([buf.getvalue()])
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    ds.LossyImageCompression = "01"
    ds.LossyImageCompressionMethod = "ISO_10918_1"
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    return ds


def _code(value: str, scheme: str, meaning: str) -> Dataset:
    item = Dataset()
    item.CodeValue = value
    item.CodingSchemeDesignator = scheme
    item.CodeMeaning = meaning
    return item


def _num(concept: Dataset, value: float, unit: Dataset) -> Dataset:
    item = Dataset()
    item.RelationshipType = "CONTAINS"
    item.ValueType = "NUM"
    item.ConceptNameCodeSequence = DicomSequence([concept])
    mv = Dataset()
    mv.NumericValue = _ds_str(value)
    mv.MeasurementUnitsCodeSequence = DicomSequence([unit])
    item.MeasuredValueSequence = DicomSequence([mv])
    return item


def make_ct_dose_report(study: Sequence[Dataset], *, seed: int = 0) -> Dataset:
    """A minimal X-Ray Radiation Dose SR (PS3.3 A.35.8; TID 10011 root, CTDIvol and DLP)."""
    ref = _reference_dataset(study)
    series_uid = _uid("sr-series", ref.StudyInstanceUID, seed)
    sop = _uid("sr", series_uid)
    ds = Dataset()
    ds.file_meta = _file_meta(XRAY_DOSE_SR_STORAGE, sop, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    for kw in (
        "StudyDate",
        "StudyTime",
        "AccessionNumber",
        "ReferringPhysicianName",
        "StudyDescription",
        "PatientName",
        "PatientID",
        "PatientBirthDate",
        "PatientSex",
        "StudyInstanceUID",
        "StudyID",
    ):
        setattr(ds, kw, ref.get(kw, ""))
    ds.SOPClassUID = XRAY_DOSE_SR_STORAGE
    ds.SOPInstanceUID = sop
    ds.Modality = "SR"
    ds.Manufacturer = _MANUFACTURER
    ds.SeriesInstanceUID = series_uid
    ds.SeriesNumber = 997
    ds.SeriesDescription = "DOSE REPORT"
    ds.InstanceNumber = 1
    ds.ContentDate = ref.get("StudyDate", "")
    ds.ContentTime = ref.get("StudyTime", "")
    ds.ReferencedPerformedProcedureStepSequence = DicomSequence([])
    ds.PerformedProcedureCodeSequence = DicomSequence([])
    ds.CompletionFlag = "COMPLETE"
    ds.VerificationFlag = "UNVERIFIED"
    ds.ValueType = "CONTAINER"
    ds.ContinuityOfContent = "SEPARATE"
    ds.ConceptNameCodeSequence = DicomSequence(
        [_code("113701", "DCM", "X-Ray Radiation Dose Report")]
    )
    template = Dataset()
    template.MappingResource = "DCMR"
    template.TemplateIdentifier = "10011"
    ds.ContentTemplateSequence = DicomSequence([template])
    mgy = _code("mGy", "UCUM", "mGy")
    mgycm = _code("mGy.cm", "UCUM", "mGy.cm")
    ds.ContentSequence = DicomSequence(
        [
            _num(_code("113830", "DCM", "Mean CTDIvol"), 9.8 + (seed % 7) / 10, mgy),
            _num(_code("113838", "DCM", "DLP"), 412.0 + seed % 50, mgycm),
        ]
    )
    return ds


# ---------------------------------------------------------------------------
# Encoding


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


# ---------------------------------------------------------------------------
# Writing: plain folders and PDI CDs


def write_study(datasets: Iterable[Dataset], folder: str | Path) -> list[Path]:
    """Write each instance as ``<series number>/<instance number>.dcm`` under ``folder``."""
    root = Path(folder)
    paths = []
    for ds in datasets:
        path = root / f"S{int(ds.SeriesNumber):03d}" / f"I{int(ds.InstanceNumber):05d}.dcm"
        path.parent.mkdir(parents=True, exist_ok=True)
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


_README = """\
READROOM SYNTHETIC IMAGING - PATIENT CD

This disc holds a synthetic (invented) imaging study in DICOM format,
written according to the IHE Portable Data for Imaging (PDI) profile.
The DICOMDIR file at the root indexes the images in the DICOM folder.
No real patient data is on this disc.
"""

_AUTORUN = "[autorun]\r\nopen=VIEWER\\VIEWER.EXE\r\nicon=VIEWER\\VIEWER.EXE,0\r\n"


def write_cd(datasets: Iterable[Dataset], folder: str | Path, *, junk_files: bool = True) -> Path:
    """Write an IHE PDI CD image into ``folder`` (created) and return it.

    ``DICOMDIR`` at the root (PS3.10 §8.6, PS3.3 F.3 Basic Directory IOD)
    references the instances at ``DICOM/PT000000/ST000000/SE000000/IM000000``:
    File IDs of upper-case components of at most 8 characters, no extension
    (PS3.10 §8.2, PS3.12 Annex F). With ``junk_files`` the usual companions a
    hospital CD carries are added beside them: README.TXT (required by PDI),
    AUTORUN.INF, a viewer stub, an HTML index.
    """
    root = Path(folder)
    root.mkdir(parents=True, exist_ok=True)
    if (root / "DICOMDIR").exists():
        raise FileExistsError(f"{root / 'DICOMDIR'} exists")
    items = list(datasets)
    with tempfile.TemporaryDirectory(prefix="rr-cd-") as tmp:
        stage = Path(tmp) / "fs"
        fs = FileSet()
        fs.ID = "READROOM_SYN"
        fs.UID = _uid("fileset", *sorted(str(ds.SOPInstanceUID) for ds in items))
        for i, ds in enumerate(items):
            path = Path(tmp) / f"in{i:06d}.dcm"
            ds.save_as(path, enforce_file_format=True)
            fs.add(path)
        fs.write(stage)
        # Move the instances under DICOM/ and rewrite the DICOMDIR with the new
        # File IDs; pydicom's writer recomputes every record offset.
        loaded = FileSet(stage / "DICOMDIR")
        (root / "DICOM").mkdir(exist_ok=True)
        for instance in loaded:
            rel = Path(instance.FileID)
            dst = root / "DICOM" / rel
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(stage / rel, dst)
            instance.node._record.ReferencedFileID = ["DICOM", *rel.parts]
        with open(root / "DICOMDIR", "wb") as fp:
            loaded._write_dicomdir(DicomFileLike(fp))
    (root / "README.TXT").write_text(_README.replace("\n", "\r\n"), encoding="ascii")
    if junk_files:
        (root / "AUTORUN.INF").write_text(_AUTORUN, encoding="ascii")
        viewer = root / "VIEWER"
        viewer.mkdir(exist_ok=True)
        (viewer / "VIEWER.EXE").write_bytes(b"MZ\x90\x00\x03\x00\x00\x00synthetic stub")
        (root / "INDEX.HTM").write_text(
            "<html><head><title>Patient CD</title></head><body>"
            "<p>Synthetic study. Open the DICOM folder with a DICOM viewer.</p>"
            "</body></html>\r\n",
            encoding="ascii",
        )
    return root


def zip_cd(folder: str | Path, destination: str | Path | None = None) -> bytes | Path:
    """Zip a CD folder (deterministic entry order and times): bytes, or a path if given one."""
    root = Path(folder)
    buf: io.BytesIO | None = None
    target: Path | io.BytesIO
    if destination is None:
        buf = io.BytesIO()
        target = buf
    else:
        target = Path(destination)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), (2020, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes())
    return buf.getvalue() if buf is not None else Path(destination)  # type: ignore[arg-type]


def generate(
    kind: Literal["ct", "mr"] = "ct",
    out: str | Path = "synthetic-study",
    *,
    cd: bool = True,
    slices: int | None = None,
    seed: int = 0,
    patient: SyntheticPatient | None = None,
    study_date: date | None = None,
    transfer_syntax: str = ExplicitVRLittleEndian,
    enhanced: bool = False,
    extras: bool = True,
    zip_output: bool = False,
) -> Path:
    """Entry point for ``readroom-server demo make-study``: write a study and return its path.

    ``cd`` writes a PDI CD layout (else a plain folder of ``.dcm`` files);
    ``extras`` adds a secondary capture and (CT) a dose report; ``zip_output``
    also writes ``<out>.zip`` and returns that path.
    """
    out = Path(out)
    if kind == "ct":
        datasets = make_ct_study(
            patient=patient,
            slices=slices or 60,
            seed=seed,
            study_date=study_date,
            transfer_syntax=transfer_syntax,
            enhanced=enhanced,
        )
    elif kind == "mr":
        datasets = make_mr_study(
            patient=patient,
            slices=slices or 30,
            seed=seed,
            study_date=study_date,
            transfer_syntax=transfer_syntax,
            enhanced=enhanced,
        )
    else:
        raise ValueError(f"kind must be 'ct' or 'mr', not {kind!r}")
    if extras:
        datasets.append(make_secondary_capture(datasets, seed=seed))
        if kind == "ct":
            datasets.append(make_ct_dose_report(datasets, seed=seed))
    if cd:
        write_cd(datasets, out)
    else:
        write_study(datasets, out)
    if zip_output:
        return Path(zip_cd(out, out.with_suffix(".zip")))  # type: ignore[arg-type]
    return out
