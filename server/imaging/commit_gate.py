"""Hold back new work on the event loop while a batch's transaction is under way.

A batch is indexed on a worker thread, and on SQLite its transaction holds the
database's one write lock, which every other server process waits for. Each of its
statements gives up the GIL and must win it back from the event loop, which is busy
preparing other requests' instances: measured with four STOW-RS clients, a transaction
that needs 4.3 ms alone held the lock for 12.8 ms (median). While a transaction of this
process is open, requests on this loop start preparing no further instance (they wait
at :meth:`CommitGate.wait_open`), so the committing thread runs as soon as it can and
the lock is let go sooner; the loop goes on reading request bodies meanwhile.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["CommitGate", "gate_of"]


class CommitGate:
    """Open unless a transaction of this loop is under way; driven from worker threads."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._open = asyncio.Event()
        self._open.set()
        self._transactions = 0

    async def wait_open(self) -> None:
        if not self._open.is_set():
            await self._open.wait()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Around a transaction, on a worker thread: the gate is shut from the moment the
        loop hears of it (it may be finishing one instance) until the transaction ends."""
        self._loop.call_soon_threadsafe(self._begun)
        try:
            yield
        finally:
            self._loop.call_soon_threadsafe(self._ended)

    def _begun(self) -> None:
        self._transactions += 1
        self._open.clear()

    def _ended(self) -> None:
        self._transactions -= 1
        if not self._transactions:
            self._open.set()


_gates: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, CommitGate] = (
    weakref.WeakKeyDictionary()
)


def gate_of(loop: asyncio.AbstractEventLoop) -> CommitGate:
    """The gate of ``loop``, made on first use (from the loop's own thread)."""
    gate = _gates.get(loop)
    if gate is None:
        gate = _gates[loop] = CommitGate(loop)
    return gate
