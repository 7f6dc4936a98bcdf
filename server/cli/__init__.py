"""``readroom-server``: run the server and administer it.

Commands call services directly (never over HTTP). One module per command
group registers its subcommands; a failure prints one line on stderr and
exits with status 2. An unexpected exception prints one line naming only its
type (its message may hold patient data) and exits with status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from server.cli import audit, case, db, demo, imaging, radiologist, serve, user
from server.cli.context import CliError

_GROUPS = (db, serve, user, audit, case, radiologist, imaging, demo)


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line and exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="readroom-server", description="Run the Readroom server and administer it."
    )
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for group in _GROUPS:
        group.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except CliError as error:
        print(f"readroom-server: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("readroom-server: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # last resort: no traceback, no message
        print(f"readroom-server: unexpected error ({type(error).__name__})", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
