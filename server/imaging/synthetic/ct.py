"""Synthetic CT studies: a scout and axial soft-tissue and lung series (CT Image IOD, PS3.3 A.3)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
from pydicom.dataset import Dataset
from pydicom.uid import UID, ExplicitVRLittleEndian

from server.imaging.synthetic.anatomy import (
    _CT_COVERAGE_MM,
    _CT_FOV_MM,
    _LUNG_CENTRE_MM,
    _ct_shapes,
)
from server.imaging.synthetic.encoding import _encode
from server.imaging.synthetic.enhanced import _enhanced
from server.imaging.synthetic.headers import (
    _base_dataset,
    _ds_str,
    _image_plane,
    _set_pixels,
    _window_tags,
)
from server.imaging.synthetic.iod import CT_IMAGE_STORAGE
from server.imaging.synthetic.phantom import _Grid, _noise_bank, _noisy, _Phantom
from server.imaging.synthetic.study import (
    CTSeries,
    SyntheticPatient,
    _context,
    _SeriesPlan,
    _StudyContext,
)
from server.imaging.synthetic.uids import _uid


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
