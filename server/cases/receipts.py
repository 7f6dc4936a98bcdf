"""A case's payment as a receipt PDF (the rendering is in :mod:`server.documents.receipt`)."""

from __future__ import annotations

from server.cases import rules
from server.cases.billing import SERVICE_LINE
from server.cases.models import Case, Payment
from server.config import Settings
from server.db import utcnow
from server.documents.receipt import ReceiptData, render_receipt


def receipt_data(case: Case, *, payment: Payment, settings: Settings) -> ReceiptData:
    """What the receipt for ``payment`` says."""
    served_at = case.signed_at or case.submitted_at or case.created_at
    street = ", ".join(p for p in (case.patient_address_line1, case.patient_address_line2) if p)
    town = " ".join(p for p in (case.patient_city, case.patient_province) if p)
    address = "\n".join(
        p for p in (street, f"{town}  {case.patient_postal_code or ''}".strip()) if p
    )
    return ReceiptData(
        service_name=settings.service_name,
        service_address=settings.service_address,
        hst_number=settings.service_hst_number,
        receipt_number=payment.receipt_number,
        issued_on=utcnow().date(),
        case_id=case.id,
        patient_name=f"{case.patient_given_names or ''} {case.patient_family_name or ''}".strip(),
        patient_address=address,
        service_date=served_at.date(),
        description=SERVICE_LINE,
        amount=rules.from_cents(case.fee_amount),
        tax=rules.from_cents(case.tax_amount),
        tax_rate=settings.tax_rate,
        paid=rules.from_cents(case.amount_paid),
        payment_method=payment.method.value,
        payment_reference=payment.reference,
        paid_on=payment.received_at.date(),
        currency=settings.currency,
        referred_by=_physician(case),
    )


def _physician(case: Case) -> str | None:
    if not case.physician_name:
        return None
    cpso = f" (CPSO {case.physician_cpso_number})" if case.physician_cpso_number else ""
    return f"{case.physician_name}{cpso}"


def receipt_pdf(case: Case, *, payment: Payment, settings: Settings) -> bytes:
    return render_receipt(receipt_data(case, payment=payment, settings=settings))
