"""The demo: synthetic users and cases, and ``make demo``'s server + workstation.

Everything here is invented (synthetic patients, ``example.test`` addresses,
555 phone numbers). The demo passwords are printed on purpose: this data
directory is for trying Readroom out, never for patients.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import uvicorn
from reportlab.lib.pagesizes import letter
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy import select
from sqlalchemy.orm import Session

from server import migrate
from server.accounts.models import Role, User
from server.accounts.service import add_user
from server.accounts.tokens import issue_token
from server.app import create_app, open_blob_store
from server.audit.service import Actor
from server.cases.models import Case, ReferralSource, Subspecialty
from server.cases.radiologists import set_profile
from server.cases.referrals import attach_referral
from server.cases.service import create_case, submit_case
from server.config import Settings, get_settings
from server.db import make_engine, make_sessionmaker
from server.imaging.ingest import ingest_candidates
from server.imaging.models import UploadKind
from server.imaging.synthetic import (
    SyntheticPatient,
    make_ct_study,
    make_mr_study,
    write_cd,
    zip_cd,
)
from server.imaging.unpack import iter_candidates
from server.storage import BlobStore, create_key

DEMO_PASSWORD = "sunlit harbour lanterns 2026!"  # noqa: S105  (demo data, printed on purpose)
DEMO_ACTOR = Actor(username="demo", role="admin", client_addr="console")


@dataclass(frozen=True)
class DemoPatient:
    username: str
    synthetic: SyntheticPatient
    details: dict[str, str]
    kind: str


def _details(
    family: str, given: str, birth: str, sex: str, question: str, exam: str
) -> dict[str, str]:
    return {
        "patient_family_name": family,
        "patient_given_names": given,
        "patient_birth_date": birth,
        "patient_sex": sex,
        "patient_address_line1": "1 Example Street",
        "patient_city": "Toronto",
        "patient_province": "ON",
        "patient_postal_code": "M5H 2N2",
        "patient_phone": "416-555-0123",
        "patient_email": f"{given.lower()}@example.test",
        "patient_health_card_number": "9876-543-217",
        "patient_health_card_version": "AB",
        "physician_name": "Dr. Sam Example",
        "physician_cpso_number": "12345",
        "physician_address": "2 Clinic Road, Toronto, ON M4W 1A1",
        "physician_phone": "(416) 555-0100",
        "physician_fax": "416-555-0199",
        "clinical_question": question,
        "exam_requested": exam,
    }


DEMO_PATIENTS = (
    DemoPatient(
        username="demo.patient",
        synthetic=SyntheticPatient(
            name="SYNTHETIC^ALEX", patient_id="SYN-0001", birth_date="19700131", sex="F"
        ),
        details=_details(
            "Synthetic",
            "Alex",
            "1970-01-31",
            "F",
            "Incidental liver lesion on ultrasound; please characterise.",
            "CT chest/abdomen",
        ),
        kind="ct",
    ),
    DemoPatient(
        username="demo.patient2",
        synthetic=SyntheticPatient(
            name="SYNTHETIC^JORDAN",
            patient_id="SYN-0002",
            birth_date="19850615",
            sex="M",
            accession_number="SYNACC0002",
        ),
        details=_details(
            "Synthetic",
            "Jordan",
            "1985-06-15",
            "M",
            "Headaches for three months; white matter lesions?",
            "MR brain",
        ),
        kind="mr",
    ),
)


def _user(session: Session, username: str) -> User | None:
    return session.scalars(select(User).where(User.username == username)).first()


def _referral_pdf(patient: DemoPatient) -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=letter)
    canvas.setFont("Helvetica-Bold", 14)
    canvas.drawString(72, 720, "Referral for a second opinion (synthetic demo)")
    canvas.setFont("Helvetica", 11)
    details = patient.details
    lines = [
        f"Patient: {details['patient_given_names']} {details['patient_family_name']}",
        f"Exam: {details['exam_requested']}",
        f"Question: {details['clinical_question']}",
        f"Referring physician: {details['physician_name']}",
        f"CPSO: {details['physician_cpso_number']}",
    ]
    for offset, line in enumerate(lines):
        canvas.drawString(72, 690 - 18 * offset, line)
    canvas.save()
    return buffer.getvalue()


def _ingest_study(
    session: Session, *, case_id: str, patient: DemoPatient, blobs: BlobStore, settings: Settings
) -> None:
    today = date.today()
    if patient.kind == "ct":
        datasets = make_ct_study(patient=patient.synthetic, slices=120, study_date=today, seed=1)
    else:
        datasets = make_mr_study(patient=patient.synthetic, slices=24, study_date=today, seed=2)
    with tempfile.TemporaryDirectory(prefix="readroom-demo-") as work:
        cd = write_cd(datasets, Path(work) / "CD")
        archive = Path(zip_cd(cd, Path(work) / "cd.zip"))
        candidates = iter_candidates(
            archive, kind=UploadKind.ZIP, name="cd.zip", settings=settings, workdir=Path(work)
        )
        ingest_candidates(
            session,
            case_id=case_id,
            candidates=candidates,
            blobs=blobs,
            settings=settings,
            actor=DEMO_ACTOR,
        )


def seed_demo(settings: Settings | None = None) -> str:
    """Demo users and two cases assigned to the demo radiologist; a no-op when present."""
    settings = settings or get_settings()
    engine = make_engine(settings.sqlalchemy_url)
    blobs = open_blob_store(settings)
    session = make_sessionmaker(engine)()
    try:
        if _user(session, "demo.radiologist") is not None:
            return "demo data already present"
        add_user(
            session,
            actor=DEMO_ACTOR,
            username="demo.admin",
            email="admin@example.test",
            full_name="Demo Admin",
            role=Role.ADMIN,
            password=DEMO_PASSWORD,
            settings=settings,
        )
        radiologist = add_user(
            session,
            actor=DEMO_ACTOR,
            username="demo.radiologist",
            email="radiologist@example.test",
            full_name="Dr. Demo Radiologist",
            role=Role.RADIOLOGIST,
            password=DEMO_PASSWORD,
            settings=settings,
        ).user
        set_profile(
            session,
            user=radiologist,
            actor=DEMO_ACTOR,
            subspecialties=list(Subspecialty),
            province="ON",
            capacity=40,
        )
        session.commit()
        for patient in DEMO_PATIENTS:
            user = add_user(
                session,
                actor=DEMO_ACTOR,
                username=patient.username,
                email=patient.details["patient_email"],
                full_name=f"{patient.details['patient_given_names']} Synthetic",
                role=Role.PATIENT,
                password=DEMO_PASSWORD,
                settings=settings,
            ).user
            actor = Actor(user_id=user.id, username=user.username, role="patient")
            case = create_case(
                session, patient_user_id=user.id, details=patient.details, actor=actor
            )
            submit_case(session, case=case, actor=actor, settings=settings)
            session.commit()
            case_id = case.id
            _ingest_study(session, case_id=case_id, patient=patient, blobs=blobs, settings=settings)
            case = session.get_one(Case, case_id)
            ref = blobs.put_bytes(_referral_pdf(patient))
            attach_referral(
                session,
                case=case,
                sha256=ref.sha256,
                size=ref.size,
                source=ReferralSource.UPLOAD,
                actor=actor,
            )
            session.commit()
    finally:
        session.close()
        engine.dispose()
    return (
        "demo users: demo.admin, demo.radiologist, demo.patient, demo.patient2 "
        f"(password: {DEMO_PASSWORD!r}; staff TOTP secrets are in the database, "
        "the demo signs the radiologist in with a token)"
    )


def _prepare(settings: Settings) -> None:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.blob_dir.mkdir(exist_ok=True)
    create_key(settings.key_file)
    migrate.upgrade(settings.sqlalchemy_url)


class _Server(uvicorn.Server):
    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list | None = None) -> None:
        await super().startup(sockets)
        self.ready.set()


def run_demo(*, port: int | None = None) -> int:
    """Init, seed, serve on loopback, and run the workstation until it quits."""
    settings = get_settings()
    port = port or settings.port
    print(f"preparing the demo data directory {settings.data_dir.resolve()} …")
    _prepare(settings)
    print(seed_demo(settings))
    app = create_app(settings)
    server = _Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    if not server.ready.wait(timeout=30):
        print("readroom-server: the demo server did not start", file=sys.stderr)
        return 2
    with make_sessionmaker(app.state.engine)() as session:
        radiologist = _user(session, "demo.radiologist")
        assert radiologist is not None
        token = issue_token(session, user=radiologist, settings=settings)
        session.commit()
    url = f"http://127.0.0.1:{port}"
    print(f"server on {url}; opening the workstation as demo.radiologist")
    env = {**os.environ, "READROOM_SERVER_URL": url, "READROOM_TOKEN": token}
    try:
        # The workstation is its own program (the server never imports it).
        return subprocess.call([sys.executable, "-m", "workstation.cli"], env=env)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
