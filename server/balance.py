"""Spread keep-alive connections over the server processes that share the port.

``serve --workers N`` runs N processes accepting on one socket. Which process accepts a
connection is a race the busy process cannot see coming: measured with four STOW-RS
clients connecting at once, two processes got 3 and 1 connections in two tries of
five, and the one holding three did three quarters of the work on one core while the
other core idled (about 290 against 500 instances/s when the split was even).

Each process counts its requests under way on a :class:`LoadBoard`, a small file that
``serve`` makes in this machine's temporary directory for its processes (not in the
data directory, which several machines may share). A process that, when it answers,
has more than one request under way beyond the least busy process's count adds
``Connection: close`` to the response (RFC 9112 §9.6): the client opens a new
connection, and the process waiting idle for one is the one likely to accept it. An
even split closes nothing.
"""

from __future__ import annotations

import atexit
import fcntl
import mmap
import os
import struct
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["BOARD_ENV", "ConnectionBalance", "LoadBoard", "install", "new_board"]

#: Set by ``serve`` for its worker processes: the board they share.
BOARD_ENV = "READROOM_LOAD_BOARD"
_SLOTS = 64
_SLOT = struct.Struct("<ii")  # a process id, and its requests under way
_COUNT = struct.Struct("<i")


class LoadBoard:
    """One slot per live process: its pid and its requests under way."""

    def __init__(self, path: Path) -> None:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)  # slots are claimed one process at a time
            self._map = mmap.mmap(fd, _SLOTS * _SLOT.size)
            self._slot = self._claim(path)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)  # explicitly: the mapping keeps the file open
            os.close(fd)
        self.under_way = 0

    def _claim(self, path: Path) -> int:
        me = os.getpid()
        for slot in range(_SLOTS):
            pid, _count = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if pid in (0, me) or not _alive(pid):
                _SLOT.pack_into(self._map, slot * _SLOT.size, me, 0)
                return slot
        raise RuntimeError(f"more than {_SLOTS} server processes share {path}")

    def started(self) -> None:
        self._publish(self.under_way + 1)

    def finished(self) -> None:
        self._publish(self.under_way - 1)

    def _publish(self, count: int) -> None:
        self.under_way = count
        _COUNT.pack_into(self._map, self._slot * _SLOT.size + 4, count)

    def least_of_others(self) -> int | None:
        """The fewest requests under way in another live process; None if there is none."""
        least: int | None = None
        for slot in range(_SLOTS):
            if slot == self._slot:
                continue
            pid, count = _SLOT.unpack_from(self._map, slot * _SLOT.size)
            if pid and (least is None or count < least) and _alive(pid):
                least = count
        return least

    def release(self) -> None:
        _SLOT.pack_into(self._map, self._slot * _SLOT.size, 0, 0)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class ConnectionBalance:
    """ASGI middleware: counts this process's requests on the board, and closes the
    connection of a response answered while this process is busier than it should be."""

    def __init__(self, app: Any, board: LoadBoard) -> None:
        self.app, self.board = app, board

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        board = self.board

        async def answer(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start" and self._overloaded():
                headers = [*message.get("headers", ()), (b"connection", b"close")]
                message = {**message, "headers": headers}
            await send(message)

        board.started()
        try:
            await self.app(scope, receive, answer)
        finally:
            board.finished()

    def _overloaded(self) -> bool:
        if self.board.under_way < 2:  # never more than one beyond the others: no lookup
            return False
        least = self.board.least_of_others()
        return least is not None and self.board.under_way > least + 1


def new_board() -> Path:
    """A new, empty board for the processes of one ``serve`` (the caller removes it)."""
    fd, name = tempfile.mkstemp(prefix="readroom-load-")
    try:
        os.ftruncate(fd, _SLOTS * _SLOT.size)
    finally:
        os.close(fd)
    return Path(name)


def install(app: Any) -> LoadBoard | None:
    """Balance ``app``'s connections if ``serve`` runs it in several processes."""
    path = os.environ.get(BOARD_ENV)
    if not path:
        return None
    board = LoadBoard(Path(path))
    app.add_middleware(ConnectionBalance, board=board)
    atexit.register(board.release)
    return board
