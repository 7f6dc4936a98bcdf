"""What a study is made of: the invented patient, series kinds, study context and series plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import numpy as np
from pydicom.uid import UID

from server.imaging.synthetic.encoding import SUPPORTED_TRANSFER_SYNTAXES
from server.imaging.synthetic.uids import _uid

if TYPE_CHECKING:
    from server.imaging.synthetic.mr import _MRProtocol


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
