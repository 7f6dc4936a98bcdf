"""``demo``: synthetic studies, a seeded demo service, and the one-command demo."""

from __future__ import annotations

import argparse
from datetime import date
from pathlib import Path

from server.cli.context import CliError
from server.problems import Problem


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="synthetic data and the demo")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, parser_class=type(demo))

    make = demo_sub.add_parser("make-study", help="write a synthetic CT or MR study")
    make.add_argument("--kind", choices=("ct", "mr"), default="ct")
    make.add_argument("--out", type=Path, required=True, help="folder to write (must not exist)")
    make.add_argument("--slices", type=_positive, help="slices per axial series")
    make.add_argument("--seed", type=int, default=0, help="same seed, same bytes and UIDs")
    make.add_argument("--study-date", type=date.fromisoformat, help="YYYY-MM-DD (default today)")
    make.add_argument("--plain", action="store_true", help="plain .dcm files instead of a CD")
    make.add_argument("--zip", action="store_true", help="also write OUT.zip")
    make.set_defaults(func=run_make_study)

    seed = demo_sub.add_parser("seed", help="demo users and cases in the configured database")
    seed.set_defaults(func=run_seed)

    run = demo_sub.add_parser("run", help="init, seed, serve, and open the workstation")
    run.add_argument("--port", type=int, help="port (default: READROOM_PORT)")
    run.set_defaults(func=run_demo)


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def run_make_study(args: argparse.Namespace) -> int:
    from server.imaging.synthetic import generate

    if args.out.exists():
        raise CliError(f"{args.out} already exists; choose a new folder")
    path = generate(
        args.kind,
        args.out,
        cd=not args.plain,
        slices=args.slices,
        seed=args.seed,
        study_date=args.study_date,
        zip_output=args.zip,
    )
    print(f"wrote a synthetic {args.kind.upper()} study to {path}")
    return 0


def run_seed(_args: argparse.Namespace) -> int:
    from server.demo import seed_demo

    try:
        print(seed_demo())
    except Problem as problem:
        raise CliError(problem.detail) from None
    return 0


def run_demo(args: argparse.Namespace) -> int:
    from server.demo import run_demo as run

    return run(port=args.port)
