"""The commit gate: a request's next instance waits while this loop's transaction is open."""

from __future__ import annotations

import asyncio
import threading

import pytest

from server.imaging.commit_gate import CommitGate, gate_of

pytestmark = pytest.mark.anyio


async def _in_thread_transaction(gate: CommitGate, begun: asyncio.Event) -> threading.Event:
    """A transaction on a worker thread, open until the returned event is set."""
    loop = asyncio.get_running_loop()
    end = threading.Event()

    def transaction() -> None:
        with gate.transaction():
            loop.call_soon_threadsafe(begun.set)
            end.wait(timeout=30)

    loop.run_in_executor(None, transaction)
    await begun.wait()
    await asyncio.sleep(0)  # the gate hears of it in the same round as ``begun``
    return end


async def _opened(gate: CommitGate) -> bool:
    try:
        await asyncio.wait_for(gate.wait_open(), timeout=0.05)
    except TimeoutError:
        return False
    return True


async def test_the_gate_is_open_with_no_transaction() -> None:
    gate = gate_of(asyncio.get_running_loop())
    assert await _opened(gate)
    assert gate_of(asyncio.get_running_loop()) is gate  # one gate per loop


async def test_work_waits_while_a_transaction_is_under_way() -> None:
    gate = CommitGate(asyncio.get_running_loop())
    end = await _in_thread_transaction(gate, asyncio.Event())
    waiting = asyncio.ensure_future(gate.wait_open())
    assert not await _opened(gate)
    assert not waiting.done()
    end.set()
    await asyncio.wait_for(waiting, timeout=10)  # let through once the transaction ends


async def test_the_gate_opens_only_when_every_transaction_has_ended() -> None:
    gate = CommitGate(asyncio.get_running_loop())
    first = await _in_thread_transaction(gate, asyncio.Event())
    second = await _in_thread_transaction(gate, asyncio.Event())
    first.set()
    assert not await _opened(gate)
    second.set()
    await asyncio.wait_for(gate.wait_open(), timeout=10)


async def test_a_failed_transaction_opens_the_gate_too() -> None:
    gate = CommitGate(asyncio.get_running_loop())

    def failing() -> None:
        with gate.transaction():
            raise RuntimeError("the commit failed")

    loop = asyncio.get_running_loop()
    with pytest.raises(RuntimeError, match="the commit failed"):
        await loop.run_in_executor(None, failing)
    await asyncio.wait_for(gate.wait_open(), timeout=10)
