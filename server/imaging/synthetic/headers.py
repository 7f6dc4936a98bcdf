"""Attribute modules every generated instance shares: file meta, SOP Common, Patient,
General Study/Series, Equipment, Image Plane, Image Pixel and VOI LUT."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import PYDICOM_IMPLEMENTATION_UID, UID, ExplicitVRLittleEndian

from server.imaging.synthetic.phantom import _Grid
from server.imaging.synthetic.study import _StudyContext

_MANUFACTURER = "READROOM SYNTHETIC"
_STATION = "SYNTH01"
_INSTITUTION = "Readroom Synthetic Imaging"


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
