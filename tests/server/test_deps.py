"""A request's session is closed in place when nothing is left open (most requests
commit before they end), and on a worker thread when a transaction still is: rolling it
back and returning its connection to the pool talks to the database."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from server import deps
from server.db import make_sessionmaker

pytestmark = pytest.mark.anyio


@pytest.fixture
def hops(monkeypatch: pytest.MonkeyPatch) -> list[Callable[[], Any]]:
    """What the dependency hands to a worker thread."""
    handed: list[Callable[[], Any]] = []
    real: Callable[..., Awaitable[Any]] = deps.run_in_threadpool

    async def counting(work: Callable[[], Any]) -> Any:
        handed.append(work)
        return await real(work)

    monkeypatch.setattr(deps, "run_in_threadpool", counting)
    return handed


async def _request_with(engine: Engine, use: Callable[[Session], None]) -> Session:
    request = SimpleNamespace(
        app=SimpleNamespace(state=SimpleNamespace(sessionmaker=make_sessionmaker(engine)))
    )
    sessions = deps.get_session(request)  # type: ignore[arg-type]
    session = await sessions.__anext__()
    use(session)
    with pytest.raises(StopAsyncIteration):
        await sessions.__anext__()
    return session


async def test_a_committed_session_is_closed_in_place(
    engine: Engine, hops: list[Callable[[], Any]]
) -> None:
    def commit(session: Session) -> None:
        session.execute(text("SELECT 1"))
        session.commit()

    await _request_with(engine, commit)
    assert hops == []
    assert engine.pool.checkedout() == 0


async def test_an_open_transaction_is_closed_on_a_worker_thread(
    engine: Engine, hops: list[Callable[[], Any]]
) -> None:
    def leave_open(session: Session) -> None:
        session.execute(text("SELECT 1"))

    session = await _request_with(engine, leave_open)
    assert hops == [session.close]
    assert not session.in_transaction()
    assert engine.pool.checkedout() == 0
