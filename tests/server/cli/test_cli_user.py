"""``readroom-server user …``: exit codes, one-line errors, and what each command changes."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.accounts import signin
from server.accounts.models import ApiToken, Role, User
from server.accounts.tokens import find_live_token, issue_token
from server.audit.models import AuditEvent
from server.audit.service import verify_chain
from server.cli import context
from server.cli.context import CliError
from server.cli.user import run_list
from server.config import Settings, get_settings
from server.problems import Unauthorized
from tests.conftest import fresh_postgres_database
from tests.server.cli.conftest import Cli, Run

STRONG = "correct horse battery staple 42"
NEW = "a quieter harbour at dawn 7"


def _add(cli: Cli, username: str, role: str = "patient", password: str = STRONG) -> Run:
    return cli(
        "user",
        "add",
        username,
        "--role",
        role,
        "--email",
        f"{username}@example.test",
        "--name",
        "Synthetic Tester",
        stdin=password + "\n",
    )


def _one_line_failure(run: Run) -> str:
    assert run.status == 2, run
    assert len(run.err_lines) == 1, run.err
    assert run.err.startswith("readroom-server")
    assert "Traceback" not in run.err
    return run.err_lines[0]


def _user(db: Session, username: str) -> User | None:
    user = db.scalars(select(User).where(User.username == username)).first()
    db.commit()
    return user


def test_add_patient(cli: Cli, db: Session) -> None:
    run = _add(cli, "pat01")
    assert run.status == 0, run
    assert "created patient pat01" in run.out
    assert "otpauth://" not in run.out
    user = _user(db, "pat01")
    assert user is not None
    assert user.role is Role.PATIENT
    assert user.password_hash.startswith("$argon2id$")
    event = db.scalars(select(AuditEvent)).one()
    assert (event.action, event.actor_role, event.client_addr, event.object_id) == (
        "user.add",
        "admin",
        "console",
        str(user.id),
    )
    db.commit()


@pytest.mark.parametrize("role", ["radiologist", "admin"])
def test_add_staff_prints_the_totp_uri_once(
    cli: Cli, db: Session, settings: Settings, role: str
) -> None:
    run = _add(cli, "staff01", role=role)
    assert run.status == 0, run
    uris = [line for line in run.out.splitlines() if line.startswith("otpauth://totp/")]
    assert len(uris) == 1
    secret = pyotp.parse_uri(uris[0]).secret
    user = _user(db, "staff01")
    assert user is not None
    assert user.totp_secret == secret
    assert user.totp_enabled
    code = pyotp.TOTP(secret).now()
    result = signin.login(
        db,
        username="staff01",
        password=STRONG,
        totp_code=code,
        settings=settings,
        client_addr=None,
    )
    assert result.user.role == role
    assert secret not in "".join(
        str(e.detail) for e in db.scalars(select(AuditEvent))
    )  # never in the audit log
    db.commit()


@pytest.mark.parametrize(
    ("password", "words"),
    [
        ("short", "at least 12 characters"),
        ("password123456", "too easy to guess"),
        ("synthetic battery staple", "must not contain your name"),
    ],
)
def test_add_refuses_weak_passwords_in_one_line(
    cli: Cli, db: Session, password: str, words: str
) -> None:
    line = _one_line_failure(_add(cli, "pat02", password=password))
    assert "password" in line
    assert words in line
    assert _user(db, "pat02") is None


def test_add_refuses_a_taken_username(cli: Cli) -> None:
    assert _add(cli, "pat03").status == 0
    assert "taken" in _one_line_failure(_add(cli, "pat03"))


def test_add_needs_a_password_on_stdin(cli: Cli) -> None:
    run = cli(
        "user",
        "add",
        "pat04",
        "--role",
        "patient",
        "--email",
        "p@example.test",
        "--name",
        "Some One",
    )
    assert "password expected on standard input" in _one_line_failure(run)


@pytest.mark.parametrize(
    "argv",
    [
        ("user", "add", "pat05", "--role", "wizard", "--email", "a@example.test", "--name", "A"),
        ("user", "add", "pat05", "--role", "patient", "--name", "Some One"),
        ("user", "add", "pat05", "--password", STRONG),
        ("user", "frobnicate"),
        ("user",),
    ],
)
def test_wrong_usage_is_one_line_and_status_2(cli: Cli, argv: tuple[str, ...]) -> None:
    _one_line_failure(cli(*argv, stdin=STRONG + "\n"))


def test_list_prints_a_table(cli: Cli) -> None:
    assert _add(cli, "pat06").status == 0
    assert _add(cli, "rad06", role="radiologist").status == 0
    run = cli("user", "list")
    assert run.status == 0, run
    header, *rows = run.out.splitlines()
    assert header.split() == ["ID", "USERNAME", "ROLE", "STATUS", "TOTP", "NAME", "EMAIL"]
    assert [r.split()[1:5] for r in rows] == [
        ["pat06", "patient", "active", "off"],
        ["rad06", "radiologist", "active", "on"],
    ]
    only = cli("user", "list", "--role", "radiologist").out.splitlines()
    assert len(only) == 2


def test_disable_ends_sessions(cli: Cli, db: Session, settings: Settings) -> None:
    assert _add(cli, "pat07").status == 0
    user = _user(db, "pat07")
    assert user is not None
    token = issue_token(db, user=user, settings=settings)
    db.commit()
    run = cli("user", "disable", "pat07")
    assert run.status == 0, run
    db.expire_all()
    assert find_live_token(db, token=token, settings=settings) is None
    assert db.scalars(select(ApiToken.revoked_at)).one() is not None
    db.commit()
    with pytest.raises(Unauthorized):
        signin.login(
            db,
            username="pat07",
            password=STRONG,
            totp_code=None,
            settings=settings,
            client_addr=None,
        )


def test_disable_unknown_user(cli: Cli) -> None:
    assert _one_line_failure(cli("user", "disable", "nobody")) == (
        "readroom-server: no user named 'nobody'"
    )


def test_reset_password(cli: Cli, db: Session, settings: Settings) -> None:
    assert _add(cli, "pat08").status == 0
    weak = cli("user", "reset-password", "pat08", stdin="short\n")
    assert "at least 12 characters" in _one_line_failure(weak)
    run = cli("user", "reset-password", "pat08", stdin=NEW + "\n")
    assert run.status == 0, run
    result = signin.login(
        db, username="pat08", password=NEW, totp_code=None, settings=settings, client_addr=None
    )
    assert result.user.username == "pat08"
    assert "no user named" in _one_line_failure(
        cli("user", "reset-password", "nobody", stdin=NEW + "\n")
    )
    actions = db.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["user.add", "user.reset_password", "auth.login"]
    assert verify_chain(db).ok
    db.commit()


def test_installed_script_fails_in_one_line(cli_env: dict[str, str], tmp_path: Path) -> None:
    script = Path(sys.executable).with_name("readroom-server")
    env = {**os.environ, **cli_env}
    done = subprocess.run(
        [str(script), "user", "disable", "nobody"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == ["readroom-server: no user named 'nobody'"]
    usage = subprocess.run(
        [str(script), "user", "add"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert usage.returncode == 2
    assert len(usage.stderr.splitlines()) == 1


@pytest.fixture(params=["sqlite", "postgresql"])
def schemaless_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database without tables, as before ``readroom-server init``."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
    else:
        yield from fresh_postgres_database()


def test_a_database_without_schema_is_one_line(
    schemaless_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("READROOM_DATABASE_URL", schemaless_url)
    monkeypatch.setenv("READROOM_DATA_DIR", str(tmp_path))
    get_settings.cache_clear()
    context.engine.cache_clear()
    try:
        with pytest.raises(CliError, match="run 'readroom-server init' first"):
            run_list(argparse.Namespace(role=None))
    finally:
        context.engine().dispose()
        get_settings.cache_clear()
        context.engine.cache_clear()
