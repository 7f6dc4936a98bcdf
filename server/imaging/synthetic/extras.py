"""Non-image instances of a study: a Secondary Capture and an X-Ray Radiation Dose SR
(kept by the intake, not counted as images)."""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.sequence import Sequence as DicomSequence
from pydicom.uid import UID, ExplicitVRLittleEndian, JPEGBaseline8Bit

from server.imaging.synthetic.encoding import SUPPORTED_TRANSFER_SYNTAXES, _encode
from server.imaging.synthetic.headers import _MANUFACTURER, _ds_str, _file_meta
from server.imaging.synthetic.iod import SECONDARY_CAPTURE_IMAGE_STORAGE, XRAY_DOSE_SR_STORAGE
from server.imaging.synthetic.uids import _uid


def _reference_dataset(datasets: Sequence[Dataset]) -> Dataset:
    for ds in datasets:
        if "StudyInstanceUID" in ds:
            return ds
    raise ValueError("no study to attach to: give the study's datasets")


#: Patient and study attributes an added object copies from the study it joins.
_STUDY_KEYWORDS = (
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
)


def _object_in_study(ref: Dataset, *, sop_class: str, sop: str) -> Dataset:
    """A new instance of ``sop_class`` carrying ``ref``'s patient and study attributes."""
    ds = Dataset()
    ds.file_meta = _file_meta(sop_class, sop, ExplicitVRLittleEndian)
    ds.SpecificCharacterSet = "ISO_IR 100"
    for kw in _STUDY_KEYWORDS:
        setattr(ds, kw, ref.get(kw, ""))
    ds.SOPClassUID = sop_class
    ds.SOPInstanceUID = sop
    return ds


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
    ds = _object_in_study(ref, sop_class=SECONDARY_CAPTURE_IMAGE_STORAGE, sop=sop)
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
    ds = _object_in_study(ref, sop_class=XRAY_DOSE_SR_STORAGE, sop=sop)
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
