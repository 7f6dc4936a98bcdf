"""``user add | list | disable | reset-password``: accounts, administered at the console.

Passwords are read by :func:`~server.cli.context.prompt_secret`, never from argv.
"""

from __future__ import annotations

import argparse

from server.accounts import service
from server.accounts.schemas import Role
from server.cli.context import CONSOLE_ACTOR, db_session, print_table, prompt_secret, settings


def register(sub: argparse._SubParsersAction) -> None:
    user = sub.add_parser("user", help="accounts: add, list, disable, reset a password")
    user_sub = user.add_subparsers(dest="user_command", required=True, parser_class=type(user))

    add = user_sub.add_parser("add", help="create an account (prompts for the password)")
    add.add_argument("username")
    add.add_argument("--role", required=True, type=Role, choices=list(Role), metavar="ROLE")
    add.add_argument("--email", required=True)
    add.add_argument("--name", required=True, dest="full_name", help='full name, e.g. "Ada Lee"')
    add.set_defaults(func=run_add)

    listing = user_sub.add_parser("list", help="every account as a table")
    listing.add_argument("--role", type=Role, choices=list(Role), metavar="ROLE")
    listing.set_defaults(func=run_list)

    disable = user_sub.add_parser("disable", help="stop an account signing in; end its sessions")
    disable.add_argument("username")
    disable.set_defaults(func=run_disable)

    reset = user_sub.add_parser("reset-password", help="set a new password (prompts for it)")
    reset.add_argument("username")
    reset.set_defaults(func=run_reset_password)


def run_add(args: argparse.Namespace) -> int:
    password = prompt_secret("Password")
    with db_session() as session:
        made = service.add_user(
            session,
            actor=CONSOLE_ACTOR,
            username=args.username,
            email=args.email,
            full_name=args.full_name,
            role=args.role,
            password=password,
            settings=settings(),
        )
    print(f"created {made.user.role} {made.user.username} (id {made.user.id})")
    if made.provisioning_uri:
        print("Two-step sign-in is required. Add this to the user's authenticator app now;")
        print("it is shown only once:")
        print(made.provisioning_uri)
    return 0


def run_list(args: argparse.Namespace) -> int:
    with db_session() as session:
        users = service.list_users(session, actor=CONSOLE_ACTOR, role=args.role)
    rows = [("ID", "USERNAME", "ROLE", "STATUS", "TOTP", "NAME", "EMAIL")]
    for user in users:
        rows.append(
            (
                str(user.id),
                user.username,
                str(user.role),
                "active" if user.is_active else "disabled",
                "on" if user.totp_enabled else "off",
                user.full_name,
                user.email,
            )
        )
    print_table(rows)
    return 0


def run_disable(args: argparse.Namespace) -> int:
    with db_session() as session:
        user = service.disable_user(session, actor=CONSOLE_ACTOR, username=args.username)
    print(f"disabled {user.username}; their sessions are ended")
    return 0


def run_reset_password(args: argparse.Namespace) -> int:
    password = prompt_secret("New password")
    with db_session() as session:
        user = service.reset_password(
            session,
            actor=CONSOLE_ACTOR,
            username=args.username,
            password=password,
            settings=settings(),
        )
    print(f"password of {user.username} reset; their sessions are ended")
    return 0
