"""``serve``: run the API with uvicorn."""

from __future__ import annotations

import argparse
import os
from typing import Any

from server.balance import BOARD_ENV, new_board
from server.cli.context import settings


def register(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", help="address to listen on (default: READROOM_HOST)")
    serve.add_argument("--port", type=int, help="port (default: READROOM_PORT)")
    serve.add_argument(
        "--workers",
        type=int,
        help="server processes (default: READROOM_WORKERS, one per core up to four)",
    )
    serve.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from server.app import create_app

    config = settings()
    options: dict[str, Any] = {
        "host": args.host or config.host,
        "port": args.port or config.port,
        "log_level": "info",
        "access_log": False,  # URLs carry case ids; the audit log records access instead
    }
    workers = args.workers or config.workers
    if workers == 1:
        uvicorn.run(create_app(config), **options)
        return 0
    # Each worker process builds its own app (settings from the environment), and
    # balances its connections with the others on a board of their load (server.balance).
    board = new_board()
    os.environ[BOARD_ENV] = str(board)
    try:
        uvicorn.run("server.app:create_app", factory=True, workers=workers, **options)
    finally:
        board.unlink(missing_ok=True)
    return 0
