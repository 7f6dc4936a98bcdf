"""``readroom``: the workstation, and its subcommands beside the TUI.

Each subcommand group lives in its own module and registers itself in
:data:`COMMAND_GROUPS`; ``readroom`` with no subcommand starts the Textual app.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

#: (name, help, add_arguments(parser)) for each subcommand group; handlers are set as ``func``.
CommandGroup = tuple[str, str, Callable[[argparse.ArgumentParser], None]]


class UsageError(Exception):
    """A failed command: printed as one line on stderr, exit status 2."""


def _command_groups() -> list[CommandGroup]:
    groups: list[CommandGroup] = []
    try:
        from workstation.dictation import model_cli
    except ImportError:  # pragma: no cover - during development only
        pass
    else:
        groups.append(("model", "install and list Vosk speech models", model_cli.add_arguments))
    return groups


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="readroom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    for name, help_text, add_arguments in _command_groups():
        add_arguments(sub.add_parser(name, help=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        return _run_app()
    try:
        return int(args.func(args) or 0)
    except UsageError as error:
        print(f"readroom: {error}", file=sys.stderr)
        return 2


def _run_app() -> int:
    from workstation.app import run

    return run()


if __name__ == "__main__":
    sys.exit(main())
