"""Take candidate files into a case, a batch at a time: each file judged and its blob
stored on a worker thread (:func:`~server.imaging.judging.prepare`), then the batch
indexed in one transaction (:func:`~server.imaging.indexing.commit_batch`).

Two drivers:

- :func:`ingest_candidates`, synchronous, for an upload unpacked in the background
  (a CD): a batch of files is prepared several at once, then committed;
- :class:`StreamingIngest`, for a STOW-RS request on the event loop: each instance is
  prepared as soon as its part has arrived, while the rest of the body is still on the
  wire, and the batch is committed when the body is complete (or the batch full).

Blobs of a batch are made durable together (``BlobStore.write_batch``) before the
transaction that refers to them commits; a batch abandoned is discarded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from itertools import islice

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from server.audit.service import Actor
from server.config import Settings
from server.imaging.commit_gate import CommitGate, gate_of
from server.imaging.indexing import commit_batch
from server.imaging.judging import IngestResult, IntakeRules, Judged, prepare
from server.imaging.unpack import Candidate
from server.storage import BlobStore, WriteBatch
from server.threads import SharedPool

__all__ = ["BATCH_SIZE", "StreamingIngest", "ingest_candidates", "store_pool"]

log = logging.getLogger(__name__)

BATCH_SIZE = 64
#: Files prepared at once (hashing, encryption, writes and fsyncs release the GIL);
#: shared by all requests: more threads would only fight for the GIL.
STORE_THREADS = 4
#: A STOW-RS instance this small is prepared on the event loop itself (a millisecond or
#: two for a CT slice, with nothing to wait for since its blob is synced with the
#: batch): cheaper than handing it to a thread and back. Larger ones go to a thread.
INLINE_MAX = 4 * 1024 * 1024

#: The threads that prepare files, shared by every upload in this process.
store_pool = SharedPool(STORE_THREADS, "blob-store")


def ingest_candidates(
    session: Session,
    *,
    case_id: str,
    candidates: Iterable[Candidate],
    blobs: BlobStore,
    settings: Settings,
    actor: Actor,
    upload_id: str | None = None,
    expected_study_uid: str | None = None,
    batch_size: int = BATCH_SIZE,
    on_batch: Callable[[IngestResult], None] | None = None,
) -> IngestResult:
    """Ingest ``candidates`` into case ``case_id``; commits once per batch.

    Candidates' bytes are let go as their batch completes. ``on_batch`` is called after
    each commit with the running result (progress reporting).
    """
    rules = IntakeRules.load(
        session, case_id=case_id, settings=settings, expected_study_uid=expected_study_uid
    )
    result = IngestResult()
    seq = 0
    for batch in _batches(candidates, batch_size):
        writes = blobs.write_batch()
        try:
            work = partial(prepare, rules=rules, blobs=blobs, batch=writes)
            judged = [work(batch[0])] if len(batch) == 1 else list(store_pool().map(work, batch))
            _make_durable(writes, judged)
            commit_batch(
                session,
                case_id=case_id,
                judged=judged,
                blobs=blobs,
                settings=settings,
                actor=actor,
                upload_id=upload_id,
                first_seq=seq,
            )
        finally:
            writes.discard()
            for candidate in batch:
                candidate.discard()
        seq += len(batch)
        result.outcomes.extend(j.outcome for j in judged)
        if on_batch is not None:
            on_batch(result)
    return result


def _batches(items: Iterable[Candidate], size: int) -> Iterator[list[Candidate]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class StreamingIngest:
    """Ingest the instances of one request as they arrive.

    :meth:`add` prepares a small file at once, or hands a large one to a worker thread and
    returns; it waits first while ``max_in_flight`` files are being prepared, so a body
    is read no faster than it is stored and memory stays bounded. Every ``batch_size``
    files, and at :meth:`finish`, the prepared batch is committed. :meth:`abort` lets go
    of whatever is not committed (its blobs stay, unreferenced and harmless).
    """

    def __init__(
        self,
        session: Session,
        *,
        rules: IntakeRules,
        blobs: BlobStore,
        actor: Actor,
        batch_size: int | None = None,
        max_in_flight: int = 2 * STORE_THREADS,
    ) -> None:
        self._session, self._rules, self._blobs, self._actor = session, rules, blobs, actor
        self._batch_size, self._max_in_flight = batch_size or BATCH_SIZE, max_in_flight
        self._writes = blobs.write_batch()
        self._pending: list[asyncio.Future[Judged]] = []
        self._candidates: list[Candidate] = []
        self.result = IngestResult()

    @property
    def committed(self) -> int:
        """Files whose batch is committed."""
        return len(self.result.outcomes)

    async def add(self, candidate: Candidate) -> None:
        loop = asyncio.get_running_loop()
        work = partial(prepare, candidate, rules=self._rules, blobs=self._blobs, batch=self._writes)
        self._candidates.append(candidate)
        if candidate.data is not None and len(candidate.data) <= INLINE_MAX:
            await gate_of(loop).wait_open()
            self._pending.append(_done(loop, work))
            await asyncio.sleep(0)  # let the other requests on this loop have their turn
        else:
            self._pending.append(loop.run_in_executor(store_pool(), work))
        while len(busy := [f for f in self._pending if not f.done()]) > self._max_in_flight:
            await asyncio.wait(busy, return_when=asyncio.FIRST_COMPLETED)
        if len(self._pending) >= self._batch_size:
            await self._commit()

    async def finish(self) -> IngestResult:
        if self._pending:
            await self._commit()
        return self.result

    def abort(self) -> None:
        """Let go of every file not committed; nothing more is committed. Synchronous, so
        that it runs even in a cancelled request: it waits for the batch's blob writes
        under way (milliseconds); a large file still being prepared on a thread is let go
        when that thread is done."""
        for future in self._pending:
            future.add_done_callback(partial(_let_go, self._writes))
        for candidate in self._candidates:
            candidate.discard()
        self._pending, self._candidates = [], []
        self._writes.discard()

    async def _commit(self) -> None:
        pending, candidates, writes = self._pending, self._candidates, self._writes
        self._pending, self._candidates = [], []
        self._writes = self._blobs.write_batch()
        try:
            judged = list(await asyncio.gather(*pending))
            gate = gate_of(asyncio.get_running_loop())
            await run_in_threadpool(self._index, judged, writes, gate)
        finally:
            writes.discard()
            for future in pending:
                future.add_done_callback(partial(_let_go, writes))
            for candidate in candidates:
                candidate.discard()
        self.result.outcomes.extend(j.outcome for j in judged)

    def _index(self, judged: list[Judged], writes: WriteBatch, gate: CommitGate) -> None:
        _make_durable(writes, judged)
        try:
            self._session.connection()  # begun: on SQLite, holding the write lock from here
        except BaseException:
            self._session.rollback()
            raise
        with gate.transaction():
            commit_batch(
                self._session,
                case_id=self._rules.case_id,
                judged=judged,
                blobs=self._blobs,
                settings=self._rules.settings,
                actor=self._actor,
                upload_id=None,
                first_seq=self.committed,
            )


def _make_durable(writes: WriteBatch, judged: list[Judged]) -> None:
    """Sync the batch's blobs. If that fails, every file whose blob was in the batch is
    refused for want of storage (the index then takes none of them); the reason is
    logged, never a file's name or content."""
    try:
        writes.sync()
    except OSError as error:
        log.error("blob sync failed: %s", type(error).__name__)
        for item in judged:
            if item.blob_stored:
                item.blob_stored, item.blob_failed = False, True


def _done(loop: asyncio.AbstractEventLoop, work: Callable[[], Judged]) -> asyncio.Future[Judged]:
    """``work`` done here and now, as a future."""
    future: asyncio.Future[Judged] = loop.create_future()
    try:
        future.set_result(work())
    except Exception as error:
        future.set_exception(error)
    return future


def _let_go(writes: WriteBatch, future: asyncio.Future[Judged]) -> None:
    """Once a dropped file is done with: discard what it staged into the abandoned batch
    (a thread may still have been writing it), and retrieve its outcome, so that asyncio
    does not report it unread."""
    writes.discard()
    if not future.cancelled():
        future.exception()
