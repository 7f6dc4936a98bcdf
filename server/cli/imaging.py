"""``review list|accept|discard``: objects intake held back (a different patient than the case).

Commands call :mod:`server.imaging.review` directly; patient names are shown only
here, to the admin at the console, never logged or audited.
"""

from __future__ import annotations

import argparse

from server.cli.context import CONSOLE_ACTOR, blob_store, db_session, settings
from server.imaging.models import FlagState
from server.imaging.review import accept_flag, discard_flag, list_flags


def register(sub: argparse._SubParsersAction) -> None:
    review = sub.add_parser("review", help="images held for review (a different patient)")
    review_sub = review.add_subparsers(
        dest="review_command", required=True, parser_class=type(review)
    )
    listing = review_sub.add_parser("list", help="held objects (pending unless --all)")
    listing.add_argument("--case", help="only this case (RR-…)")
    listing.add_argument("--all", action="store_true", help="accepted and discarded too")
    listing.set_defaults(func=run_list)
    accept = review_sub.add_parser("accept", help="add a held object to its case after all")
    accept.add_argument("flag_id", type=int)
    accept.set_defaults(func=run_accept)
    discard = review_sub.add_parser("discard", help="leave a held object out for good")
    discard.add_argument("flag_id", type=int)
    discard.set_defaults(func=run_discard)


def _patient_of(metadata: dict) -> str:
    name = metadata.get("00100010", {}).get("Value", [{}])[0]
    birth = metadata.get("00100030", {}).get("Value", [""])[0]
    alphabetic = name.get("Alphabetic", "") if isinstance(name, dict) else str(name)
    return f"{alphabetic or '?'} born {birth or '?'}"


def run_list(args: argparse.Namespace) -> int:
    with db_session() as session:
        state = None if args.all else FlagState.PENDING
        flags = list_flags(session, state=state, case_id=args.case)
        for flag in flags:
            print(
                f"{flag.id}\t{flag.case_id}\t{flag.state.value}\t{flag.reason.value}\t"
                f"{_patient_of(flag.metadata_json)}\t{flag.sop_instance_uid}"
            )
        if not flags:
            print("nothing held for review")
    return 0


def run_accept(args: argparse.Namespace) -> int:
    config = settings()
    blobs = blob_store(config)
    with db_session() as session:
        flag = accept_flag(
            session, flag_id=args.flag_id, blobs=blobs, actor=CONSOLE_ACTOR, settings=config
        )
        print(f"held object {flag.id} added to case {flag.case_id}")
    return 0


def run_discard(args: argparse.Namespace) -> int:
    with db_session() as session:
        flag = discard_flag(session, flag_id=args.flag_id, actor=CONSOLE_ACTOR)
        print(f"held object {flag.id} discarded from case {flag.case_id}")
    return 0
