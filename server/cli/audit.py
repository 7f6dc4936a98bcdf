"""``audit verify`` and ``audit export``."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime

from server.audit.models import Outcome
from server.audit.service import export_events, record_event, verify_chain
from server.cli.context import CONSOLE_ACTOR, CliError, db_session


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="the audit log")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True, parser_class=type(audit))
    audit_sub.add_parser("verify", help="check the hash chain").set_defaults(func=run_verify)
    export = audit_sub.add_parser("export", help="write events as JSON lines to stdout")
    export.add_argument("--since", type=_date, help="first day to include (YYYY-MM-DD, UTC)")
    export.set_defaults(func=run_export)


def _date(text: str) -> datetime:
    try:
        return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def run_verify(_args: argparse.Namespace) -> int:
    with db_session() as session:
        report = verify_chain(session)
        record_event(
            session,
            actor=CONSOLE_ACTOR,
            action="audit.verify",
            outcome=Outcome.SUCCESS if report.ok else Outcome.FAILURE,
            detail=f"checked={report.checked} problems={len(report.problems)}",
        )
        session.commit()
    if not report.ok:
        for problem in report.problems[1:]:
            print(problem)
        raise CliError(f"audit chain broken: {report.problems[0]}")
    print(f"audit chain intact: {report.checked} events")
    return 0


def run_export(args: argparse.Namespace) -> int:
    with db_session() as session:
        count = export_events(session, sys.stdout, since=args.since)
        since = args.since.date().isoformat() if args.since else "start"
        record_event(
            session,
            actor=CONSOLE_ACTOR,
            action="audit.export",
            detail=f"since={since} events={count}",
        )
        session.commit()
    return 0
