"""The IODs written: SOP Class UIDs and the Type 1 attributes of the CT and MR Image IODs."""

from __future__ import annotations

from pydicom.uid import UID

CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2")
ENHANCED_CT_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.2.1")
MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4")
ENHANCED_MR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.4.1")
SECONDARY_CAPTURE_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.7")
XRAY_DOSE_SR_STORAGE = UID("1.2.840.10008.5.1.4.1.1.88.67")


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
