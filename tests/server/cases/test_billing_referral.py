"""Invoice, payment and receipt; the referral upload checked by content."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas
from sqlalchemy.orm import Session

from server.audit.service import SYSTEM
from server.cases import billing
from server.cases.models import Case, CaseStatus, PaymentMethod, ReferralSource
from server.config import Settings
from server.problems import Conflict, Invalid
from server.storage import EncryptedFileStore
from tests.server.cases.conftest import BRITISH_COLUMBIA, ONTARIO, accept_images, add_referral
from tests.server.factories import Account


def a_pdf(text: str = "Referral for a second opinion") -> bytes:
    buffer = io.BytesIO()
    pdf = Canvas(buffer)
    pdf.drawString(72, 720, text)
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def submitted(account: Account, details: dict[str, str]) -> str:
    case_id = account.http.post("/cases", json=details).json()["id"]
    response = account.http.post(f"/cases/{case_id}/submit")
    assert response.status_code == 200, response.text
    return case_id


# --------------------------------------------------------------------------- fee and receipt


def test_invoice_payment_and_receipt(patient: Account, db: Session) -> None:
    case_id = submitted(patient, BRITISH_COLUMBIA)
    invoice = patient.http.get(f"/cases/{case_id}/invoice").json()
    assert invoice["coverage"] == "private"
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == ("450.00", "58.50", "508.50")
    assert invoice["balance"] == "508.50"
    assert invoice["settled"] is False
    assert patient.http.get(f"/cases/{case_id}/receipt.pdf").status_code == 404

    case = db.get(Case, case_id)
    accept_images(db, case)
    add_referral(db, case)
    assert case.status is CaseStatus.SUBMITTED  # payment still owed
    payment = billing.record_payment(
        db,
        case=case,
        amount=Decimal("508.50"),
        method=PaymentMethod.CARD,
        reference="AUTH-778899",
        actor=SYSTEM,
    )
    db.commit()
    assert case.status is CaseStatus.READY  # nobody to assign it to
    assert patient.http.get(f"/cases/{case_id}/invoice").json()["settled"] is True

    response = patient.http.get(f"/cases/{case_id}/receipt.pdf")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    settings = Settings()
    for expected in (
        settings.service_name,
        settings.service_address,
        settings.service_hst_number,
        "OFFICIAL RECEIPT",
        payment.receipt_number,
        case_id,
        "Alex Q Testperson",
        "Vancouver BC",
        "V6B 1A1",
        "$450.00 CAD",
        "HST (13%)",
        "$58.50 CAD",
        "$508.50 CAD",
        "card",
        "AUTH-778899",
        "Dr. Sam Example (CPSO 12345)",
        case.submitted_at.date().isoformat(),
    ):
        assert expected in text, expected


def test_covered_case_owes_nothing(patient: Account, db: Session) -> None:
    case_id = submitted(patient, ONTARIO)
    invoice = patient.http.get(f"/cases/{case_id}/invoice").json()
    assert invoice["total"] == "0.00"
    assert invoice["settled"] is True
    with pytest.raises(Conflict):
        billing.record_payment(
            db,
            case=db.get(Case, case_id),
            amount=Decimal("1.00"),
            method=PaymentMethod.CASH,
            reference=None,
            actor=SYSTEM,
        )


def test_overpayment_and_partial_payment(patient: Account, db: Session) -> None:
    case = db.get(Case, submitted(patient, BRITISH_COLUMBIA))
    with pytest.raises(Invalid):
        billing.record_payment(
            db,
            case=case,
            amount=Decimal("600.00"),
            method=PaymentMethod.CARD,
            reference=None,
            actor=SYSTEM,
        )
    db.rollback()
    billing.record_payment(
        db,
        case=case,
        amount=Decimal("500.00"),
        method=PaymentMethod.CHEQUE,
        reference="cheque 12",
        actor=SYSTEM,
    )
    db.commit()
    assert not case.payment_settled
    billing.record_payment(
        db,
        case=case,
        amount=Decimal("8.50"),
        method=PaymentMethod.CASH,
        reference=None,
        actor=SYSTEM,
    )
    db.commit()
    assert case.payment_settled
    assert len({p.receipt_number for p in case.payments}) == 2


@pytest.mark.parametrize(
    ("text", "ok"),
    [
        ("508.50", True),
        ("$1,000.00", True),
        ("0", False),
        ("-5", False),
        ("1.005", False),
        ("abc", False),
        ("NaN", False),
    ],
)
def test_parse_amount(text: str, ok: bool) -> None:
    if ok:
        assert billing.parse_amount(text) > 0
    else:
        with pytest.raises(ValueError, match="amount"):
            billing.parse_amount(text)


# --------------------------------------------------------------------------- referral


def test_referral_upload_is_stored_encrypted(
    patient: Account, db: Session, data_dir, live_app
) -> None:
    case_id = submitted(patient, BRITISH_COLUMBIA)
    body = a_pdf()
    response = patient.http.put(
        f"/cases/{case_id}/referral", content=body, headers={"Content-Type": "text/plain"}
    )  # the content type is not trusted either way
    assert response.status_code == 201, response.text
    ref = response.json()
    assert ref["source"] == "upload"
    assert ref["size"] == len(body)
    store: EncryptedFileStore = live_app.state.blobs
    assert store.read_bytes(ref["sha256"]) == body
    raw = next(data_dir.joinpath("blobs").rglob(ref["sha256"])).read_bytes()
    assert b"%PDF-" not in raw  # encrypted at rest
    missing = patient.http.get(f"/cases/{case_id}").json()["missing"]
    assert not any(m.startswith("Referral") for m in missing)
    assert db.get(Case, case_id).referrals[0].sha256 == ref["sha256"]


@pytest.mark.parametrize(
    "content",
    [
        b"GIF89a not a pdf at all",
        b"%PDF-1.7\nthis is not really a PDF\n%%EOF",
        b"",
    ],
    ids=["gif", "fake-pdf", "empty"],
)
def test_referral_checked_by_content(patient: Account, content: bytes) -> None:
    case_id = submitted(patient, BRITISH_COLUMBIA)
    response = patient.http.put(
        f"/cases/{case_id}/referral",
        content=content,
        headers={"Content-Type": "application/pdf"},
    )
    assert response.status_code == 415, response.text
    assert response.json()["field"] == "referral"


def test_referral_too_large(patient: Account, settings: Settings, monkeypatch) -> None:
    case_id = submitted(patient, BRITISH_COLUMBIA)
    body = a_pdf("x" * 50)
    monkeypatch.setattr(settings, "referral_max_bytes", len(body) - 1)
    response = patient.http.put(f"/cases/{case_id}/referral", content=body)
    assert response.status_code == 413
    assert response.json()["status"] == 413


def test_referral_of_another_patient_is_404(patient: Account, make_account) -> None:
    from server.accounts.models import Role

    case_id = submitted(patient, BRITISH_COLUMBIA)
    other = make_account(Role.PATIENT)
    assert other.http.put(f"/cases/{case_id}/referral", content=a_pdf()).status_code == 404


def test_referral_after_assignment_is_a_conflict(db: Session, patient: Account) -> None:
    case_id = submitted(patient, BRITISH_COLUMBIA)
    case = db.get(Case, case_id)
    case.status = CaseStatus.SIGNED
    db.commit()
    response = patient.http.put(f"/cases/{case_id}/referral", content=a_pdf())
    assert response.status_code == 409


def test_fax_referral_recorded(db: Session, patient: Account) -> None:
    case = db.get(Case, submitted(patient, BRITISH_COLUMBIA))
    add_referral(db, case, source=ReferralSource.FAX)
    assert case.referrals[0].source is ReferralSource.FAX
    assert case.referrals[0].sha256 is None
