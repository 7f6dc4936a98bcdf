"""``radiologist set | list``: subspecialties, licence and weekly capacity for assignment."""

from __future__ import annotations

import argparse

from server.cases import management, radiologists
from server.cases.models import Subspecialty
from server.cli.context import CONSOLE_ACTOR, db_session, print_table


def register(sub: argparse._SubParsersAction) -> None:
    rad = sub.add_parser("radiologist", help="radiologists: subspecialties and capacity")
    rad_sub = rad.add_subparsers(dest="radiologist_command", required=True, parser_class=type(rad))

    put = rad_sub.add_parser("set", help="set what a radiologist reads and how much")
    put.add_argument("user", metavar="USER", help="username or id")
    put.add_argument(
        "--subspecialty",
        type=Subspecialty,
        choices=list(Subspecialty),
        action="append",
        metavar="S",
        help="repeat for each: " + ", ".join(s.value for s in Subspecialty),
    )
    put.add_argument("--province", help="province of licence, e.g. ON")
    put.add_argument("--capacity", type=int, help="cases per week")
    accepting = put.add_mutually_exclusive_group()
    accepting.add_argument(
        "--pause", dest="accepting", action="store_false", default=None, help="take no new cases"
    )
    accepting.add_argument(
        "--resume", dest="accepting", action="store_true", help="take new cases again"
    )
    put.set_defaults(func=run_set)

    rad_sub.add_parser("list", help="profiles and this week's load").set_defaults(func=run_list)


def run_set(args: argparse.Namespace) -> int:
    with db_session() as session:
        user = management.find_user(session, who=args.user)
        profile = radiologists.set_profile(
            session,
            user=user,
            actor=CONSOLE_ACTOR,
            subspecialties=args.subspecialty,
            province=args.province,
            capacity=args.capacity,
            accepting=args.accepting,
        )
        session.commit()
        print(
            f"{user.username}: {', '.join(profile.subspecialties) or 'no subspecialty'}; "
            f"licensed in {profile.licence_province}; {profile.weekly_capacity} cases/week"
            + ("" if profile.accepting else "; paused")
        )
    return 0


def run_list(_args: argparse.Namespace) -> int:
    with db_session() as session:
        rows = radiologists.list_profiles(session)
    table = [("USER", "SUBSPECIALTIES", "PROVINCE", "CAPACITY", "THIS WEEK", "OPEN", "STATE")]
    for row in rows:
        table.append(
            (
                row.username,
                ",".join(row.profile.subspecialties) or "-",
                row.profile.licence_province,
                str(row.profile.weekly_capacity),
                str(row.load.assigned_this_week) if row.load else "-",
                str(row.load.open_cases) if row.load else "-",
                "accepting" if row.profile.accepting else "paused",
            )
        )
    print_table(table)
    return 0
