"""Cases HTTP routes: intake (patients), invoice and receipt, referral upload, the worklist
and reading lock (radiologists). HTTP only: the work is in the services."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from server.accounts.deps import (
    CurrentUser,
    PatientUser,
    Principal,
    require_roles,
)
from server.accounts.models import Role
from server.audit.service import record_case_event, record_event
from server.cases import billing, management, referrals, rules, service
from server.cases.access import cases_visible_to, load_case_for
from server.cases.models import Case
from server.cases.receipts import receipt_pdf
from server.cases.routes_reading import router as reading_router
from server.cases.schemas import (
    CaseCreate,
    CaseRead,
    CaseSummary,
    CaseUpdate,
    InvoiceRead,
    PatientDetailsRead,
    ReferralRead,
    Requirements,
    TransitionRead,
)
from server.config import Settings
from server.deps import BlobStoreDep, SessionDep, SettingsDep
from server.problems import PayloadTooLarge, problem_responses
from server.storage import BlobStore

router = APIRouter(tags=["cases"], responses=problem_responses(401, 403, 404, 409, 422))

PatientOrAdmin = Annotated[Principal, Depends(require_roles(Role.PATIENT, Role.ADMIN))]


def case_read(case: Case, *, settings: Settings) -> CaseRead:
    """The patient's view of a case, with what it still waits for."""
    referral = referrals.latest_referral(case)
    return CaseRead(
        id=case.id,
        status=case.status,
        priority=case.priority,
        created_at=case.created_at,
        submitted_at=case.submitted_at,
        ready_at=case.ready_at,
        due_at=case.due_at,
        details=PatientDetailsRead.model_validate(case),
        coverage=case.coverage,
        currency=settings.currency,
        amount_owed=rules.from_cents(case.total_owed),
        amount_paid=rules.from_cents(case.amount_paid),
        referral_received_at=referral.received_at if referral else None,
        images_accepted_count=case.images_accepted_count,
        images_accepted_at=case.images_accepted_at,
        rejection_reason=case.rejection_reason,
        missing=service.missing(case, settings=settings),
        history=[
            TransitionRead(at=e.at, from_status=e.from_status, to_status=e.to_status)
            for e in case.events
        ],
    )


@router.get("/cases/requirements", summary="What is read, what it costs, what is needed")
def requirements(settings: SettingsDep) -> Requirements:
    return Requirements(**rules.eligibility_rules(settings))


@router.post("/cases", status_code=201, summary="Open a case (a draft)")
def create_case(
    body: CaseCreate, principal: PatientUser, session: SessionDep, settings: SettingsDep
) -> CaseRead:
    case = service.create_case(
        session,
        patient_user_id=principal.user_id,
        details=body.model_dump(exclude_unset=True),
        actor=principal.actor,
    )
    session.commit()
    return case_read(case, settings=settings)


@router.get("/cases", summary="The caller's cases")
def list_cases(principal: CurrentUser, session: SessionDep) -> list[CaseSummary]:
    cases = cases_visible_to(session, principal=principal)
    return [CaseSummary.model_validate(case) for case in cases]


@router.get("/cases/{case_id}", summary="A case, with what it still waits for")
def get_case(
    case_id: str, principal: PatientOrAdmin, session: SessionDep, settings: SettingsDep
) -> CaseRead:
    case = load_case_for(session, principal=principal, case_id=case_id)
    record_case_event(
        session,
        actor=principal.actor,
        action="case.read",
        case_id=case.id,
    )
    session.commit()
    return case_read(case, settings=settings)


@router.patch("/cases/{case_id}", summary="Edit a draft")
def update_case(
    case_id: str,
    body: CaseUpdate,
    principal: PatientUser,
    session: SessionDep,
    settings: SettingsDep,
) -> CaseRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    service.update_case(
        session, case=case, details=body.model_dump(exclude_unset=True), actor=principal.actor
    )
    session.commit()
    return case_read(case, settings=settings)


