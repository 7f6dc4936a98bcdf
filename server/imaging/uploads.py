"""Upload service: create a resumable upload, note its completion, ingest it in the background.

The bytes of an upload are ``data_dir/uploads/<id>.part``; its metadata is the
:class:`~server.imaging.models.Upload` row. Its offset is the file's size, so an
upload survives a server restart. When the last byte is in, the upload is handed
to the :class:`IngestRunner` (one worker thread per upload, a small pool), which
unpacks it and ingests it batch by batch, updating the row's counts as it goes.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import tempfile
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from server.accounts.models import User
from server.audit.service import Actor, record_event
from server.cases.models import Case
from server.config import Settings
from server.db import utcnow
from server.imaging.ingest import ingest_candidates
from server.imaging.judging import ACCEPTING
from server.imaging.models import Upload, UploadKind, UploadState
from server.imaging.unpack import ArchiveRefused, iter_candidates
from server.problems import Conflict, NotFound, PayloadTooLarge
from server.storage import BlobStore

__all__ = [
    "IngestRunner",
    "create_upload",
    "delete_upload",
    "find_upload",
    "list_uploads",
    "mark_received",
    "part_path",
    "received_bytes",
    "run_upload",
    "uploads_dir",
]

log = logging.getLogger(__name__)


def uploads_dir(settings: Settings) -> Path:
    path = settings.data_dir / "uploads"
    path.mkdir(parents=True, exist_ok=True)
    return path


def part_path(settings: Settings, upload_id: str) -> Path:
    return uploads_dir(settings) / f"{upload_id}.part"


def received_bytes(settings: Settings, upload: Upload) -> int:
    """The upload's offset: what is on disk (all of it once it is complete)."""
    if upload.state is not UploadState.RECEIVING:
        return upload.length
    try:
        return part_path(settings, upload.id).stat().st_size
    except FileNotFoundError:
        return 0


def create_upload(
    session: Session,
    *,
    case: Case,
    actor: Actor,
    kind: UploadKind,
    filename: str,
    length: int,
    batch: str | None,
    settings: Settings,
) -> Upload:
    """A new, empty upload into ``case`` (tus creation); commits."""
    if case.status not in ACCEPTING:
        raise Conflict(f"The case is {case.status}; images can no longer be added.", field="case")
    if length > settings.upload_max_bytes:
        raise PayloadTooLarge(
            f"Uploads are limited to {settings.upload_max_bytes // 1024**2} MB.",
            field="Upload-Length",
        )
    upload = Upload(
        id=secrets.token_hex(16),
        case_id=case.id,
        created_by_id=actor.user_id,
        kind=kind,
        filename=filename[:255],
        batch=batch[:64] if batch else None,
        length=length,
    )
    session.add(upload)
    part_path(settings, upload.id).touch(exist_ok=False)
    record_event(
        session,
        actor=actor,
        action="imaging.upload.create",
        object_type="upload",
        object_id=upload.id,
        case_id=case.id,
        detail=f"kind={kind.value} length={length}",
    )
    session.commit()
    return upload


def find_upload(session: Session, *, upload_id: str) -> Upload:
    upload = session.get(Upload, upload_id)
    if upload is None:
        raise NotFound("No such upload.", field="upload_id")
    return upload


def list_uploads(session: Session, *, case_id: str) -> Sequence[Upload]:
    return session.scalars(
        select(Upload).where(Upload.case_id == case_id).order_by(Upload.created_at, Upload.id)
    ).all()


def mark_received(session: Session, *, upload: Upload, actor: Actor) -> None:
    """The last byte is in: the upload waits for ingestion; commits."""
    upload.state = UploadState.INGESTING
    upload.completed_at = utcnow()
    record_event(
        session,
        actor=actor,
        action="imaging.upload.complete",
        object_type="upload",
        object_id=upload.id,
        case_id=upload.case_id,
    )
    session.commit()


