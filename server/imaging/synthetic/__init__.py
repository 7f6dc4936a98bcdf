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

from datetime import date
from pathlib import Path
from typing import Literal

from pydicom.uid import ExplicitVRLittleEndian

from server.imaging.synthetic.anatomy import ct_hu_slice
from server.imaging.synthetic.cd import write_cd, write_study, zip_cd
from server.imaging.synthetic.ct import make_ct_study
from server.imaging.synthetic.encoding import SUPPORTED_TRANSFER_SYNTAXES, to_bytes
from server.imaging.synthetic.extras import make_ct_dose_report, make_secondary_capture
from server.imaging.synthetic.iod import (
    CT_IMAGE_STORAGE,
    CT_TYPE1_KEYWORDS,
    ENHANCED_CT_IMAGE_STORAGE,
    ENHANCED_MR_IMAGE_STORAGE,
    MR_IMAGE_STORAGE,
    MR_TYPE1_KEYWORDS,
    SECONDARY_CAPTURE_IMAGE_STORAGE,
    XRAY_DOSE_SR_STORAGE,
)
from server.imaging.synthetic.mr import make_mr_study
from server.imaging.synthetic.study import CTSeries, MRSeries, SyntheticPatient

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
