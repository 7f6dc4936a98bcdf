"""Enhanced (multi-frame) CT and MR instances (PS3.3 A.38 / A.36)."""

from __future__ import annotations

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID

from server.imaging.synthetic.headers import _base_dataset, _ds_str, _set_pixels
from server.imaging.synthetic.iod import ENHANCED_CT_IMAGE_STORAGE, ENHANCED_MR_IMAGE_STORAGE
from server.imaging.synthetic.phantom import _Grid
from server.imaging.synthetic.study import _SeriesPlan, _StudyContext
from server.imaging.synthetic.uids import _uid


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
