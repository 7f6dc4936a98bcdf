"""``case list | show | payment | referral | assign | assign-ready | reject | cancel | priority``.

Commands call the case services directly and commit once; every change is audited as the
console actor.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path

from server.audit.service import case_events, record_case_event
from server.cases import billing, management, referrals, rules, service
from server.cases.assignment import assign_ready_cases
from server.cases.models import CasePriority, CaseStatus, PaymentMethod, ReferralSource
from server.cli.context import (
    CONSOLE_ACTOR,
    CliError,
    blob_store,
    db_session,
    print_table,
    settings,
)


def register(sub: argparse._SubParsersAction) -> None:
    case = sub.add_parser("case", help="cases: list, show, payment, referral, assignment")
    case_sub = case.add_subparsers(dest="case_command", required=True, parser_class=type(case))

    listing = case_sub.add_parser("list", help="cases with their age and due time")
    listing.add_argument(
        "--status", type=CaseStatus, choices=list(CaseStatus), metavar="STATUS", action="append"
    )
    listing.add_argument("--overdue", action="store_true", help="open cases past their due time")
    listing.set_defaults(func=run_list)

    show = case_sub.add_parser("show", help="one case and its whole history")
    show.add_argument("case_id", metavar="CASE")
    show.set_defaults(func=run_show)

    payment = case_sub.add_parser("payment", help="record a payment received")
    payment.add_argument("case_id", metavar="CASE")
    payment.add_argument("--amount", required=True, type=_amount, help="e.g. 508.50")
    payment.add_argument(
        "--method", required=True, type=PaymentMethod, choices=list(PaymentMethod), metavar="HOW"
    )
    payment.add_argument("--reference", help="card authorisation, cheque number...")
    payment.set_defaults(func=run_payment)

    referral = case_sub.add_parser("referral", help="record a referral received by fax")
    referral.add_argument("case_id", metavar="CASE")
    referral.add_argument("--received", action="store_true", required=True)
    referral.add_argument("--file", type=Path, help="the scanned fax as a PDF, to store")
    referral.set_defaults(func=run_referral)

    assign = case_sub.add_parser("assign", help="assign (or reassign) a case to a radiologist")
    assign.add_argument("case_id", metavar="CASE")
    assign.add_argument("--to", required=True, metavar="USER", help="username or id")
    assign.set_defaults(func=run_assign)

    sweep = case_sub.add_parser("assign-ready", help="assign waiting ready cases automatically")
    sweep.set_defaults(func=run_assign_ready)

    reject = case_sub.add_parser("reject", help="reject a case (the patient sees the reason)")
    reject.add_argument("case_id", metavar="CASE")
    reject.add_argument("--reason", required=True)
    reject.set_defaults(func=run_reject)

    cancel = case_sub.add_parser("cancel", help="cancel a case")
    cancel.add_argument("case_id", metavar="CASE")
    cancel.add_argument("--reason")
    cancel.set_defaults(func=run_cancel)

    priority = case_sub.add_parser("priority", help="mark a case urgent or routine")
    priority.add_argument("case_id", metavar="CASE")
    priority.add_argument("priority", type=CasePriority, choices=list(CasePriority))
    priority.set_defaults(func=run_priority)


def _amount(text: str) -> object:
    try:
        return billing.parse_amount(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"{text!r}: {error}") from None


def _span(delta: timedelta) -> str:
    sign, seconds = ("-" if delta < timedelta(0) else ""), abs(int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    return f"{sign}{days}d{rest // 3600:02d}h"


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "-"


def run_list(args: argparse.Namespace) -> int:
    now = datetime.now(UTC)
    with db_session() as session:
        cases = management.cases_by_status(
            session, statuses=args.status, overdue_at=now if args.overdue else None
        )
        names = management.usernames(
            session, user_ids={c.assigned_radiologist_id for c in cases} - {None}
        )
    rows = [("CASE", "STATUS", "PRIORITY", "AGE", "DUE", "LEFT", "RADIOLOGIST", "MODALITY")]
    for case in cases:
        started = case.ready_at or case.submitted_at or case.created_at
        rows.append(
            (
                case.id,
                case.status.value,
                case.priority.value,
                _span(now - started),
                _when(case.due_at),
                _span(case.due_at - now)
                if case.due_at and case.status in rules.CLOCK_RUNNING
                else "-",
                names.get(case.assigned_radiologist_id or 0, "-"),
                case.modality or "-",
            )
        )
    print_table(rows)
    print(f"{len(cases)} case(s)")
    return 0


def run_show(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id)
        record_case_event(
            session,
            actor=CONSOLE_ACTOR,
            action="case.read",
            case_id=case.id,
        )
        session.commit()
        audit = case_events(session, case_id=case.id)
        names = management.usernames(
            session, user_ids={case.assigned_radiologist_id or 0, case.patient_user_id}
        )
        missing = service.missing(case, settings=settings())
        print(f"case {case.id}  {case.status.value}  {case.priority.value}")
        print(
            f"patient     {case.patient_given_names or ''} {case.patient_family_name or ''}"
            f" (user {names.get(case.patient_user_id, case.patient_user_id)})"
        )
        print(
            f"coverage    {case.coverage.value if case.coverage else '-'}"
            f"  owed {rules.from_cents(case.total_owed)}  paid {rules.from_cents(case.amount_paid)}"
        )
        referral = referrals.latest_referral(case)
        print(f"referral    {_when(referral.received_at) if referral else '-'}")
        print(
            f"images      {case.images_accepted_count}  {case.modality or '-'}"
            f"  {case.body_part or '-'}  {case.study_description or '-'}"
        )
        print(f"radiologist {names.get(case.assigned_radiologist_id or 0, '-')}")
        print(f"due         {_when(case.due_at)}")
        if case.rejection_reason:
            print(f"rejected    {case.rejection_reason}")
        for line in missing:
            print(f"missing     {line}")
        print("transitions:")
        for event in case.events:
            origin = event.from_status.value if event.from_status else "-"
            note = f"  ({event.note})" if event.note else ""
            print(
                f"  {_when(event.at)}  {origin} -> {event.to_status.value}"
                f"  by {event.actor_name or '-'}{note}"
            )
        print("audit events:")
        for event in audit:
            detail = f"  {event.detail}" if event.detail else ""
            print(
                f"  #{event.id}  {_when(event.at)}  {event.action}  {event.outcome.value}"
                f"  by {event.actor_name or '-'} ({event.actor_role or '-'}){detail}"
            )
    return 0


def run_payment(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        payment = billing.record_payment(
            session,
            case=case,
            amount=args.amount,
            method=args.method,
            reference=args.reference,
            actor=CONSOLE_ACTOR,
            settings=settings(),
        )
        session.commit()
        balance = rules.from_cents(max(case.total_owed - case.amount_paid, 0))
        print(
            f"payment recorded on {case.id}: receipt {payment.receipt_number}; "
            f"balance {balance}; case is {case.status.value}"
        )
    return 0


def run_referral(args: argparse.Namespace) -> int:
    config = settings()
    if args.file is not None and not args.file.is_file():
        raise CliError(f"no file {args.file}")
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        if args.file is None:
            referrals.attach_referral(
                session,
                case=case,
                sha256=None,
                size=None,
                source=ReferralSource.FAX,
                actor=CONSOLE_ACTOR,
            )
        else:
            referrals.receive_upload(
                session,
                case=case,
                path=args.file,
                blobs=blob_store(config),
                max_bytes=config.referral_max_bytes,
                actor=CONSOLE_ACTOR,
                source=ReferralSource.FAX,
            )
        session.commit()
        print(f"faxed referral recorded on {case.id}; case is {case.status.value}")
    return 0


def run_assign(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        radiologist = management.find_user(session, who=args.to)
        management.reassign_case(session, case=case, radiologist=radiologist, actor=CONSOLE_ACTOR)
        session.commit()
        print(f"{case.id} assigned to {radiologist.username}; case is {case.status.value}")
    return 0


def run_assign_ready(_args: argparse.Namespace) -> int:
    with db_session() as session:
        assigned = assign_ready_cases(session, actor=CONSOLE_ACTOR)
        session.commit()
        waiting = management.cases_by_status(session, statuses=[CaseStatus.READY])
    print(f"assigned {len(assigned)} case(s); {len(waiting)} still waiting")
    for case_id in assigned:
        print(f"  {case_id}")
    return 0


def run_reject(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        management.reject_case(session, case=case, reason=args.reason, actor=CONSOLE_ACTOR)
        session.commit()
        print(f"{case.id} rejected")
    return 0


def run_cancel(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        management.cancel_case(session, case=case, reason=args.reason, actor=CONSOLE_ACTOR)
        session.commit()
        print(f"{case.id} cancelled")
    return 0


def run_priority(args: argparse.Namespace) -> int:
    with db_session() as session:
        case = management.get_case(session, case_id=args.case_id, for_update=True)
        management.set_priority(session, case=case, priority=args.priority, actor=CONSOLE_ACTOR)
        session.commit()
        print(f"{case.id} is {case.priority.value}")
    return 0
