"""HTTP routes of image intake: tus uploads, a case's upload list, upload codes.

Resumable uploads follow tus 1.0.0 (core, creation, checksum, termination):

- ``OPTIONS /uploads`` — capabilities (``Tus-Version``, ``Tus-Extension``, ``Tus-Max-Size``,
  ``Tus-Checksum-Algorithm``).
- ``POST /uploads`` — create: ``Upload-Length`` and ``Upload-Metadata`` with ``case_id``,
  ``filename`` and ``kind`` (``zip`` for a zipped CD, ``file`` for one file of a folder;
  default from the filename), optionally ``batch`` (groups the files of one folder).
  201 with ``Location``.
- ``HEAD /uploads/{id}`` — ``Upload-Offset`` (resume from there).
- ``PATCH /uploads/{id}`` — ``Content-Type: application/offset+octet-stream``,
  ``Upload-Offset``, optional ``Upload-Checksum: sha1|sha256 <base64>``.
- ``DELETE /uploads/{id}`` — cancel an unfinished upload.

When the last byte arrives the upload is ingested in the background;
``GET /cases/{id}/uploads`` shows its state, counts and per-file verdicts.
"""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.requests import ClientDisconnect

from server.accounts.deps import CurrentUser, Principal
from server.accounts.models import Role
from server.audit.service import record_event
from server.cases.access import load_case_for
from server.cases.models import Case
from server.config import Settings
from server.deps import SessionDep, SettingsDep
from server.imaging import tus, upload_codes, uploads
from server.imaging.intake_schemas import (
    FileVerdictRead,
    UploadCodeCreate,
    UploadCodeCreated,
    UploadCodeRead,
    UploadCounts,
    UploadRead,
)
from server.imaging.models import IngestVerdict, Upload, UploadCode, UploadKind, UploadState
from server.imaging.verdicts import message_for
from server.problems import (
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    UnsupportedMediaType,
    problem_responses,
)

__all__ = ["get_runner", "router"]

router = APIRouter(
    tags=["imaging intake"],
    responses=problem_responses(400, 401, 403, 404, 409, 412, 413, 415, 423, 460),
)
_TUS = {"Tus-Resumable": tus.TUS_VERSION}
_runner_lock = threading.Lock()


def get_runner(app: object) -> uploads.IngestRunner:
    """The app's background ingestion runner, created (and recovering) on first use."""
    state = app.state  # type: ignore[attr-defined]
    with _runner_lock:
        runner = getattr(state, "imaging_runner", None)
        if runner is None:
            runner = uploads.IngestRunner(
                state.sessionmaker, blobs=state.blobs, settings=state.settings
            )
            state.imaging_runner = runner
            runner.recover()
    return runner


def _tus_version(tus_resumable: Annotated[str | None, Header()] = None) -> None:
    tus.check_version(tus_resumable)


TusChecked = Depends(_tus_version)


def _uploader_case(session: Session, principal: Principal, case_id: str) -> Case:
    case = load_case_for(session, principal=principal, case_id=case_id)
    if principal.role not in (Role.PATIENT, Role.ADMIN):
        raise Forbidden("Only the patient (or an admin) uploads images to a case.")
    return case