def delete_upload(session: Session, *, upload: Upload, actor: Actor, settings: Settings) -> None:
    """tus termination: an unfinished upload and its bytes are dropped; commits."""
    if upload.state is not UploadState.RECEIVING:
        raise Conflict("The upload is complete; it can no longer be cancelled.")
    record_event(
        session,
        actor=actor,
        action="imaging.upload.delete",
        object_type="upload",
        object_id=upload.id,
        case_id=upload.case_id,
    )
    session.delete(upload)
    session.commit()
    part_path(settings, upload.id).unlink(missing_ok=True)


def _actor_for(session: Session, upload: Upload) -> Actor:
    user = session.get(User, upload.created_by_id) if upload.created_by_id else None
    if user is None:
        return Actor(username="system", role="system")
    return Actor(user_id=user.id, username=user.username, role=str(user.role))


def run_upload(
    factory: sessionmaker[Session], *, upload_id: str, blobs: BlobStore, settings: Settings
) -> UploadState:
    """Unpack and ingest one received upload (in a worker thread); returns its final state."""
    session = factory()
    try:
        upload = find_upload(session, upload_id=upload_id)
        if upload.state is not UploadState.INGESTING:
            return upload.state
        actor, case_id = _actor_for(session, upload), upload.case_id
        kind, name = upload.kind, upload.filename
        session.rollback()
        source = part_path(settings, upload_id)
        error: str | None = None
        try:
            with tempfile.TemporaryDirectory(dir=uploads_dir(settings), prefix="unpack-") as work:
                candidates = iter_candidates(
                    source, kind=kind, name=name, settings=settings, workdir=Path(work)
                )
                ingest_candidates(
                    session,
                    case_id=case_id,
                    candidates=candidates,
                    blobs=blobs,
                    settings=settings,
                    actor=actor,
                    upload_id=upload_id,
                )
        except ArchiveRefused as refused:
            error = str(refused)
        except Exception as failure:
            log.error("ingest of an upload failed: %s", type(failure).__name__)
            session.rollback()
            error = "The server could not process the upload; please send it again."
        upload = find_upload(session, upload_id=upload_id)
        upload.state = UploadState.FAILED if error else UploadState.DONE
        upload.error = error
        upload.finished_at = utcnow()
        record_event(
            session,
            actor=actor,
            action="imaging.upload.ingested",
            object_type="upload",
            object_id=upload_id,
            case_id=case_id,
            detail=f"state={upload.state.value}",
        )
        session.commit()
        source.unlink(missing_ok=True)
        return upload.state
    finally:
        session.close()


class IngestRunner:
    """Background ingestion: one task per upload on a small thread pool.

    ``wait(upload_id)`` blocks until that upload's ingestion ended (tests, CLI);
    :meth:`recover` resubmits uploads left ``ingesting`` by a stopped server.
    """

    def __init__(
        self,
        factory: sessionmaker[Session],
        *,
        blobs: BlobStore,
        settings: Settings,
        workers: int = 2,
    ) -> None:
        self._factory, self._blobs, self._settings = factory, blobs, settings
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest")
        self._futures: dict[str, Future[UploadState]] = {}
        self._lock = threading.Lock()

    def submit(self, upload_id: str) -> Future[UploadState]:
        with self._lock:
            future = self._futures.get(upload_id)
            if future is None or future.done():
                future = self._pool.submit(
                    run_upload,
                    self._factory,
                    upload_id=upload_id,
                    blobs=self._blobs,
                    settings=self._settings,
                )
                self._futures[upload_id] = future
            return future

    def wait(self, upload_id: str, timeout: float = 60) -> UploadState | None:
        with self._lock:
            future = self._futures.get(upload_id)
        return None if future is None else future.result(timeout=timeout)

    def recover(self) -> int:
        """Resubmit uploads a stopped server left half-ingested (ingestion is idempotent)."""
        with self._factory() as session:
            ids = session.scalars(
                select(Upload.id).where(Upload.state == UploadState.INGESTING)
            ).all()
        for upload_id in ids:
            self.submit(upload_id)
        return len(ids)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def clear_uploads_dir(settings: Settings) -> None:
    """Remove leftover unpack folders (never ``.part`` files: those are resumable uploads)."""
    for path in uploads_dir(settings).glob("unpack-*"):
        shutil.rmtree(path, ignore_errors=True)