@router.post("/cases/{case_id}/submit", summary="Submit a complete draft")
def submit_case(
    case_id: str, principal: PatientUser, session: SessionDep, settings: SettingsDep
) -> CaseRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    service.submit_case(session, case=case, actor=principal.actor, settings=settings)
    session.commit()
    return case_read(case, settings=settings)


@router.post("/cases/{case_id}/cancel", summary="Withdraw a case not yet with a radiologist")
def cancel_case(
    case_id: str, principal: PatientUser, session: SessionDep, settings: SettingsDep
) -> CaseRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    management.cancel_case(session, case=case, actor=principal.actor, by_patient=True)
    session.commit()
    return case_read(case, settings=settings)


@router.get("/cases/{case_id}/invoice", summary="What is owed for the case")
def get_invoice(
    case_id: str, principal: PatientOrAdmin, session: SessionDep, settings: SettingsDep
) -> InvoiceRead:
    case = load_case_for(session, principal=principal, case_id=case_id)
    invoice = billing.invoice_for(case, settings=settings)
    record_case_event(
        session,
        actor=principal.actor,
        action="case.invoice",
        case_id=case.id,
    )
    session.commit()
    return invoice


@router.get(
    "/cases/{case_id}/receipt.pdf",
    summary="The payment receipt (PDF) for an insurance claim",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def get_receipt(
    case_id: str, principal: PatientOrAdmin, session: SessionDep, settings: SettingsDep
) -> Response:
    case = load_case_for(session, principal=principal, case_id=case_id)
    payment = billing.receipt_payment(case)
    pdf = receipt_pdf(case, payment=payment, settings=settings)
    record_event(
        session,
        actor=principal.actor,
        action="case.receipt",
        object_type="payment",
        object_id=payment.id,
        case_id=case.id,
    )
    session.commit()
    return Response(
        pdf,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="receipt-{payment.receipt_number}.pdf"'
        },
    )


# --------------------------------------------------------------------------- referral


async def _spool_body(request: Request, *, max_bytes: int, spool_dir: Path) -> Path:
    """The request body in a temporary file under the data directory (never whole in memory,
    never in a shared /tmp); 413 past the limit."""
    too_large = PayloadTooLarge(
        f"The referral is larger than {max_bytes // (1024 * 1024)} MB.", field="referral"
    )
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise too_large
    spool_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix="referral-", suffix=".pdf", dir=spool_dir)
    path, size = Path(name), 0
    try:
        with os.fdopen(fd, "wb") as out:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise too_large
                out.write(chunk)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


@router.put(
    "/cases/{case_id}/referral",
    status_code=201,
    summary="Upload the referral letter (the PDF as the request body)",
    openapi_extra={
        "requestBody": {
            "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
            "required": True,
        }
    },
    responses=problem_responses(413, 415),
)
async def put_referral(
    case_id: str,
    request: Request,
    principal: PatientUser,
    session: SessionDep,
    blobs: BlobStoreDep,
    settings: SettingsDep,
) -> ReferralRead:
    # Check the caller may touch the case before reading a possibly large body.
    await run_in_threadpool(load_case_for, session, principal=principal, case_id=case_id)
    session.rollback()
    path = await _spool_body(
        request, max_bytes=settings.referral_max_bytes, spool_dir=settings.data_dir / "spool"
    )
    try:
        return await run_in_threadpool(
            _store_referral, session, principal, case_id, path, blobs, settings
        )
    finally:
        path.unlink(missing_ok=True)


def _store_referral(
    session: Session,
    principal: Principal,
    case_id: str,
    path: Path,
    blobs: BlobStore,
    settings: Settings,
) -> ReferralRead:
    case = load_case_for(session, principal=principal, case_id=case_id, for_update=True)
    referral = referrals.receive_upload(
        session,
        case=case,
        path=path,
        blobs=blobs,
        max_bytes=settings.referral_max_bytes,
        actor=principal.actor,
    )
    session.commit()
    return ReferralRead(
        case_id=case.id,
        source=referral.source,
        sha256=referral.sha256,
        size=referral.size,
        received_at=referral.received_at,
    )


router.include_router(reading_router)
