"""``readroom-server case ...`` and ``radiologist ...`` run in-process against the test database."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

import server.cli
from server.accounts.models import Role
from server.cases.models import Case, CaseStatus, RadiologistProfile, ReferralSource
from server.cases.receipts import receipt_pdf
from server.cli import context
from server.config import Settings, get_settings
from server.db import utcnow
from tests.server.cases.conftest import (
    BRITISH_COLUMBIA,
    accept_images,
    make_radiologist,
    ready_case,
    submitted_case,
)
from tests.server.factories import add_user


@dataclass
class Run:
    code: int
    out: str
    err: str


Cli = Callable[..., Run]


@pytest.fixture
def cli(
    db_url: str, data_dir: Path, db: Session, monkeypatch: pytest.MonkeyPatch, capsys
) -> Iterator[Cli]:
    """Runs a command in-process; first ends the test session's transaction (on SQLite every
    transaction holds the write lock, so an open one would block the command)."""
    monkeypatch.setenv("READROOM_DATABASE_URL", db_url)
    monkeypatch.setenv("READROOM_DATA_DIR", str(data_dir))
    get_settings.cache_clear()
    context.engine.cache_clear()

    def run(*argv: str) -> Run:
        db.commit()
        capsys.readouterr()
        try:
            code = server.cli.main(list(argv))
        except SystemExit as usage:  # argparse: a usage error
            code = int(usage.code or 0)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    yield run
    context.engine().dispose()
    get_settings.cache_clear()
    context.engine.cache_clear()


def one_line_error(result: Run, text: str) -> None:
    assert result.code == 2
    assert result.err.count("\n") == 1
    assert text in result.err


def test_payment_makes_a_private_case_ready(cli: Cli, db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    case = submitted_case(db, patient=patient, details=BRITISH_COLUMBIA)
    accept_images(db, case)
    result = cli("case", "referral", case.id, "--received")
    assert result.code == 0, result.err
    assert "case is submitted" in result.out  # payment still owed

    result = cli(
        "case",
        "payment",
        case.id,
        "--amount",
        "508.50",
        "--method",
        "card",
        "--reference",
        "AUTH-1",
    )
    assert result.code == 0, result.err
    assert "case is ready" in result.out
    db.expire_all()
    case = db.get(Case, case.id)
    assert case.status is CaseStatus.READY
    assert case.referrals[0].source is ReferralSource.FAX
    text = PdfReader(io.BytesIO(receipt_pdf(case, payment=case.payments[0], settings=Settings())))
    assert "AUTH-1" in text.pages[0].extract_text()

    one_line_error(
        cli("case", "payment", case.id, "--amount", "1.00", "--method", "cash"), "already paid"
    )


def test_payment_refusals(cli: Cli, db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    covered = submitted_case(db, patient=patient)
    one_line_error(
        cli("case", "payment", covered.id, "--amount", "10", "--method", "card"), "Nothing is owed"
    )
    one_line_error(
        cli("case", "payment", "RR-NOPE0000", "--amount", "10", "--method", "card"),
        "no case RR-NOPE0000",
    )
    bad = cli("case", "payment", covered.id, "--amount", "ten", "--method", "card")
    assert bad.code == 2
    assert "amount" in bad.err


def test_referral_file_is_checked_and_stored(cli: Cli, db: Session, tmp_path: Path) -> None:
    patient = add_user(db, role=Role.PATIENT)
    case = submitted_case(db, patient=patient)
    fake = tmp_path / "fax.pdf"
    fake.write_bytes(b"not a pdf")
    one_line_error(cli("case", "referral", case.id, "--received", "--file", str(fake)), "PDF")
    real = tmp_path / "real.pdf"
    pdf = Canvas(str(real))
    pdf.drawString(72, 720, "Faxed referral")
    pdf.save()
    result = cli("case", "referral", case.id, "--received", "--file", str(real))
    assert result.code == 0, result.err
    db.expire_all()
    assert db.get(Case, case.id).referrals[0].size == real.stat().st_size


def test_radiologist_set_assign_and_list(cli: Cli, db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    rad = add_user(db, role=Role.RADIOLOGIST, username="drneuro")
    other = add_user(db, role=Role.RADIOLOGIST, username="drbody")
    db.commit()
    waiting = ready_case(db, patient=patient)
    assert waiting.status is CaseStatus.READY

    listed = cli("case", "list", "--status", "ready")
    assert waiting.id in listed.out
    assert "1 case(s)" in listed.out

    result = cli(
        "radiologist",
        "set",
        "drneuro",
        "--subspecialty",
        "neuro",
        "--subspecialty",
        "msk",
        "--province",
        "ON",
        "--capacity",
        "25",
    )
    assert result.code == 0, result.err
    assert "msk, neuro" in result.out
    profile = db.get(RadiologistProfile, rad.id)
    assert profile.subspecialties == ["msk", "neuro"]
    assert profile.weekly_capacity == 25
    one_line_error(cli("radiologist", "set", "drneuro", "--province", "XX"), "province")
    one_line_error(
        cli("radiologist", "set", str(patient.id), "--capacity", "3"), "not a radiologist"
    )

    result = cli("case", "assign-ready")
    assert result.code == 0, result.err
    assert waiting.id in result.out
    db.expire_all()
    assert db.get(Case, waiting.id).assigned_radiologist_id == rad.id

    result = cli("case", "assign", waiting.id, "--to", "drbody")
    assert result.code == 0, result.err
    db.expire_all()
    assert db.get(Case, waiting.id).assigned_radiologist_id == other.id
    one_line_error(cli("case", "assign", waiting.id, "--to", "drbody"), "already assigned")
    one_line_error(cli("case", "assign", waiting.id, "--to", "nobody"), "no user nobody")
    one_line_error(
        cli("case", "assign", waiting.id, "--to", str(patient.id)), "not an active radiologist"
    )

    table = cli("radiologist", "list").out
    assert "drneuro" in table
    assert "msk,neuro" in table


def test_overdue_list_and_show(cli: Cli, db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    make_radiologist(db, subspecialties=("neuro",))
    late, on_time = ready_case(db, patient=patient), ready_case(db, patient=patient)
    late.due_at = utcnow() - timedelta(hours=5)
    db.commit()
    overdue = cli("case", "list", "--overdue")
    assert late.id in overdue.out
    assert on_time.id not in overdue.out
    assert "-0d05h" in overdue.out or "-0d04h" in overdue.out

    shown = cli("case", "show", late.id)
    assert shown.code == 0, shown.err
    for text in (
        "draft -> submitted",
        "submitted -> ready",
        "ready -> assigned",
        "case.create",
        "case.images",
        "case.referral",
        "audit events:",
    ):
        assert text in shown.out, text
    one_line_error(cli("case", "show", "RR-ZZZZZZZZ"), "no case")


def test_reject_cancel_and_priority(cli: Cli, db: Session) -> None:
    patient = add_user(db, role=Role.PATIENT)
    one, two = submitted_case(db, patient=patient), submitted_case(db, patient=patient)
    assert cli("case", "reject", one.id, "--reason", "Ultrasound is not read here").code == 0
    assert cli("case", "priority", two.id, "urgent").code == 0
    assert cli("case", "cancel", two.id, "--reason", "patient request").code == 0
    db.expire_all()
    assert db.get(Case, one.id).rejection_reason == "Ultrasound is not read here"
    assert db.get(Case, two.id).status is CaseStatus.CANCELLED
    one_line_error(cli("case", "cancel", one.id), "can no longer change")
    one_line_error(cli("case", "reject", two.id, "--reason", "  "), "reason")
    usage = cli("case", "list", "--status", "nonsense")
    assert usage.code == 2
