"""QIDO-RS and WADO-RS under ``/dicomweb`` (PS3.18 §10.6 search, §10.4 retrieve).

HTTP only: parse, call :mod:`server.imaging.search` / :mod:`server.imaging.wado`,
negotiate (:mod:`server.imaging.multipart`) and answer. Instances are streamed from
the blob store chunk by chunk, byte-identical to what was received. STOW-RS
(``POST /dicomweb/studies``) lives with intake.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from server.accounts.deps import CurrentUser
from server.deps import BlobStoreDep, SessionDep
from server.imaging import search as qido_service
from server.imaging import wado
from server.imaging.dicom_json import strip_bulk_data
from server.imaging.frames import extract_frames, parse_frame_list
from server.imaging.multipart import (
    NotAcceptable,
    Part,
    multipart_content_type,
    multipart_length,
    multipart_stream,
    negotiate_frames,
    negotiate_instance,
    new_boundary,
    parse_accept,
)
from server.imaging.qido import FUZZY_WARNING, MORE_RESULTS_WARNING, Level, parse_search
from server.problems import problem_responses
from server.storage import BlobStore

DICOM_JSON = "application/dicom+json"

#: PS3.18 F.2: a JSON array of datasets; documented so clients (and the fuzz) know the type.
_DICOM_JSON_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Matching datasets in the DICOM JSON model",
        "content": {DICOM_JSON: {"schema": {"type": "array", "items": {"type": "object"}}}},
    }
}
#: PS3.18 §8.6: instances (or frames) as the parts of a multipart/related body.
_MULTIPART_OK: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The stored instances, byte for byte, as parts",
        "content": {"multipart/related": {"schema": {"type": "string", "format": "binary"}}},
    }
}

router = APIRouter(
    prefix="/dicomweb", tags=["dicomweb"], responses=problem_responses(400, 401, 404, 406)
)


# ---------------------------------------------------------------------------
# helpers


def _base_url(request: Request) -> str:
    public = request.app.state.settings.public_url
    base = public.rstrip("/") if public else str(request.base_url).rstrip("/")
    return f"{base}/dicomweb"


def _retrieve_url(request: Request) -> Callable[..., str]:
    base = _base_url(request)

    def url(study: str, series: str | None = None, instance: str | None = None) -> str:
        out = f"{base}/studies/{study}"
        if series:
            out += f"/series/{series}"
        if instance:
            out += f"/instances/{instance}"
        return out

    return url


def _require_json(request: Request) -> None:
    """QIDO-RS and metadata answer in DICOM JSON only (PS3.18 §8.7.3.1, Table 8.7.3-1)."""
    for media in parse_accept(request.headers.get("accept")):
        if media.admits(DICOM_JSON) or media.admits("application/json"):
            return
    raise NotAcceptable("Ask for application/dicom+json.", field="Accept")


def _json(body: Any, headers: dict[str, str] | None = None) -> Response:
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
    return Response(content.encode("utf-8"), media_type=DICOM_JSON, headers=headers)


def _search(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    level: Level,
    study: str | None = None,
    series: str | None = None,
) -> Response:
    _require_json(request)
    query = parse_search(request.query_params.multi_items())
    found = qido_service.search(
        session,
        principal=principal,
        level=level,
        query=query,
        study_uid=study,
        series_uid=series,
        retrieve_url=_retrieve_url(request),
    )
    warnings = [FUZZY_WARNING] if query.fuzzy_requested else []
    if found.more:
        warnings.append(MORE_RESULTS_WARNING)
    return _json(found.items, {"Warning": ", ".join(warnings)} if warnings else None)


def _instance_parts(
    store: BlobStore, located: wado.Located, location: Callable[..., str]
) -> list[Part]:
    """One part per instance; each blob is opened only when its turn comes to stream."""
    return [
        Part(
            content_type=f"application/dicom; transfer-syntax={inst.transfer_syntax_uid}",
            chunks=_LazyChunks(store, inst.blob_sha256),
            location=location(inst.study_uid, inst.series_uid, inst.sop_uid),
            size=inst.size,
        )
        for inst in located.instances
    ]


async def _prefetched(chunks: Iterator[bytes]) -> AsyncIterator[bytes]:
    """Read and decrypt the next chunk in a worker thread while this one is being sent."""
    loop = asyncio.get_running_loop()
    pending = loop.run_in_executor(None, next, chunks, None)
    while (chunk := await pending) is not None:
        pending = loop.run_in_executor(None, next, chunks, None)
        yield chunk


class _LazyChunks:
    """``store.iter_chunks(sha256)``, called when iterated (no file held open before)."""

    def __init__(self, store: BlobStore, sha256: str) -> None:
        self.store, self.sha256 = store, sha256

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.store.iter_chunks(self.sha256))


def _retrieve(
    request: Request,
    session: SessionDep,
    store: BlobStore,
    principal: CurrentUser,
    study: str,
    series: str | None = None,
    instance: str | None = None,
) -> StreamingResponse:
    located = wado.locate(
        session, principal=principal, study_uid=study, series_uid=series, sop_uid=instance
    )
    choice = negotiate_instance(
        parse_accept(request.headers.get("accept")),
        {i.transfer_syntax_uid for i in located.instances},
    )
    wado.audit_retrieve(
        session, principal=principal, located=located, action=wado.RetrieveAction.INSTANCES
    )
    boundary = new_boundary()
    parts = _instance_parts(store, located, _retrieve_url(request))
    length = multipart_length(parts, boundary)
    return StreamingResponse(
        _prefetched(multipart_stream(parts, boundary)),
        media_type=multipart_content_type(choice.media_type, boundary, choice.transfer_syntax),
        # a known length spares uvicorn re-copying every chunk for chunked encoding
        headers={"Content-Length": str(length)} if length is not None else None,
    )


def _metadata(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    study: str,
    series: str | None = None,
    instance: str | None = None,
) -> Response:
    _require_json(request)
    located = wado.locate(
        session, principal=principal, study_uid=study, series_uid=series, sop_uid=instance
    )
    headers = wado.metadata_of(session, located)
    wado.audit_retrieve(
        session, principal=principal, located=located, action=wado.RetrieveAction.METADATA
    )
    return _json([strip_bulk_data(h) for h in headers])


# ---------------------------------------------------------------------------
# QIDO-RS (PS3.18 §10.6)


@router.get(
    "/studies",
    summary="Search for studies (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_studies(request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    return _search(request, session, principal, Level.STUDY)


@router.get(
    "/series",
    summary="Search for series in all studies (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_all_series(request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    return _search(request, session, principal, Level.SERIES)


@router.get(
    "/instances",
    summary="Search for instances in all studies (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_all_instances(request: Request, session: SessionDep, principal: CurrentUser) -> Response:
    return _search(request, session, principal, Level.INSTANCE)


@router.get(
    "/studies/{study}/series",
    summary="Search for series of a study (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_series(
    request: Request, session: SessionDep, principal: CurrentUser, study: str
) -> Response:
    return _search(request, session, principal, Level.SERIES, study)


@router.get(
    "/studies/{study}/instances",
    summary="Search for instances of a study (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_study_instances(
    request: Request, session: SessionDep, principal: CurrentUser, study: str
) -> Response:
    return _search(request, session, principal, Level.INSTANCE, study)


@router.get(
    "/studies/{study}/series/{series}/instances",
    summary="Search for instances of a series (QIDO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def search_series_instances(
    request: Request, session: SessionDep, principal: CurrentUser, study: str, series: str
) -> Response:
    return _search(request, session, principal, Level.INSTANCE, study, series)


# ---------------------------------------------------------------------------
# WADO-RS (PS3.18 §10.4)


@router.get(
    "/studies/{study}",
    summary="Retrieve a study's instances (WADO-RS)",
    response_class=Response,
    responses=_MULTIPART_OK,
)
def retrieve_study(
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentUser,
    study: str,
) -> StreamingResponse:
    return _retrieve(request, session, store, principal, study)


@router.get(
    "/studies/{study}/series/{series}",
    summary="Retrieve a series (WADO-RS)",
    response_class=Response,
    responses=_MULTIPART_OK,
)
def retrieve_series(
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentUser,
    study: str,
    series: str,
) -> StreamingResponse:
    return _retrieve(request, session, store, principal, study, series)


@router.get(
    "/studies/{study}/series/{series}/instances/{instance}",
    summary="Retrieve an instance (WADO-RS)",
    response_class=Response,
    responses=_MULTIPART_OK,
)
def retrieve_instance(
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentUser,
    study: str,
    series: str,
    instance: str,
) -> StreamingResponse:
    return _retrieve(request, session, store, principal, study, series, instance)


@router.get(
    "/studies/{study}/metadata",
    summary="A study's metadata (WADO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def study_metadata(
    request: Request, session: SessionDep, principal: CurrentUser, study: str
) -> Response:
    return _metadata(request, session, principal, study)


@router.get(
    "/studies/{study}/series/{series}/metadata",
    summary="A series' metadata (WADO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def series_metadata(
    request: Request, session: SessionDep, principal: CurrentUser, study: str, series: str
) -> Response:
    return _metadata(request, session, principal, study, series)


@router.get(
    "/studies/{study}/series/{series}/instances/{instance}/metadata",
    summary="An instance's metadata (WADO-RS)",
    response_class=Response,
    responses=_DICOM_JSON_OK,
)
def instance_metadata(
    request: Request,
    session: SessionDep,
    principal: CurrentUser,
    study: str,
    series: str,
    instance: str,
) -> Response:
    return _metadata(request, session, principal, study, series, instance)


@router.get(
    "/studies/{study}/series/{series}/instances/{instance}/frames/{frames}",
    summary="Retrieve frames of an instance (WADO-RS)",
    response_class=Response,
    responses=_MULTIPART_OK,
)
def retrieve_frames(
    request: Request,
    session: SessionDep,
    store: BlobStoreDep,
    principal: CurrentUser,
    study: str,
    series: str,
    instance: str,
    frames: str,
) -> Response:
    numbers = parse_frame_list(frames)
    located = wado.locate(
        session, principal=principal, study_uid=study, series_uid=series, sop_uid=instance
    )
    stored = located.instances[0]
    choice = negotiate_frames(
        parse_accept(request.headers.get("accept")), stored.transfer_syntax_uid
    )
    pixels = extract_frames(store.read_bytes(stored.blob_sha256), numbers)
    wado.audit_retrieve(
        session,
        principal=principal,
        located=located,
        action=wado.RetrieveAction.FRAMES,
        detail=f"frames={len(numbers)}",
    )
    boundary = new_boundary()
    parts = [Part(choice.part_content_type, [frame]) for frame in pixels]
    body = b"".join(multipart_stream(parts, boundary))
    return Response(
        body,
        media_type=multipart_content_type(choice.media_type, boundary, choice.transfer_syntax),
    )
