"""The receipt PDF, rendered from synthetic data and read back with pypdf."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

from pypdf import PdfReader

from server.documents.receipt import ReceiptData, render_receipt

RECEIPT = ReceiptData(
    service_name="Readroom Second Opinion Radiology",
    service_address="100 Queen Street West, Toronto, ON M5H 2N2",
    hst_number="123456789 RT0001",
    receipt_number="RR2026-000042",
    issued_on=date(2026, 11, 30),
    case_id="RR-7K3QX9MZ",
    patient_name="Alex Q Testperson",
    patient_address="1 Example Street\nVancouver BC  V6B 1A1",
    service_date=date(2026, 11, 20),
    description="Second-opinion radiology consultation",
    amount=Decimal("450.00"),
    tax=Decimal("58.50"),
    tax_rate=Decimal("0.13"),
    paid=Decimal("508.50"),
    payment_method="card",
    payment_reference="AUTH-778899",
    paid_on=date(2026, 11, 29),
)


def test_receipt_reads_back() -> None:
    pdf = render_receipt(RECEIPT)
    assert pdf.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(pdf))
    assert len(reader.pages) == 1
    text = reader.pages[0].extract_text()
    for expected in (
        "Readroom Second Opinion Radiology",
        "100 Queen Street West, Toronto, ON M5H 2N2",
        "HST registration number: 123456789 RT0001",
        "OFFICIAL RECEIPT",
        "RR2026-000042",
        "RR-7K3QX9MZ",
        "Alex Q Testperson",
        "Vancouver BC",
        "2026-11-20",
        "$450.00 CAD",
        "HST (13%)",
        "$58.50 CAD",
        "$508.50 CAD",
        "AUTH-778899",
        "2026-11-29",
    ):
        assert expected in text, expected
    assert reader.metadata.title == "Receipt RR2026-000042"


def test_receipt_without_reference() -> None:
    from dataclasses import replace

    text = PdfReader(io.BytesIO(render_receipt(replace(RECEIPT, payment_reference=None))))
    assert "Reference" in text.pages[0].extract_text()
