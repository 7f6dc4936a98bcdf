"""Fees, invoices and payments of private (not OHIP-covered) cases."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from sqlalchemy.orm import Session

from server.audit.service import Actor, record_event
from server.cases import rules
from server.cases.models import Case, CaseStatus, Coverage, Payment, PaymentMethod
from server.cases.schemas import InvoiceLine, InvoiceRead
from server.cases.service import evaluate_readiness, lock_row
from server.config import Settings, get_settings
from server.db import utcnow
from server.problems import Conflict, FieldError, Invalid, NotFound

SERVICE_LINE = "Second-opinion radiology consultation"


def invoice_for(case: Case, *, settings: Settings | None = None) -> InvoiceRead:
    """The invoice of a submitted case (a covered case shows nothing owed)."""
    settings = settings or get_settings()
    if case.coverage is None:
        raise Conflict("The invoice exists once the case is submitted.", field="status")
    subtotal, tax = rules.from_cents(case.fee_amount), rules.from_cents(case.tax_amount)
    paid = rules.from_cents(case.amount_paid)
    total = subtotal + tax
    covered = " (covered by OHIP)" if case.coverage is Coverage.OHIP else ""
    lines = [InvoiceLine(description=f"{SERVICE_LINE}{covered}", amount=subtotal)]
    return InvoiceRead(
        case_id=case.id,
        coverage=case.coverage,
        currency=settings.currency,
        lines=lines,
        subtotal=subtotal,
        tax=tax,
        tax_rate=settings.tax_rate if case.coverage is Coverage.PRIVATE else Decimal("0"),
        total=total,
        paid=paid,
        balance=max(total - paid, Decimal("0.00")),
        settled=case.payment_settled,
    )


def parse_amount(text: str) -> Decimal:
    """``"508.50"`` -> ``Decimal("508.50")``; at most two decimals, more than zero."""
    try:
        amount = Decimal(text.strip().removeprefix("$").replace(",", ""))
    except InvalidOperation:
        raise ValueError("not an amount such as 508.50") from None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(rules.CENT):
        raise ValueError("not an amount such as 508.50")
    return amount


def receipt_number(payment_id: int, *, year: int) -> str:
    return f"RR{year}-{payment_id:06d}"


def record_payment(
    session: Session,
    *,
    case: Case,
    amount: Decimal,
    method: PaymentMethod,
    reference: str | None,
    actor: Actor,
    settings: Settings | None = None,
) -> Payment:
    """Record money received for a private case; readiness is re-checked. Caller commits."""
    lock_row(session, case)
    if case.coverage is not Coverage.PRIVATE:
        raise Conflict("Nothing is owed for this case.", field="amount")
    if case.status not in (
        CaseStatus.SUBMITTED,
        CaseStatus.READY,
        CaseStatus.ASSIGNED,
        CaseStatus.READING,
        CaseStatus.SIGNED,
        CaseStatus.DELIVERED,
    ):
        raise Conflict(f"A {case.status} case takes no payment.", field="status")
    balance = case.total_owed - case.amount_paid
    cents = rules.to_cents(amount)
    if balance <= 0:
        raise Conflict("This case is already paid.", field="amount")
    if cents > balance:
        raise Invalid.from_errors(
            [FieldError("amount", f"More than the balance of {rules.from_cents(balance)}.")]
        )
    now = utcnow()
    payment = Payment(
        case_id=case.id,
        amount=cents,
        method=method,
        reference=(reference or "").strip()[:100] or None,
        received_at=now,
        receipt_number=f"pending-{case.id}-{len(case.payments)}",
        recorded_by=actor.username,
    )
    session.add(payment)
    case.payments.append(payment)
    session.flush()
    payment.receipt_number = receipt_number(payment.id, year=now.year)
    record_event(
        session,
        actor=actor,
        action="case.payment",
        object_type="payment",
        object_id=payment.id,
        case_id=case.id,
        detail=f"{rules.from_cents(cents)} {method.value}",
    )
    evaluate_readiness(session, case=case, actor=actor, settings=settings)
    return payment


def receipt_payment(case: Case) -> Payment:
    """The payment a receipt is issued for (the last one); 404 if none."""
    if not case.payments:
        raise NotFound("No payment has been received for this case yet.", field="case_id")
    return case.payments[-1]
