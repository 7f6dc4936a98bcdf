"""Request-scoped dependencies shared by every router.

They are ``async`` because they do no I/O: FastAPI runs a plain ``def`` dependency on a
worker thread, and each such hop costs a request milliseconds while the event loop is
busy. Only the closing of a session whose transaction is still open, which talks to the
database, goes to a thread.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import anyio
from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from server.config import Settings
from server.storage import BlobStore


async def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; services commit at their boundary, anything else rolls back.

    Made here (it connects only when first used, on the thread that uses it) and closed
    even when the request is cancelled: on a worker thread if a transaction is still
    open (rolling it back and returning its connection to the pool is I/O), else here
    (nothing to do but forget the objects; most requests commit before they end)."""
    session: Session = request.app.state.sessionmaker()
    try:
        yield session
    finally:
        if session.in_transaction():
            with anyio.CancelScope(shield=True):
                await run_in_threadpool(session.close)
        else:
            session.close()


async def get_blob_store(request: Request) -> BlobStore:
    return request.app.state.blobs


async def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
SessionDep = Annotated[Session, Depends(get_session)]
BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]
ClientAddr = Annotated[str | None, Depends(client_address)]
