"""Connections spread over the server processes: a process answering while busier than
the least busy one by more than a request closes that connection."""

from __future__ import annotations

import asyncio
import http.client
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server import balance
from server.balance import BOARD_ENV, ConnectionBalance, LoadBoard, new_board

StartPeer = Callable[[int], "subprocess.Popen[str]"]

_CLAIM_AND_HOLD = """
import sys
import tempfile
from pathlib import Path
from server.balance import LoadBoard
board = LoadBoard(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    board.started()
print("ready", flush=True)
sys.stdin.readline()
"""


@pytest.fixture
def board_path() -> Iterator[Path]:
    path = new_board()
    yield path
    path.unlink()


@pytest.fixture
def peer(board_path: Path) -> Iterator[StartPeer]:
    """Start another process on the board with ``n`` requests under way."""
    started: list[subprocess.Popen[str]] = []

    def start(n: int) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-c", _CLAIM_AND_HOLD, str(board_path), str(n)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.communicate("\n", timeout=30)


def test_a_process_sees_the_least_busy_other_process(board_path: Path, peer: StartPeer) -> None:
    board = LoadBoard(board_path)
    assert board.least_of_others() is None  # alone
    first = peer(3)
    peer(1)
    assert board.least_of_others() == 1
    first.communicate("\n", timeout=30)
    assert board.least_of_others() == 1
    board.started()
    board.started()
    board.finished()
    assert board.under_way == 1


def test_a_dead_process_is_not_counted_and_its_slot_is_taken_again(
    board_path: Path, peer: StartPeer
) -> None:
    gone = peer(0)
    gone.communicate("\n", timeout=30)
    board = LoadBoard(board_path)
    assert board.least_of_others() is None  # the exited process is no peer
    assert board._slot == 0  # its slot, taken again


def test_a_released_slot_is_free(board_path: Path) -> None:
    board = LoadBoard(board_path)
    board.started()
    board.release()
    assert board_path.read_bytes() == bytes(len(board_path.read_bytes()))


@dataclass
class Served:
    """The balanced app over real HTTP: its port and board; ``/slow`` answers once
    ``hold`` is set, and sets ``slow_started`` when it is under way."""

    port: int
    board: LoadBoard
    hold: threading.Event = field(default_factory=threading.Event)
    slow_started: threading.Event = field(default_factory=threading.Event)


def _app(served: Served) -> ConnectionBalance:
    async def quick(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("done")

    async def slow(_request: Request) -> PlainTextResponse:
        served.slow_started.set()
        await asyncio.get_running_loop().run_in_executor(None, served.hold.wait, 30)
        return PlainTextResponse("done slowly")

    routes = [Route("/quick", quick), Route("/slow", slow)]
    return ConnectionBalance(Starlette(routes=routes), served.board)


@pytest.fixture
def serving(board_path: Path) -> Iterator[Served]:
    """uvicorn (keep-alive) on a free port, listening before the test connects."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    served = Served(sock.getsockname()[1], LoadBoard(board_path))
    server = uvicorn.Server(uvicorn.Config(_app(served), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield served
    served.hold.set()
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


def _connect(served: Served) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", served.port, timeout=30)


def _get(connection: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    connection.request("GET", path)
    response = connection.getresponse()
    response.read()
    return response


def _slow_request_under_way(served: Served) -> http.client.HTTPConnection:
    connection = _connect(served)
    connection.request("GET", "/slow")
    assert served.slow_started.wait(timeout=30), "the slow request never started"
    assert served.board.under_way == 1
    return connection


def test_a_busier_process_closes_the_connection_it_answers(
    serving: Served, peer: StartPeer
) -> None:
    peer(0)  # another process, idle
    slow = _slow_request_under_way(serving)
    connection = _connect(serving)
    response = _get(connection, "/quick")  # two under way here, none there
    assert response.getheader("Connection") == "close"
    assert response.will_close
    serving.hold.set()
    assert slow.getresponse().getheader("Connection") is None  # one under way: kept


def test_an_even_split_keeps_every_connection(serving: Served, peer: StartPeer) -> None:
    peer(1)  # another process with one request under way
    _slow_request_under_way(serving)
    connection = _connect(serving)
    for _ in range(3):
        response = _get(connection, "/quick")  # two here, one there: within one
        assert response.getheader("Connection") is None
        assert not response.will_close


def test_a_lone_process_keeps_every_connection(serving: Served) -> None:
    _slow_request_under_way(serving)
    connection = _connect(serving)
    assert _get(connection, "/quick").getheader("Connection") is None


def test_a_new_board_is_empty_private_and_on_this_machine(board_path: Path) -> None:
    assert board_path.parent == Path(tempfile.gettempdir())
    assert board_path.stat().st_mode & 0o777 == 0o600
    assert set(board_path.read_bytes()) == {0}


def test_only_serve_with_several_processes_installs_it(
    board_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = Starlette()
    monkeypatch.delenv(BOARD_ENV, raising=False)
    assert balance.install(app) is None
    assert app.user_middleware == []
    monkeypatch.setenv(BOARD_ENV, str(board_path))
    board = balance.install(app)
    assert board is not None
    assert board.least_of_others() is None
    assert [m.cls for m in app.user_middleware] == [ConnectionBalance]
