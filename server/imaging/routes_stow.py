"""STOW-RS: ``POST /dicomweb/studies[/{study}]`` into one case (PS3.18 §10.5).

Authentication, one of:

- a **patient's (or admin's) login token** — ``Authorization: Bearer <token>`` — plus
  the case, as the query parameter ``?case_id=RR-…`` or the header
  ``X-Readroom-Case: RR-…``; another patient's case answers 404;
- a **per-case upload code** the patient created (``POST /cases/{id}/upload-codes``),
  sent as ``Authorization: Bearer rrup_…``; it names its case, and it can do nothing
  but this (every other route answers 401).

Responses (PS3.18 §10.5.3): 200 every instance stored (an identical repeat counts
as stored), 202 some failed, 409 none stored — each with the DICOM JSON Store
Instances response; 400 malformed multipart; 415 not
``multipart/related; type="application/dicom"``; 413 larger than
``settings.upload_max_bytes``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from server.accounts.deps import Principal
from server.accounts.models import Role
from server.accounts.tokens import find_live_token
from server.audit.service import Actor
from server.cases.access import load_case_for
from server.cases.models import Case
from server.config import Settings
from server.db import begin_reading
from server.deps import BlobStoreDep, SessionDep
from server.imaging import stow, upload_codes
from server.imaging.ingest import StreamingIngest
from server.imaging.judging import IntakeRules
from server.imaging.unpack import Candidate
from server.imaging.uploads import uploads_dir
from server.problems import BadRequest, Forbidden, Problem, Unauthorized, problem_responses

__all__ = ["router"]

DICOM_JSON = "application/dicom+json"
router = APIRouter(
    prefix="/dicomweb",
    tags=["dicomweb"],
    responses=problem_responses(400, 401, 404, 409, 413, 415),
)
_bearer = HTTPBearer(auto_error=False, description="Login token or per-case upload code")


@dataclass(frozen=True)
class StowCaller:
    case_id: str
    actor: Actor


@dataclass(frozen=True)
class StowCredentials:
    """What the request says of who it is and which case it stores into."""

    token: str
    case_id: str | None


async def stow_credentials(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    case_id: Annotated[str | None, Query(description="The case (with a login token)")] = None,
    x_readroom_case: Annotated[str | None, Header()] = None,
) -> StowCredentials:
    if credentials is None:
        raise Unauthorized(
            "Send a login token or an upload code.", headers={"WWW-Authenticate": "Bearer"}
        )
    return StowCredentials(credentials.credentials, case_id or x_readroom_case)


StowCredentialsDep = Annotated[StowCredentials, Depends(stow_credentials)]


def begin_store(
    session: Session,
    *,
    settings: Settings,
    client_addr: str | None,
    credentials: StowCredentials,
    study: str | None,
) -> tuple[StowCaller, IntakeRules]:
    """Who stores into which case, and the rules the case's files are judged by: one call
    on a worker thread (each hop to a thread costs a request milliseconds while the event
    loop is busy storing other requests' instances).

    The caller is identified in a transaction that does not queue for SQLite's write lock
    behind other uploads' commits; the occasional last-used time it writes is let go if
    another writer got there first (the next request writes it)."""
    begin_reading(session)
    try:
        caller, case = _identify(
            session, settings, client_addr, credentials.token, credentials.case_id
        )
    except BaseException:
        session.rollback()
        raise
    try:
        session.commit()  # a last-used time, if due
    except OperationalError:
        session.rollback()
        case = None  # expired by the rollback: read again below
    if case is not None:  # read as the caller's right was checked: not read again
        rules = IntakeRules.of(case, settings=settings, expected_study_uid=study)
    else:
        rules = IntakeRules.load(
            session, case_id=caller.case_id, settings=settings, expected_study_uid=study
        )
    return caller, rules


def _identify(
    session: Session,
    settings: Settings,
    client_addr: str | None,
    token: str,
    wanted: str | None,
) -> tuple[StowCaller, Case | None]:
    """The caller, and the case if reading it was part of checking the caller's right."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if upload_codes.is_upload_code(token):
        row = upload_codes.find_live_code(session, code=token)
        if row is None:
            raise Unauthorized(
                "This upload code is expired, revoked or unknown.", headers=challenge
            )
        holder = upload_codes.CodeHolder(row.id, row.case_id, client_addr)
        return StowCaller(holder.case_id, holder.actor), None
    token_row = find_live_token(session, token=token, settings=settings)
    if token_row is None:
        raise Unauthorized("Your session has expired or was ended.", headers=challenge)
    principal = Principal(
        user_id=token_row.user.id,
        username=token_row.user.username,
        role=token_row.user.role,
        token_id=token_row.id,
        client_addr=client_addr,
    )
    if not wanted:
        raise BadRequest(
            "Name the case: ?case_id=RR-… or the X-Readroom-Case header.", field="case_id"
        )
    case = load_case_for(session, principal=principal, case_id=wanted)
    if principal.role not in (Role.PATIENT, Role.ADMIN):
        raise Forbidden("Only the patient (or an admin) stores images into a case.")
    return StowCaller(wanted, principal.actor), case


#: Bytes of a body read while its caller is being identified; past them, reading waits.
#: Less than a part kept in memory (:data:`~server.imaging.stow.MEMORY_PART_MAX`), so
#: that nothing reaches the disk for a caller not yet known.
UNIDENTIFIED_BODY_MAX = 1024 * 1024


async def _store(
    request: Request,
    session: Session,
    credentials: StowCredentials,
    blobs: BlobStoreDep,
    study: str | None,
) -> JSONResponse:
    """Each instance is judged and stored while the rest of the body arrives; the rows are
    committed once the body is complete (or, past a batch, batch by batch).

    The caller is identified on a worker thread while the body's first bytes arrive (at
    most :data:`UNIDENTIFIED_BODY_MAX`); the first instance waits for the answer, and a
    caller refused is answered so whatever the body holds."""
    settings = request.app.state.settings
    identifying = asyncio.ensure_future(
        run_in_threadpool(
            partial(
                begin_store,
                session,
                settings=settings,
                client_addr=request.client.host if request.client else None,
                credentials=credentials,
                study=study,
            )
        )
    )
    ingest: StreamingIngest | None = None

    async def admitted() -> StreamingIngest:
        nonlocal ingest
        if ingest is None:
            caller, rules = await identifying
            ingest = StreamingIngest(session, rules=rules, blobs=blobs, actor=caller.actor)
        return ingest

    async def on_part(candidate: Candidate) -> None:
        try:
            streaming = await admitted()
        except BaseException:
            candidate.discard()
            raise
        await streaming.add(candidate)

    try:
        boundary = stow.parse_content_type(request.headers.get("content-type"))
        await stow.receive_parts(
            _held(request.stream(), identifying, UNIDENTIFIED_BODY_MAX),
            boundary=boundary,
            workdir=uploads_dir(settings),
            max_bytes=settings.upload_max_bytes,
            on_part=on_part,
        )
        result = await (await admitted()).finish()
    except BaseException as error:
        if ingest is not None:
            ingest.abort()
        refusal = await _settled(identifying)  # the session is the request's again
        if refusal is not None and not isinstance(error, asyncio.CancelledError):
            raise refusal from None  # who the caller is comes before what they sent
        if isinstance(error, Problem) and ingest is not None and ingest.committed:
            raise type(error)(  # say what the failure did not undo
                f"{error.detail} The first {ingest.committed} instances were stored.",
                field=error.field,
                headers=error.headers,
            ) from None
        raise
    public = settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return JSONResponse(
        stow.response_body(result.outcomes, base_url=base),
        status_code=stow.response_status(result.outcomes),
        media_type=DICOM_JSON,
    )


async def _held(
    body: AsyncIterator[bytes], identifying: asyncio.Future[object], free: int
) -> AsyncIterator[bytes]:
    """The body's chunks; past its first ``free`` bytes, only once the caller is
    identified (if refused, the refusal is raised and no more is read)."""
    received = 0
    async for chunk in body:
        received += len(chunk)
        if received > free and not identifying.done():
            await asyncio.wait([identifying])
        if identifying.done():
            identifying.result()
        yield chunk


async def _settled(identifying: asyncio.Future[object]) -> BaseException | None:
    """Once the identification is over (its thread done with the session): how it failed,
    if it did."""
    if not identifying.done():
        await asyncio.wait([identifying])
    if identifying.cancelled():
        return None
    return identifying.exception()


@router.post("/studies", summary="Store instances (STOW-RS) into a case")
async def store_instances(
    request: Request,
    session: SessionDep,
    credentials: StowCredentialsDep,
    blobs: BlobStoreDep,
) -> JSONResponse:
    return await _store(request, session, credentials, blobs, None)


@router.post("/studies/{study}", summary="Store instances of one study (STOW-RS) into a case")
async def store_study_instances(
    study: str,
    request: Request,
    session: SessionDep,
    credentials: StowCredentialsDep,
    blobs: BlobStoreDep,
) -> JSONResponse:
    return await _store(request, session, credentials, blobs, study)