def _visible_upload(session: Session, principal: Principal, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound("No such upload.", field="upload_id")
    try:
        _uploader_case(session, principal, upload.case_id)
    except NotFound:
        raise NotFound("No such upload.", field="upload_id") from None
    return upload


@router.options("/uploads", summary="tus capabilities", status_code=204)
def tus_options(settings: SettingsDep) -> Response:
    return Response(
        status_code=204,
        headers={
            **_TUS,
            "Tus-Version": tus.TUS_VERSION,
            "Tus-Extension": tus.EXTENSIONS,
            "Tus-Max-Size": str(settings.upload_max_bytes),
            "Tus-Checksum-Algorithm": ",".join(tus.CHECKSUM_ALGORITHMS),
        },
    )


@router.post(
    "/uploads", summary="Create a resumable upload (tus creation)", dependencies=[TusChecked]
)
def create_upload(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    upload_length: Annotated[str | None, Header()] = None,
    upload_metadata: Annotated[str | None, Header()] = None,
    upload_defer_length: Annotated[str | None, Header()] = None,
) -> Response:
    if upload_defer_length is not None:
        raise BadRequest("Upload-Defer-Length is not supported.", field="Upload-Defer-Length")
    length = tus.parse_offset(upload_length, name="Upload-Length")
    meta = tus.parse_metadata(upload_metadata)
    case_id = meta.get("case_id") or meta.get("case")
    if not case_id:
        raise BadRequest("Upload-Metadata must name the case_id.", field="Upload-Metadata")
    filename = meta.get("filename", "")
    raw_kind = meta.get("kind") or ("zip" if filename.lower().endswith(".zip") else "file")
    try:
        kind = UploadKind(raw_kind)
    except ValueError:
        raise BadRequest("kind must be 'zip' or 'file'.", field="Upload-Metadata") from None
    case = _uploader_case(session, principal, case_id)
    upload = uploads.create_upload(
        session,
        case=case,
        actor=principal.actor,
        kind=kind,
        filename=filename,
        length=length,
        batch=meta.get("batch"),
        settings=settings,
    )
    if length == 0:
        _complete(session, upload.id, principal, settings, runner_app=request.app)
    return Response(
        status_code=201, headers={**_TUS, "Location": f"/uploads/{upload.id}", "Upload-Offset": "0"}
    )


@router.head("/uploads/{upload_id}", summary="Bytes received so far", dependencies=[TusChecked])
def upload_offset(
    upload_id: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> Response:
    upload = _visible_upload(session, principal, upload_id)
    return Response(
        status_code=200,
        headers={
            **_TUS,
            "Upload-Offset": str(uploads.received_bytes(settings, upload)),
            "Upload-Length": str(upload.length),
            "Cache-Control": "no-store",
        },
    )


@router.patch("/uploads/{upload_id}", summary="Append bytes (tus core)", dependencies=[TusChecked])
async def upload_append(
    upload_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    content_type: Annotated[str | None, Header()] = None,
    upload_offset: Annotated[str | None, Header()] = None,
    upload_checksum: Annotated[str | None, Header()] = None,
) -> Response:
    if (content_type or "").split(";")[0].strip().lower() != tus.OFFSET_CONTENT_TYPE:
        raise UnsupportedMediaType(
            f"PATCH needs Content-Type: {tus.OFFSET_CONTENT_TYPE}.", field="Content-Type"
        )
    offset = tus.parse_offset(upload_offset)
    checksum = tus.parse_checksum(upload_checksum)

    def prepare() -> tuple[UploadState, int]:
        upload = _visible_upload(session, principal, upload_id)
        facts = upload.state, upload.length
        session.rollback()  # hold no transaction (SQLite: no lock) while the body streams in
        return facts

    # No ORM access on the event loop: a blocked database call would stall every request.
    state, length = await run_in_threadpool(prepare)
    if state is not UploadState.RECEIVING:
        raise tus_conflict(length)
    try:
        new_offset = await tus.append_chunk(
            uploads.part_path(settings, upload_id),
            offset=offset,
            length=length,
            stream=request.stream(),
            checksum=checksum,
        )
    except ClientDisconnect:
        # The client is gone; what was written stays (tus: HEAD tells it where to resume).
        return Response(status_code=400, headers=_TUS)
    if new_offset == length:
        await run_in_threadpool(
            _complete, session, upload_id, principal, settings, runner_app=request.app
        )
    return Response(status_code=204, headers={**_TUS, "Upload-Offset": str(new_offset)})


def tus_conflict(length: int) -> Exception:
    return Conflict(
        "The upload is complete; nothing more can be appended.",
        headers={**_TUS, "Upload-Offset": str(length)},
    )


def _complete(
    session: Session,
    upload_id: str,
    principal: Principal,
    settings: Settings,
    *,
    runner_app: object | None,
) -> None:
    upload = uploads.find_upload(session, upload_id=upload_id)
    if upload.state is not UploadState.RECEIVING:
        session.rollback()
        return  # a concurrent request completed it first
    uploads.mark_received(session, upload=upload, actor=principal.actor)
    if runner_app is not None:
        get_runner(runner_app).submit(upload.id)


@router.delete(
    "/uploads/{upload_id}",
    summary="Cancel an unfinished upload (tus termination)",
    dependencies=[TusChecked],
    status_code=204,
)
def upload_delete(
    upload_id: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> Response:
    upload = _visible_upload(session, principal, upload_id)
    uploads.delete_upload(session, upload=upload, actor=principal.actor, settings=settings)
    return Response(status_code=204, headers=_TUS)


@router.get(
    "/cases/{case_id}/uploads",
    summary="The case's uploads: state, counts and per-file verdicts",
    response_model=list[UploadRead],
)
def case_uploads(
    case_id: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    principal: CurrentUser,
    files: bool = True,
) -> list[UploadRead]:
    get_runner(request.app)  # after a restart: resumes uploads left half-ingested
    load_case_for(session, principal=principal, case_id=case_id)
    rows = uploads.list_uploads(session, case_id=case_id)
    verdicts = _verdicts_by_upload(session, [u.id for u in rows]) if files else {}
    record_event(
        session,
        actor=principal.actor,
        action="imaging.upload.list",
        object_type="case",
        object_id=case_id,
        case_id=case_id,
    )
    session.commit()
    return [_read(u, settings, verdicts.get(u.id, [])) for u in rows]


@router.get(
    "/cases/{case_id}/uploads/{upload_id}",
    summary="One upload: state, counts and per-file verdicts",
    response_model=UploadRead,
)
def case_upload(
    case_id: str, upload_id: str, session: SessionDep, settings: SettingsDep, principal: CurrentUser
) -> UploadRead:
    load_case_for(session, principal=principal, case_id=case_id)
    upload = session.get(Upload, upload_id)
    if upload is None or upload.case_id != case_id:
        raise NotFound("No such upload.", field="upload_id")
    verdicts = _verdicts_by_upload(session, [upload.id])
    record_event(
        session,
        actor=principal.actor,
        action="imaging.upload.read",
        object_type="upload",
        object_id=upload_id,
        case_id=case_id,
    )
    session.commit()
    return _read(upload, settings, verdicts.get(upload.id, []))


def _verdicts_by_upload(session: Session, ids: list[str]) -> dict[str, list[IngestVerdict]]:
    out: dict[str, list[IngestVerdict]] = {}
    if not ids:
        return out
    rows = session.scalars(
        select(IngestVerdict)
        .where(IngestVerdict.upload_id.in_(ids))
        .order_by(IngestVerdict.upload_id, IngestVerdict.seq)
    )
    for row in rows:
        out.setdefault(row.upload_id, []).append(row)
    return out


def _read(upload: Upload, settings: Settings, verdicts: list[IngestVerdict]) -> UploadRead:
    return UploadRead(
        id=upload.id,
        case_id=upload.case_id,
        kind=upload.kind,
        filename=upload.filename,
        batch=upload.batch,
        length=upload.length,
        offset=uploads.received_bytes(settings, upload),
        state=upload.state,
        counts=UploadCounts(
            stored=upload.stored_count,
            duplicate=upload.duplicate_count,
            refused=upload.refused_count,
            skipped=upload.skipped_count,
        ),
        error=upload.error,
        created_at=upload.created_at,
        completed_at=upload.completed_at,
        finished_at=upload.finished_at,
        files=[
            FileVerdictRead(
                name=v.name,
                verdict=v.verdict,
                reason=v.reason,
                message=message_for(v.verdict, v.reason),
                sop_instance_uid=v.sop_instance_uid,
            )
            for v in verdicts
        ],
    )


# --------------------------------------------------------------------------- upload codes


def _code_read(row: UploadCode) -> UploadCodeRead:
    return UploadCodeRead(
        id=row.id,
        case_id=row.case_id,
        label=row.label,
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )


def _owner_case(session: Session, principal: Principal, case_id: str) -> Case:
    case = load_case_for(session, principal=principal, case_id=case_id)
    if principal.role is not Role.PATIENT:
        raise Forbidden("Only the patient creates or revokes upload codes.")
    return case


@router.post(
    "/cases/{case_id}/upload-codes",
    summary="Create an upload-only STOW-RS code for this case (shown once)",
    status_code=status.HTTP_201_CREATED,
    response_model=UploadCodeCreated,
)
def create_upload_code(
    case_id: str, body: UploadCodeCreate, session: SessionDep, principal: CurrentUser
) -> UploadCodeCreated:
    case = _owner_case(session, principal, case_id)
    row, code = upload_codes.create_code(
        session, case=case, actor=principal.actor, label=body.label, valid_days=body.valid_days
    )
    return UploadCodeCreated(**_code_read(row).model_dump(), code=code)


@router.get(
    "/cases/{case_id}/upload-codes",
    summary="The case's upload codes (never the codes themselves)",
    response_model=list[UploadCodeRead],
)
def list_upload_codes(
    case_id: str, session: SessionDep, principal: CurrentUser
) -> list[UploadCodeRead]:
    _owner_case(session, principal, case_id)
    return [_code_read(r) for r in upload_codes.list_codes(session, case_id=case_id)]


@router.delete(
    "/cases/{case_id}/upload-codes/{code_id}",
    summary="Revoke an upload code",
    status_code=status.HTTP_204_NO_CONTENT,
)
def revoke_upload_code(
    case_id: str, code_id: int, session: SessionDep, principal: CurrentUser
) -> Response:
    _owner_case(session, principal, case_id)
    upload_codes.revoke_code(session, case_id=case_id, code_id=code_id, actor=principal.actor)
    return Response(status_code=204)
