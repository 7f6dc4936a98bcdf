"""The payment receipt PDF (reportlab), fit for a private insurance claim.

Pure rendering: :func:`render_receipt` takes a :class:`ReceiptData` and returns PDF bytes;
it knows nothing of the database. Synthetic data only in tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from reportlab.lib.pagesizes import LETTER
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas

__all__ = ["ReceiptData", "render_receipt"]


@dataclass(frozen=True)
class ReceiptData:
    """Everything printed on one receipt."""

    service_name: str
    service_address: str
    hst_number: str
    receipt_number: str
    issued_on: date
    case_id: str
    patient_name: str
    patient_address: str
    service_date: date
    description: str
    amount: Decimal
    tax: Decimal
    tax_rate: Decimal
    paid: Decimal
    payment_method: str
    payment_reference: str | None
    paid_on: date
    currency: str = "CAD"
    referred_by: str | None = None

    @property
    def total(self) -> Decimal:
        return self.amount + self.tax


def _money(value: Decimal, currency: str) -> str:
    return f"${value:,.2f} {currency}"


def render_receipt(data: ReceiptData) -> bytes:
    """A one-page Letter PDF receipt."""
    buffer = io.BytesIO()
    pdf = Canvas(buffer, pagesize=LETTER, pageCompression=1)
    pdf.setTitle(f"Receipt {data.receipt_number}")
    pdf.setAuthor(data.service_name)
    pdf.setSubject("Official receipt for a private insurance claim")
    width, height = LETTER
    left, y = 0.9 * inch, height - 0.9 * inch

    def line(text: str, *, size: int = 10, bold: bool = False, gap: float = 15) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", size)
        pdf.drawString(left, y, text)
        y -= gap

    def row(label: str, value: str, *, bold: bool = False) -> None:
        nonlocal y
        pdf.setFont("Helvetica-Bold" if bold else "Helvetica", 10)
        pdf.drawString(left, y, label)
        pdf.drawRightString(width - left, y, value)
        y -= 15

    line(data.service_name, size=16, bold=True, gap=18)
    line(data.service_address)
    line(f"HST registration number: {data.hst_number}", gap=30)
    line("OFFICIAL RECEIPT", size=14, bold=True, gap=22)
    row("Receipt number", data.receipt_number)
    row("Date issued", data.issued_on.isoformat())
    row("Case", data.case_id)
    y -= 10
    line("Received from", bold=True)
    line(data.patient_name)
    for part in data.patient_address.splitlines():
        line(part)
    y -= 10
    line("Service", bold=True)
    row(data.description, _money(data.amount, data.currency))
    row("Date of service", data.service_date.isoformat())
    if data.referred_by:
        row("Referred by", data.referred_by)
    row(f"HST ({data.tax_rate * 100:.0f}%)", _money(data.tax, data.currency))
    pdf.line(left, y + 10, width - left, y + 10)
    y -= 4
    row("Total", _money(data.total, data.currency), bold=True)
    row("Amount paid", _money(data.paid, data.currency), bold=True)
    y -= 10
    line("Payment", bold=True)
    row("Paid on", data.paid_on.isoformat())
    row("Method", data.payment_method)
    row("Reference", data.payment_reference or "-")
    y -= 20
    pdf.setFont("Helvetica-Oblique", 9)
    pdf.drawString(
        left, y, "This service is not insured by OHIP. Keep this receipt for your insurer."
    )
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
